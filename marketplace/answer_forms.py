"""A job's answer form: the field definitions of the form builder, the placeholders of prompts and HTML templates,
and turning both into what a worker sees.

Form builder fields are stored on the job as a list of plain dicts:
`{"name", "kind", "label", "help_text", "required", "choices", "min", "max"}`. What differs between kinds of field
is in `marketplace.answer_fields`; this module asks its registry.
"""

import html
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

from django import forms
from django.core import validators

from core.errors import InvalidInput
from core.text import render_markdown, sanitize_html
from marketplace.answer_fields import FIELD_KINDS

MAX_FIELDS = 50
ANSWER_FORM_PREFIX = "answer"  # the worker's form's fields are posted as answer-<name>
FIELD_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

PROMPT_PLACEHOLDER_RE = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")
HTML_PLACEHOLDER_RE = re.compile(r"\$\{([^{}]+)\}")
# A DNS name of letters, digits and hyphens in dot-separated labels (IDNs in their xn-- form), or an IPv4 address.
ASSET_HOST_RE = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")

MAX_HTML_ANSWER_BYTES = 64 * 1024
EMPTY_ANSWER_MESSAGE = "The answer is empty: fill in the task's form before submitting."
# A form with no fixed field list (an HTMLQuestion, an external study): its fields become the answer's columns.
MAX_FREE_ANSWER_FIELDS = 200
MAX_FREE_ANSWER_NAME_CHARS = 200
# What such a form carries that is not an answer: the assignment id, which names the assignment being submitted.
# Mechanical Turk keeps every other field, the hitId and workerId a study echoes back included, so psiTurk's stock
# completion form (the three ids and nothing else) submits a non-empty answer, as it does there.
MTURK_CONVENTION_FIELDS = frozenset({"assignmentId"})
MAX_ASSET_HOSTS = 10
# Each use of a placeholder repeats a task value of up to 10,000 characters on every view of the task: bound the
# page a form can make. A prompt's filled HTML is sanitized again per view, so it gets fewer (20 uses of 10,000
# characters: about 30 ms, benchmarks/markdown.py); an HTML template is only substituted (100 uses: 1 MB).
MAX_PROMPT_PLACEHOLDER_USES = 20
MAX_TEMPLATE_PLACEHOLDER_USES = 100
# JSON may escape any code unit, so `"\u0000"` and a lone `"\ud800"` parse into text that PostgreSQL cannot hold
# (NUL) or that has no UTF-8 form at all: a 500 either way. A valid escaped pair is joined into one character.
UNSTORABLE_CHARACTER_RE = re.compile("[\x00\ud800-\udfff]")


def clean_form_fields(raw_fields: list[dict]) -> list[dict]:
    """Check and normalise form builder fields; raise InvalidInput naming the field at fault."""
    if not raw_fields:
        raise InvalidInput("Add at least one answer field.")
    if len(raw_fields) > MAX_FIELDS:
        raise InvalidInput(f"A form can have at most {MAX_FIELDS} fields.")
    cleaned = []
    seen_names: set[str] = set()
    for number, raw in enumerate(raw_fields, start=1):
        field = _clean_field(raw, number)
        if field["name"] in seen_names:
            raise InvalidInput(f"Field {number}: the name “{field['name']}” is used twice.")
        seen_names.add(field["name"])
        cleaned.append(field)
    return cleaned


def _clean_field(raw: dict, number: int) -> dict:
    name = str(raw.get("name", "")).strip()
    kind = str(raw.get("kind", "")).strip()
    label = str(raw.get("label", "")).strip()
    if not FIELD_NAME_RE.match(name):
        raise InvalidInput(
            f"Field {number}: the name must start with a lowercase letter and use only a–z, 0–9 and _ "
            "(at most 40 characters)."
        )
    if kind not in FIELD_KINDS:
        raise InvalidInput(f"Field {number}: choose a kind of field.")
    if not label or len(label) > 300:
        raise InvalidInput(f"Field {number}: a label of 1 to 300 characters is required.")
    field = {
        "name": name,
        "kind": kind,
        "label": label,
        "help_text": str(raw.get("help_text") or "").strip()[:500],
        "required": bool(raw.get("required")),
        "choices": [],
        "min": None,
        "max": None,
    }
    field.update(FIELD_KINDS[kind].clean_definition(raw, number))
    return field


def check_placeholder_uses(text: str, *, html_template: bool) -> None:
    pattern, limit = (
        (HTML_PLACEHOLDER_RE, MAX_TEMPLATE_PLACEHOLDER_USES)
        if html_template
        else (PROMPT_PLACEHOLDER_RE, MAX_PROMPT_PLACEHOLDER_USES)
    )
    uses = len(pattern.findall(text))
    if uses > limit:
        raise InvalidInput(
            f"The form uses placeholders {uses:,} times; at most {limit} uses are allowed, since each one repeats a "
            "task's value on the worker's page."
        )


def prompt_placeholders(prompt: str) -> list[str]:
    return _unique(PROMPT_PLACEHOLDER_RE.findall(prompt))


def html_placeholders(template: str) -> list[str]:
    return _unique(name.strip() for name in HTML_PLACEHOLDER_RE.findall(template))


