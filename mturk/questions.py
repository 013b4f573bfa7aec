"""Mechanical Turk's question XML in, its answer XML out.

`parse_question` reads the `Question` parameter of CreateHIT / CreateHITWithHITType (an HTMLQuestion, an
ExternalQuestion or a QuestionForm) into the dict a task keeps in `Task.question`; `answers_xml` writes an
assignment's answer as the QuestionFormAnswers document MTurk returns in `Assignment.Answer`.

The XML comes from whoever holds a credential, so it is parsed with defusedxml (no DTD, no entity, no external
reference: no billion laughs, no file read, no outbound request) after a size check, and only the elements listed
here are accepted: anything else is refused by name rather than silently dropped, so a requester never believes a
constraint or a piece of content is in force when Boltwork does not show or enforce it.
"""

import ipaddress
import re
from urllib.parse import urlsplit
from xml.etree import ElementTree

import httpx
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as defused_fromstring

from core.errors import InvalidInput
from core.safe_http import is_insecure_host_allowed
from marketplace import external_studies
from marketplace.answer_fields import MAX_CHOICE_CHARS, MAX_LONG_TEXT, MAX_SHORT_TEXT
from marketplace.answer_forms import FIELD_NAME_RE, MTURK_CONVENTION_FIELDS, clean_form_fields

# MTurk's limit on the Question parameter. Checked on the UTF-8 bytes before any parsing.
MAX_QUESTION_BYTES = 128 * 1024
MAX_EXTERNAL_URL_CHARS = 2000
MAX_LABEL_CHARS = 300  # what the form builder accepts for a field's label (answer_forms._clean_field)
MAX_HELP_TEXT_CHARS = 500  # ... and keeps of its help text

# What a QuestionForm's field holds beyond a form builder field's (answer_forms.AnswerForm honours each): DefaultText,
# a FreeTextAnswer's Length, a SelectionAnswer's Min/MaxSelectionCount.
QUESTION_FORM_FIELD_KEYS = ("initial", "min_length", "max_length", "min_choices", "max_choices")

_SCHEMAS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/"
# The schema versions MTurk documents for each root element (its "Schema Locations" page).
NAMESPACES = {
    "HTMLQuestion": (f"{_SCHEMAS}2011-11-11/HTMLQuestion.xsd",),
    "ExternalQuestion": (f"{_SCHEMAS}2006-07-14/ExternalQuestion.xsd",),
    "QuestionForm": (f"{_SCHEMAS}2005-10-01/QuestionForm.xsd", f"{_SCHEMAS}2017-11-06/QuestionForm.xsd"),
}
ANSWERS_NAMESPACE = f"{_SCHEMAS}2005-10-01/QuestionFormAnswers.xsd"


# SelectionAnswer styles that let a worker pick several (MTurk: "allows multiple selections").
_MULTIPLE_STYLES = frozenset({"checkbox", "list", "multichooser", "combobox"})
_STYLES = _MULTIPLE_STYLES | {"radiobutton", "dropdown"}
_CONTENT_ELEMENTS = frozenset({"Title", "Text", "List"})
# Characters XML 1.0 has no way to write (C0 controls but tab, newline and carriage return; lone surrogates; FFFE/F).
_NOT_XML_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

UNSUPPORTED_MESSAGE = (
    "QuestionForm element {element} is not supported by Boltwork: use FreeTextAnswer or SelectionAnswer, or an "
    "HTMLQuestion"
)


