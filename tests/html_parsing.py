"""HTML read the way a browser reads it: the tags it opens and the attributes on them."""

from html.parser import HTMLParser


class _StartTags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, attrs))


def _start_tags(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = _StartTags()
    parser.feed(html)
    return parser.found


def start_tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    """Every start tag, in order, with its attributes."""
    return [(tag, dict(attrs)) for tag, attrs in _start_tags(html)]


def tags_and_attributes(html: str) -> list[tuple[str, str, str | None]]:
    """(tag, attribute, value) for every attribute a browser would see."""
    return [(tag, name, value) for tag, attrs in _start_tags(html) for name, value in attrs]


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in {"script", "style", "template"}:
            self.skipping += 1

    def handle_endtag(self, tag):
        if tag in {"script", "style", "template"} and self.skipping:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def visible_text(html: str) -> str:
    """The words a person reads on the page, with runs of whitespace (and tag boundaries) as one space."""
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())