def _unique(names) -> list[str]:
    return list(dict.fromkeys(names))


class _InputNameCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"input", "select", "textarea"}:
            name = dict(attrs).get("name")
            if name and name not in self.names:
                self.names.append(name)


def html_answer_field_names(template: str) -> list[str]:
    """The names of the form controls in an HTML template: the Answer.* columns of its results. Raises InvalidInput
    on markup the standard library's HTML parser cannot get past."""
    collector = _InputNameCollector()
    try:
        collector.feed(template)
        collector.close()
    except AssertionError as error:
        # Python's HTMLParser (3.11) gives up on some malformed declarations ("<![![") with an AssertionError.
        raise InvalidInput(f"The HTML template has markup that cannot be read: {error}.") from None
    return collector.names


# When a prompt is saved, each placeholder becomes an inert mark: letters and digits only, so Markdown, URL
# normalisation and nh3 keep it as it is wherever it stands (text, code, a link's URL, an image's alt). The column
# name is hex-encoded since a column may be named with any character. The requester's own "bwslot" becomes the
# mark of the empty name, which turns back into the word: text they type never turns into a task value.
PLACEHOLDER_MARK_PREFIX = "bwslot"
_PROMPT_SOURCE_RE = re.compile(PROMPT_PLACEHOLDER_RE.pattern + "|" + PLACEHOLDER_MARK_PREFIX)
_PLACEHOLDER_MARK_RE = re.compile(PLACEHOLDER_MARK_PREFIX + r"((?:[0-9a-f]{2})*)x")


def _placeholder_mark(name: str) -> str:
    return f"{PLACEHOLDER_MARK_PREFIX}{name.encode().hex()}x"


def render_prompt_html(prompt: str) -> str:
    """The prompt's Markdown as safe HTML with a mark in place of each `{{placeholder}}`, to store when the prompt
    is saved; `fill_prompt` puts a task's values in per view without rendering Markdown again."""

    def mark(match: re.Match) -> str:
        return _placeholder_mark(match.group(1) or "")

    marks = frozenset(_placeholder_mark(name) for name in prompt_placeholders(prompt))
    # A mark standing for a whole URL scheme ("{{scheme}}://…") is judged by nh3 once filled in, per view.
    return render_markdown(_PROMPT_SOURCE_RE.sub(mark, prompt), extra_url_schemes=marks)


def fill_prompt(prompt_html: str, task_input: dict) -> str:
    """A stored prompt (`render_prompt_html`) with the task's values in place of its marks, as safe HTML.

    A value is text, never Markdown or HTML: it is escaped, and the result sanitized again, so a value that
    lands in a link's URL cannot make it a javascript: link. Linear in the HTML and the values.
    """

    def substitute(match: re.Match) -> str:
        try:
            name = bytes.fromhex(match.group(1)).decode()
        except UnicodeDecodeError:
            return ""
        if not name:
            return PLACEHOLDER_MARK_PREFIX
        return html.escape(str(task_input.get(name, "")), quote=True)

    return sanitize_html(_PLACEHOLDER_MARK_RE.sub(substitute, prompt_html))


def clean_asset_hosts(raw_hosts: list[str]) -> list[str]:
    """The https origins an HTML template may use besides this site, as `https://host[:port]`, lowercased and
    without duplicates. Raises InvalidInput naming the entry at fault. No wildcards: workers are shown the list."""
    hosts: list[str] = []
    for raw in raw_hosts:
        text = str(raw).strip().rstrip("/")
        if not text:
            continue
        origin = _https_origin(text)
        if origin is None:
            raise InvalidInput(
                f"“{text[:100]}” is not an https origin: write it as https://host or https://host:port, with no path, "
                "query, user name or wildcard."
            )
        if origin not in hosts:
            hosts.append(origin)
    if len(hosts) > MAX_ASSET_HOSTS:
        raise InvalidInput(f"At most {MAX_ASSET_HOSTS} asset hosts.")
    return hosts


def _https_origin(text: str) -> str | None:
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname or ""
    if parts.scheme.lower() != "https" or parts.path or parts.query or parts.fragment or parts.username:
        return None
    if not ASSET_HOST_RE.fullmatch(host):
        return None
    return f"https://{host}" + (f":{port}" if port and port != 443 else "")


def render_html_template(template: str, task_input: dict) -> str:
    """The HTML template with `${column}` replaced by the HTML-escaped input values (it runs sandboxed)."""

    def substitute(match: re.Match) -> str:
        return html.escape(str(task_input.get(match.group(1).strip(), "")), quote=True)

    return HTML_PLACEHOLDER_RE.sub(substitute, template)


class AnswerForm(forms.Form):
    """The worker's answer form, built from the job's form builder fields."""

    def __init__(self, form_fields: list[dict], *args, **kwargs) -> None:
        kwargs.setdefault("prefix", ANSWER_FORM_PREFIX)
        super().__init__(*args, **kwargs)
        self.kinds = {field["name"]: FIELD_KINDS[field["kind"]] for field in form_fields}
        for field in form_fields:
            common = {"label": field["label"], "help_text": field.get("help_text", ""), "required": field["required"]}
            self.fields[field["name"]] = form_field = self.kinds[field["name"]].form_field(field, common)
            _question_form_limits(form_field, field)

    def answer(self) -> dict:
        """The answer to store, from a valid form: each kind's JSON value (numbers as exact decimal text)."""
        return {name: self.kinds[name].to_json(value) for name, value in self.cleaned_data.items()}