def parse_question(xml: str) -> dict:
    """The question a HIT carries, from MTurk's Question XML. One of

    - `{"kind": "html", "html": str, "frame_height": int}` (an HTMLQuestion; a FrameHeight of 0 means "fit");
    - `{"kind": "external", "url": str, "frame_height": int}` (an ExternalQuestion);
    - `{"kind": "form", "overview": str, "fields": [builder field dicts], "identifiers": {field name:
      QuestionIdentifier}, "selections": {field name: {choice text: SelectionIdentifier}}}` (a QuestionForm).

    A QuestionForm's fields are the form builder's, checked by the builder's own validation, and may also hold what
    a builder field cannot (QUESTION_FORM_FIELD_KEYS: a DefaultText as "initial", a Length as "min_length" and
    "max_length", selection counts as "min_choices" and "max_choices"), which AnswerForm enforces. `identifiers`
    and `selections` are what `answers_xml` needs to name the answers as the requester did, since a field name and
    a choice follow the builder's rules.

    Raises InvalidInput with a message a requester can act on; nothing is stored by this function.
    """
    if not isinstance(xml, str) or not xml.strip():
        raise InvalidInput("The Question is empty: give an HTMLQuestion, an ExternalQuestion or a QuestionForm.")
    if len(xml.encode("utf-8", "surrogatepass")) > MAX_QUESTION_BYTES:
        raise InvalidInput(f"The Question is larger than {MAX_QUESTION_BYTES // 1024} KB, MTurk's limit.")
    # Scripts often build the XML in a triple-quoted string that starts with a newline: an XML declaration after
    # it would not be at the start of the document, which parsers refuse. Leading space and a BOM mean nothing.
    root = _parse_xml(xml.lstrip("\ufeff \t\r\n"))
    namespace, _, name = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", root.tag)
    if name not in NAMESPACES:
        raise InvalidInput(
            f"The Question's root element is {name}: it must be HTMLQuestion, ExternalQuestion or QuestionForm."
        )
    if namespace not in NAMESPACES[name]:
        raise InvalidInput(
            f"The {name} element must be in the namespace {NAMESPACES[name][0]}"
            + (f", not {namespace}." if namespace else " (an xmlns attribute on it).")
        )
    _check_one_namespace(root, namespace)
    if name == "HTMLQuestion":
        return _html_question(root, namespace)
    if name == "ExternalQuestion":
        return _external_question(root, namespace)
    return _question_form(root, namespace)


def _parse_xml(xml: str) -> ElementTree.Element:
    try:
        return defused_fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise InvalidInput(
            "The Question may not contain a DOCTYPE, entity declarations or external references."
        ) from None
    except ElementTree.ParseError as error:
        raise InvalidInput(f"The Question is not well-formed XML ({error}).") from None
    except ValueError:
        # An encoding declaration that contradicts the text, or characters XML cannot hold.
        raise InvalidInput("The Question is not well-formed XML.") from None


def _check_one_namespace(root: ElementTree.Element, namespace: str) -> None:
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue  # a comment or processing instruction (not kept by the default parser, but be safe)
        if not element.tag.startswith("{" + namespace + "}"):
            raise InvalidInput(f"The element {_local(element)} is not in the namespace of the {_local(root)}.")


def _local(element: ElementTree.Element) -> str:
    return element.tag.rpartition("}")[2]


def _children(element: ElementTree.Element) -> list[ElementTree.Element]:
    return [child for child in element if isinstance(child, ElementTree.Element) and isinstance(child.tag, str)]


def _text(element: ElementTree.Element | None) -> str:
    return "".join(element.itertext()).strip() if element is not None else ""


def _only_children(element: ElementTree.Element, allowed: set[str] | frozenset[str], *, where: str) -> dict:
    """The element's children by local name; refuses an unknown or repeated one, naming it."""
    found: dict[str, ElementTree.Element] = {}
    for child in _children(element):
        name = _local(child)
        if name not in allowed:
            raise InvalidInput(f"{where} cannot contain a {name} element.")
        if name in found:
            raise InvalidInput(f"{where} has more than one {name} element.")
        found[name] = child
    return found


def _frame_height(parts: dict, *, where: str) -> int:
    if "FrameHeight" not in parts:
        raise InvalidInput(f"The {where} needs a FrameHeight (a number of pixels, or 0 to fit the content).")
    text = _text(parts["FrameHeight"])
    if not text.isascii() or not text.isdigit() or int(text) > 100_000:
        raise InvalidInput(f"The {where}'s FrameHeight must be a whole number of pixels (0 to fit the content).")
    return int(text)


