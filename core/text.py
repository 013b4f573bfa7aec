"""Requester-written text shown to workers: Markdown rendered, then sanitized with nh3.

The services render a job's Markdown once, when it is saved, and store the HTML beside the source; pages only
show the stored HTML. The renderer is markdown-it-py, whose time grows linearly with its input (Python-Markdown's
grows quadratically on inputs like "[" * 50_000, and it once ran per page view on public pages).
"""

import html
import re

import nh3
from markdown_it import MarkdownIt

MAX_DESCRIPTION_CHARS = 5_000
MAX_INSTRUCTIONS_CHARS = 50_000
MAX_PROMPT_CHARS = 20_000
EXCERPT_CHARS = 300

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table", "tbody", "td",
    "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"align"},
    "th": {"align"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})

# Raw HTML stays allowed, as with Python-Markdown: requesters use it, and nh3 removes whatever is unsafe.
_markdown = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def _cell_open(self, tokens, idx, options, env) -> str:
    # Column alignment comes as a style attribute, which the sanitizer drops; `align` is allowed.
    token = tokens[idx]
    style = token.attrs.pop("style", None)
    if isinstance(style, str) and style.startswith("text-align:"):
        token.attrSet("align", style.removeprefix("text-align:"))
    return self.renderToken(tokens, idx, options, env)


_markdown.add_render_rule("th_open", _cell_open)
_markdown.add_render_rule("td_open", _cell_open)


def render_markdown(text: str, *, extra_url_schemes: frozenset[str] = frozenset()) -> str:
    """Safe HTML for Markdown written by a requester: no scripts, no event handlers, no style.

    Call it when the text is saved, never per page view: it is linear in the text, but pure Python.
    """
    return sanitize_html(
        _markdown.render(text), url_schemes=URL_SCHEMES | extra_url_schemes, kept_image_marks=extra_url_schemes
    )


def sanitize_html(
    markup: str, *, url_schemes: frozenset[str] = URL_SCHEMES, kept_image_marks: frozenset[str] = frozenset()
) -> str:
    """The allowed tags and attributes of `markup`, links only to `url_schemes`, and images only from absolute https
    addresses (nh3: linear, in Rust). An image address holding one of `kept_image_marks` (a prompt's placeholders,
    filled in per view and sanitized again then) is kept for now."""

    def images_only_over_https(tag: str, attribute: str, value: str) -> str | None:
        # An image loads with the page, for every visitor of the board: `<img src=x>` used to load whatever this
        # site, or a plain-http host, answered for it.
        if tag != "img" or attribute != "src" or value.strip().lower().startswith("https://"):
            return value
        return value if any(mark in value for mark in kept_image_marks) else None

    return nh3.clean(
        markup,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=images_only_over_https,
        url_schemes=set(url_schemes),
        link_rel="noopener noreferrer nofollow",
    )


# nh3 escapes "<" and ">" everywhere but in tags, so a tag is "<" up to the next ">".
_TAG_RE = re.compile(r"<(/?)([a-z0-9]+)[^>]*>")
_INLINE_TAGS = {"a", "abbr", "b", "code", "del", "em", "i", "kbd", "s", "strong", "sub", "sup"}
_SPACES_RE = re.compile(r"\s+")


def html_excerpt(sanitized_html: str, *, limit: int = EXCERPT_CHARS) -> str:
    """The text that `sanitized_html` shows, as plain text of at most `limit` characters, cut at a word boundary
    with an ellipsis when it is longer. Cut by characters, so a wall of text without spaces stays short too."""

    def tag_to_separator(match: re.Match) -> str:
        return "" if match.group(2) in _INLINE_TAGS else " "

    text = html.unescape(_TAG_RE.sub(tag_to_separator, sanitized_html))
    text = _SPACES_RE.sub(" ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    last_space = cut.rfind(" ")
    if last_space > limit // 2:
        cut = cut[:last_space]
    return cut.rstrip(" ,;:.-–—") + "…"