def _question_form_limits(form_field: forms.Field, field: dict) -> None:
    """What a Mechanical Turk QuestionForm's field may hold beyond a builder field's (mturk.questions; the builder's
    own fields never do): its DefaultText, shown filled in and taken as the answer if the worker leaves it; a text's
    length bounds; how many choices a multiple choice takes."""
    if field.get("initial"):
        form_field.initial = field["initial"]
    if field.get("min_length"):
        form_field.validators.append(validators.MinLengthValidator(field["min_length"]))
        form_field.widget.attrs["minlength"] = str(field["min_length"])
    if field.get("max_length"):
        form_field.validators.append(validators.MaxLengthValidator(field["max_length"]))
        form_field.widget.attrs["maxlength"] = str(field["max_length"])
    if field.get("min_choices") or field.get("max_choices"):
        form_field.validators.append(_choice_count_validator(field.get("min_choices"), field.get("max_choices")))


def _choice_count_validator(minimum: int | None, maximum: int | None):
    def check(value: list) -> None:
        if minimum and len(value) < minimum:
            raise forms.ValidationError(f"Choose at least {minimum}.")
        if maximum and len(value) > maximum:
            raise forms.ValidationError(f"Choose at most {maximum}.")

    return check


def answer_form_data(form_fields: list[dict], answer: dict) -> dict:
    """A JSON answer (the API's) as the web form would post it, so both run the very same validation. Keys that
    are not fields of the form are left out, as the form would ignore them."""
    data = {}
    for field in form_fields:
        posted = FIELD_KINDS[field["kind"]].form_data(answer.get(field["name"]))
        if posted is not None:
            data[f"{ANSWER_FORM_PREFIX}-{field['name']}"] = posted
    return data


def clean_html_answer(raw_answer: object, *, field_names: list[str]) -> dict:
    """An HTML template's answer: text (or lists of text) for the template's own named fields only.

    Keys the template does not have are dropped, so a script cannot stuff the answer; an answer with none of the
    template's fields is refused.
    """
    if not isinstance(raw_answer, dict):
        raise InvalidInput(EMPTY_ANSWER_MESSAGE)
    return _clean_text_answer(raw_answer, names=field_names)


def clean_free_answer(raw_answer: object) -> dict:
    """The answer of a form with no fixed list of fields: a Mechanical Turk HTMLQuestion's, or an external study's
    (the fields its externalSubmit POST carried). Every named text field is kept but the assignmentId, as Mechanical
    Turk keeps them; the same rules as an HTML
    template's answer otherwise (text only, 64 KB in all, no unstorable character, at least one field)."""
    if not isinstance(raw_answer, dict):
        raise InvalidInput(EMPTY_ANSWER_MESSAGE)
    names = [name for name in raw_answer if isinstance(name, str) and name and name not in MTURK_CONVENTION_FIELDS]
    if len(names) > MAX_FREE_ANSWER_FIELDS:
        raise InvalidInput(f"The answer has {len(names):,} fields; at most {MAX_FREE_ANSWER_FIELDS} are accepted.")
    too_long = next((name for name in names if len(name) > MAX_FREE_ANSWER_NAME_CHARS), None)
    if too_long is not None:
        raise InvalidInput(
            f"The answer field name “{too_long[:40]}…” is longer than {MAX_FREE_ANSWER_NAME_CHARS} characters."
        )
    return _clean_text_answer(raw_answer, names=names)


def _clean_text_answer(raw_answer: dict, *, names: list[str]) -> dict:
    """The fields `names` of a posted answer, each text or a list of texts; refused as a whole when a value is not
    text, a character cannot be stored, nothing is left, or the text is over MAX_HTML_ANSWER_BYTES."""
    answer: dict[str, str | list[str]] = {}
    size = 0
    for name in names:
        if name not in raw_answer:
            continue
        value = raw_answer[name]
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            size += sum(len(item) for item in value)
        elif isinstance(value, str):
            size += len(value)
        else:
            raise InvalidInput(f"The answer field “{name}” must be text.")
        answer[name] = value
    # Keys too, even those dropped below: the answer is refused as a whole, like the API refuses such a body.
    texts = [str(key) for key in raw_answer]
    for value in answer.values():
        texts.extend(value if isinstance(value, list) else [value])
    if any(UNSTORABLE_CHARACTER_RE.search(text) for text in texts):
        raise InvalidInput(
            "The answer contains a character that cannot be saved (NUL, or half of a UTF-16 surrogate pair). "
            "Remove it and submit again."
        )
    if not answer:
        raise InvalidInput(EMPTY_ANSWER_MESSAGE)
    if size > MAX_HTML_ANSWER_BYTES:
        raise InvalidInput("The answer is too large (at most 64 KB of text).")
    return answer