def _html_question(root: ElementTree.Element, namespace: str) -> dict:
    parts = _only_children(root, {"HTMLContent", "FrameHeight"}, where="An HTMLQuestion")
    html = _text(parts.get("HTMLContent"))
    if not html:
        raise InvalidInput("The HTMLQuestion needs an HTMLContent with the HTML of the form (in a CDATA section).")
    return {"kind": "html", "html": html, "frame_height": _frame_height(parts, where="HTMLQuestion")}


def _external_question(root: ElementTree.Element, namespace: str) -> dict:
    parts = _only_children(root, {"ExternalURL", "FrameHeight"}, where="An ExternalQuestion")
    url = _text(parts.get("ExternalURL"))
    if not url:
        raise InvalidInput("The ExternalQuestion needs an ExternalURL: the https address of your study.")
    frame_height = _frame_height(parts, where="ExternalQuestion")
    return {"kind": "external", "url": clean_external_url(url), "frame_height": frame_height}


def clean_external_url(url: str) -> str:
    """An ExternalURL as MTurk accepts it: https (plain http only for a loopback host, or a `host:port` of
    settings.LNURL_ALLOWED_INSECURE_HOSTS, for development and tests), no user name or password, at most 2,000
    characters, and not on this site (marketplace.external_studies.check_study_url). Raises InvalidInput."""
    if len(url) > MAX_EXTERNAL_URL_CHARS:
        raise InvalidInput(f"The ExternalURL is longer than {MAX_EXTERNAL_URL_CHARS:,} characters.")
    if any(character.isspace() for character in url):
        raise InvalidInput("The ExternalURL contains spaces: encode them as %20.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError on a port that is not a number
        parsed = httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        raise InvalidInput(f"The ExternalURL “{url[:100]}” is not a valid web address.") from None
    scheme = parts.scheme.lower()
    if scheme not in {"https", "http"} or not parts.hostname:
        raise InvalidInput("The ExternalURL must be an https:// address of your study.")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("The ExternalURL may not contain a user name or password.")
    loopback_http = scheme == "http" and _is_loopback(parts.hostname)
    if scheme == "http" and not (loopback_http or is_insecure_host_allowed(parsed)):
        raise InvalidInput("The ExternalURL must use https, as MTurk requires.")
    # The study is framed in its own origin (web.task_frames), which must never be this site's: the same check as
    # an external study's URL, which also keeps the host to what a Content-Security-Policy can name.
    if loopback_http:
        if external_studies.origin_of(url) == external_studies.site_origin():
            raise InvalidInput("The ExternalURL must be on your own site, not on Boltwork.")
    else:
        external_studies.check_study_url(url)
    return url


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _question_form(root: ElementTree.Element, namespace: str) -> dict:
    overview: list[str] = []
    raw_fields: list[dict] = []
    identifiers: dict[str, str] = {}
    selections: dict[str, dict[str, str]] = {}
    for child in _children(root):
        name = _local(child)
        if name == "Overview":
            text = _content_text(child)
            if text:
                overview.append(text)
        elif name == "Question":
            field, identifier, choice_ids = _question(child, number=len(raw_fields) + 1)
            field["name"] = _field_name(identifier, taken=identifiers)
            identifiers[field["name"]] = identifier
            if choice_ids is not None:
                selections[field["name"]] = choice_ids
            raw_fields.append(field)
        else:
            raise InvalidInput(UNSUPPORTED_MESSAGE.format(element=name))
    if not raw_fields:
        raise InvalidInput("The QuestionForm has no Question: add at least one.")
    # The form builder's own checks (kinds, labels, choices, number bounds, at most 50 fields).
    fields = clean_form_fields(raw_fields)
    for cleaned, raw in zip(fields, raw_fields, strict=True):
        cleaned.update({key: raw[key] for key in QUESTION_FORM_FIELD_KEYS if raw.get(key) is not None})
    return {
        "kind": "form",
        "overview": "\n\n".join(overview),
        "fields": fields,
        "identifiers": identifiers,
        "selections": selections,
    }


def _content_text(element: ElementTree.Element) -> str:
    """An Overview's or a QuestionContent's Title, Text and List elements as plain text, one paragraph each; any
    other content (Binary, EmbeddedBinary, FormattedContent, Application) is refused."""
    paragraphs = []
    for child in _children(element):
        name = _local(child)
        if name not in _CONTENT_ELEMENTS:
            raise InvalidInput(UNSUPPORTED_MESSAGE.format(element=name))
        if name == "List":
            items = []
            for item in _children(child):
                if _local(item) != "ListItem":
                    raise InvalidInput(UNSUPPORTED_MESSAGE.format(element=_local(item)))
                items.append(f"• {_text(item)}")
            paragraphs.append("\n".join(items))
        else:
            paragraphs.append(" ".join(_text(child).split()))
    return "\n\n".join(paragraph for paragraph in paragraphs if paragraph)


def _question(element: ElementTree.Element, *, number: int) -> tuple[dict, str, dict[str, str] | None]:
    """One Question as a raw builder field (without its name), its QuestionIdentifier, and for a selection the
    SelectionIdentifier of each choice."""
    where = f"Question {number}"
    parts = _only_children(
        element,
        {"QuestionIdentifier", "DisplayName", "IsRequired", "QuestionContent", "AnswerSpecification"},
        where=where,
    )
    identifier = _text(parts.get("QuestionIdentifier"))
    if not identifier:
        raise InvalidInput(f"{where} needs a QuestionIdentifier.")
    where = f"Question “{identifier[:100]}”"
    if "AnswerSpecification" not in parts:
        raise InvalidInput(f"{where} needs an AnswerSpecification.")
    required = _boolean(parts.get("IsRequired"), where=where)  # MTurk's default: not required
    content = _content_text(parts["QuestionContent"]) if "QuestionContent" in parts else ""
    display_name = " ".join(_text(parts.get("DisplayName")).split())
    label = display_name or (content if len(content) <= MAX_LABEL_CHARS else "") or identifier
    help_text = content if content != label else ""
    if len(label) > MAX_LABEL_CHARS:
        raise InvalidInput(f"{where}: the DisplayName is longer than {MAX_LABEL_CHARS} characters.")
    if len(help_text) > MAX_HELP_TEXT_CHARS:
        raise InvalidInput(
            f"{where}: the QuestionContent is longer than {MAX_HELP_TEXT_CHARS} characters, the most Boltwork shows "
            "with one question. Put longer instructions in an Overview."
        )
    field = {"label": label, "help_text": help_text, "required": required}
    answers = _children(parts["AnswerSpecification"])
    if len(answers) != 1:
        raise InvalidInput(f"{where}: the AnswerSpecification must hold exactly one FreeTextAnswer or SelectionAnswer.")
    answer = answers[0]
    kind = _local(answer)
    if kind == "FreeTextAnswer":
        field.update(_free_text(answer, where=where))
        return field, identifier, None
    if kind == "SelectionAnswer":
        selection, choice_ids = _selection(answer, where=where)
        field.update(selection)
        return field, identifier, choice_ids
    raise InvalidInput(UNSUPPORTED_MESSAGE.format(element=kind))


def _boolean(element: ElementTree.Element | None, *, where: str) -> bool:
    if element is None:
        return False
    text = _text(element).lower()
    if text not in {"true", "false"}:
        raise InvalidInput(f"{where}: IsRequired must be true or false.")
    return text == "true"


def _integer(element_or_text: ElementTree.Element | str | None, *, what: str, where: str) -> int | None:
    text = element_or_text if isinstance(element_or_text, str | None) else _text(element_or_text)
    if text is None:
        return None
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        raise InvalidInput(f"{where}: {what} must be a whole number, not “{text[:50]}”.") from None


def _free_text(element: ElementTree.Element, *, where: str) -> dict:
    """A FreeTextAnswer as a short text, long text or number field. IsNumeric becomes the number kind with its
    bounds; more than one suggested line, or a maximum length beyond a short text's, a long text; a minimum length
    of one or more makes the field required, as MTurk says it does."""
    parts = _only_children(element, {"Constraints", "DefaultText", "NumberOfLinesSuggestion"}, where=where)
    lines = _integer(parts.get("NumberOfLinesSuggestion"), what="NumberOfLinesSuggestion", where=where) or 1
    numeric = None
    min_length = max_length = None
    if "Constraints" in parts:
        for constraint in _children(parts["Constraints"]):
            name = _local(constraint)
            if name == "IsNumeric":
                numeric = constraint
            elif name == "Length":
                min_length = _integer(constraint.get("minLength"), what="minLength", where=where)
                max_length = _integer(constraint.get("maxLength"), what="maxLength", where=where)
            else:
                raise InvalidInput(UNSUPPORTED_MESSAGE.format(element=name))
    if (min_length is not None and min_length < 0) or (max_length is not None and max_length < 1):
        raise InvalidInput(f"{where}: minLength must be 0 or more and maxLength 1 or more.")
    if min_length is not None and max_length is not None and min_length > max_length:
        raise InvalidInput(f"{where}: minLength is larger than maxLength.")
    field: dict = {}
    if min_length is not None and min_length >= 1:
        field["required"] = True  # as MTurk documents: a minLength is the same as IsRequired
    if numeric is not None:
        # The number's own bounds say what matters; a Length on a number (MTurk's "3 digits") is not checked.
        minimum = _integer(numeric.get("minValue"), what="minValue", where=where)
        maximum = _integer(numeric.get("maxValue"), what="maxValue", where=where)
        field.update({"kind": "number", "min": minimum, "max": maximum})
    else:
        long = lines > 1 or (max_length is not None and max_length > MAX_SHORT_TEXT)
        field["kind"] = "long_text" if long else "short_text"
        if min_length is not None and min_length > 1:
            field["min_length"] = min_length
        if max_length is not None and max_length < (MAX_LONG_TEXT if long else MAX_SHORT_TEXT):
            field["max_length"] = max_length
    default = _text(parts.get("DefaultText")) if "DefaultText" in parts else ""
    if default:
        field["initial"] = default
    return field


def _selection(element: ElementTree.Element, *, where: str) -> tuple[dict, dict[str, str]]:
    """A SelectionAnswer as a single or multiple choice. Its choices are the Selections' Text (what the worker
    reads); the SelectionIdentifier of each is kept for the answer XML."""
    parts = _only_children(
        element, {"MinSelectionCount", "MaxSelectionCount", "StyleSuggestion", "Selections"}, where=where
    )
    style = _text(parts.get("StyleSuggestion"))
    if style and style not in _STYLES:
        raise InvalidInput(f"{where}: StyleSuggestion must be one of {', '.join(sorted(_STYLES))}.")
    min_count = _integer(parts.get("MinSelectionCount"), what="MinSelectionCount", where=where)
    max_count = _integer(parts.get("MaxSelectionCount"), what="MaxSelectionCount", where=where)
    if (min_count is not None and min_count < 0) or (max_count is not None and max_count < 1):
        raise InvalidInput(f"{where}: MinSelectionCount must be 0 or more and MaxSelectionCount 1 or more.")
    if "Selections" not in parts:
        raise InvalidInput(f"{where}: a SelectionAnswer needs Selections.")
    choice_ids: dict[str, str] = {}
    for selection in _children(parts["Selections"]):
        name = _local(selection)
        if name != "Selection":
            raise InvalidInput(UNSUPPORTED_MESSAGE.format(element=name))
        items = _only_children(selection, {"SelectionIdentifier", "Text", "FormattedContent", "Binary"}, where=where)
        for unsupported in ("FormattedContent", "Binary"):
            if unsupported in items:
                raise InvalidInput(UNSUPPORTED_MESSAGE.format(element=unsupported))
        identifier = _text(items.get("SelectionIdentifier"))
        text = " ".join(_text(items.get("Text")).split()) or identifier
        if not identifier:
            raise InvalidInput(f"{where}: every Selection needs a SelectionIdentifier.")
        if len(text) > MAX_CHOICE_CHARS:
            raise InvalidInput(f"{where}: a Selection's Text is longer than {MAX_CHOICE_CHARS} characters.")
        if text in choice_ids or identifier in choice_ids.values():
            raise InvalidInput(f"{where}: two Selections have the same Text or the same SelectionIdentifier.")
        choice_ids[text] = identifier
    # MaxSelectionCount decides when given (its default is 1); a checkbox or list style without it means several.
    multiple = max_count > 1 if max_count is not None else style in _MULTIPLE_STYLES
    if min_count is not None and max_count is not None and min_count > max_count:
        raise InvalidInput(f"{where}: MinSelectionCount is larger than MaxSelectionCount.")
    if min_count is not None and min_count > len(choice_ids):
        raise InvalidInput(f"{where}: MinSelectionCount is larger than the number of Selections.")
    field = {"kind": "multiple_choice" if multiple else "single_choice", "choices": list(choice_ids)}
    if min_count is not None and min_count >= 1:
        field["required"] = True
    if multiple and min_count is not None and min_count > 1:
        field["min_choices"] = min_count
    if multiple and max_count is not None and max_count < len(choice_ids):
        field["max_choices"] = max_count
    return field, choice_ids


def _field_name(identifier: str, *, taken: dict[str, str]) -> str:
    """A form builder field name for a QuestionIdentifier: the identifier itself when the builder accepts it, else
    one made from it (lowercase, a–z, 0–9 and _), made unique with a number."""
    if FIELD_NAME_RE.match(identifier) and identifier not in taken:
        return identifier
    base = "".join(character if character.isascii() and character.isalnum() else "_" for character in identifier)
    base = base.lower().strip("_") or "question"
    if not base[0].isalpha():
        base = f"q_{base}"
    base = base[:36]
    name, counter = base, 1
    while name in taken or not FIELD_NAME_RE.match(name):
        counter += 1
        name = f"{base}_{counter}"
    return name


def answers_xml(answer: dict, *, question: dict | None = None) -> str:
    """An assignment's answer as the QuestionFormAnswers document MTurk returns as `Assignment.Answer`.

    One `<Answer>` per field holding a value. For a QuestionForm (`question` is the task's question), a field is
    named by its QuestionIdentifier and a selection's choices by their SelectionIdentifiers, one element each, in
    the form's order; every other answer (an HTML form's, an external study's) is FreeText, several values of one
    field joined with "|" as MTurk joins them, in the order of the field names. Fields MTurk's conventions add to
    a form (assignmentId, hitId, workerId, turkSubmitTo) are not answers and are left out.
    """
    answer = answer or {}
    root = ElementTree.Element(_q("QuestionFormAnswers"))
    if question and question.get("kind") == "form":
        identifiers = question.get("identifiers", {})
        selections = question.get("selections", {})
        names = [field["name"] for field in question.get("fields", [])]
        for name in names:
            value = answer.get(name)
            if value is None or value == "" or value == []:
                continue  # MTurk has an Answer only for the questions the worker answered
            element = _answer_element(root, identifiers.get(name, name))
            if name in selections:
                for choice in value if isinstance(value, list) else [value]:
                    ElementTree.SubElement(element, _q("SelectionIdentifier")).text = selections[name].get(
                        str(choice), str(choice)
                    )
            else:
                ElementTree.SubElement(element, _q("FreeText")).text = _free_text_value(value)
    else:
        for name in sorted(answer):
            value = answer[name]
            if value is None or name in MTURK_CONVENTION_FIELDS:
                continue
            element = _answer_element(root, name)
            ElementTree.SubElement(element, _q("FreeText")).text = _free_text_value(value)
    body = ElementTree.tostring(root, encoding="unicode", default_namespace=ANSWERS_NAMESPACE)
    return '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n' + body


def _q(name: str) -> str:
    return f"{{{ANSWERS_NAMESPACE}}}{name}"


def _answer_element(root: ElementTree.Element, identifier: str) -> ElementTree.Element:
    element = ElementTree.SubElement(root, _q("Answer"))
    # A field's name comes from the worker's browser too (an HTMLQuestion's form): it must be writable as XML.
    ElementTree.SubElement(element, _q("QuestionIdentifier")).text = _NOT_XML_RE.sub("\ufffd", str(identifier))
    return element


def _free_text_value(value: object) -> str:
    if isinstance(value, list):
        text = "|".join(str(item) for item in value)
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    # XML 1.0 cannot carry most control characters, even escaped: a parser would refuse the whole document.
    return _NOT_XML_RE.sub("\ufffd", text)
