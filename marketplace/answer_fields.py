"""The kinds of answer field a form builder offers, one class each, and the registry of them: `FIELD_KINDS`.

A builder field is stored on its job as a plain dict, `{"name", "kind", "label", "help_text", "required",
"choices", "min", "max"}`; its "kind" names an entry of `FIELD_KINDS`. Everything that differs between kinds lives
in the kind's class: what its definition may hold, the worker's form field, the answer value stored and returned by
the API, the results CSV cell, the text pages show, and when two answers are the same. The rest of the code asks
the registry. Adding a kind is a class here, a line in `FIELD_KINDS`, and its tests; the builder's kind menu and the
API schema's list of kinds follow from the registry.
"""

import re
from collections.abc import Hashable
from decimal import Decimal
from typing import Any

from django import forms

from core.errors import InvalidInput

MAX_CHOICES = 100
MAX_CHOICE_CHARS = 200
MAX_SHORT_TEXT = 500
MAX_LONG_TEXT = 10_000
_WHITESPACE_RE = re.compile(r"\s+")

# What a browser posts for one form field: its text, several texts (a multiple choice), or nothing at all.
PostedValue = str | list[str] | None


class FieldKind:
    """One kind of answer field. Subclasses set `name`, `label` and `api_type` and override what differs.

    The contract of each member:

    - `name`: the kind as it is stored in a field definition and sent over the API ("short_text").
      `label`: what the form builder's menu shows ("Short text").
    - `api_type`: the type of the kind's answer value over the API, as pydantic describes it in the OpenAPI
      document (`str`, `list[str]`, `bool`, `Decimal`). A returned answer holds what `to_json` stored, or None.
    - `definition_keys`: the kind's own keys of a field definition ("choices" for choice kinds, "min" and "max"
      for numbers; none for the others). The form builder shows the inputs of these keys only for the kinds that
      use them.
    - `clean_definition(raw, number)`: the kind's own keys (`definition_keys`, no others), checked and normalised
      from what the requester sent, as a dict that is merged over the defaults
      `{"choices": [], "min": None, "max": None}`. Refuses with InvalidInput whose message starts with
      "Field {number}: ". The keys every kind has (name, label, help text, required) are checked by
      `answer_forms.clean_form_fields`.
    - `form_field(field, common)`: the Django form field of the worker's answer form for the cleaned definition
      `field`; `common` holds the label, help text and required flag to pass on.
    - `to_json(cleaned)`: the answer value stored, from the form field's cleaned value. JSON-safe and exact:
      never a float.
    - `form_data(value)`: what the worker's browser would post for a JSON answer value sent over the API, so the
      API and the web page run the very same validation: a text, a list of texts, or None to post nothing. The
      default posts any JSON value as a browser would post its like (true as a ticked checkbox's "on", false and
      null as nothing, a list as its texts, anything else as its text) and lets the form accept or refuse it; a
      kind whose browser posts something else overrides it.
    - `csv_cell(value)`: the text of the value's results CSV cell ("" for no value). The caller escapes what a
      spreadsheet would run as a formula.
    - `display(value)`: the text pages show for the value; "" for no answer (pages show "—").
    - `normalise(value)`: a hashable value such that two answers mean the same exactly when their normalised
      values are equal; `equal(a, b)` compares two answers that way (quality control compares workers' answers).
      Both take stored values (`to_json`'s), None included.
    - `matches_known(value, known)`: whether an answer matches a known answer (a control's or a training task's,
      tasks.controls). `equal` by default; a number's known answer may carry a tolerance ("12.5±0.1", see
      `split_tolerance`), and an HTML template field's known answer is a results CSV cell ("a|b" for a list).
    """

    name: str = ""
    label: str = ""
    api_type: Any = str
    definition_keys: tuple[str, ...] = ()

    def clean_definition(self, raw: dict, number: int) -> dict:
        return {}

    def form_field(self, field: dict, common: dict) -> forms.Field:
        raise NotImplementedError

    def to_json(self, cleaned: object) -> object:
        return cleaned

    def form_data(self, value: object) -> PostedValue:
        if value is None or value is False:
            return None
        if value is True:
            return "on"  # what a ticked checkbox posts
        if isinstance(value, list):
            return [str(item) for item in value]
        return str(value)

    def csv_cell(self, value: object) -> str:
        return "" if value is None else str(value)

    def display(self, value: object) -> str:
        return "" if value is None else str(value)

    def normalise(self, value: object) -> Hashable:
        return value

    def equal(self, a: object, b: object) -> bool:
        return self.normalise(a) == self.normalise(b)

    def matches_known(self, value: object, known: object) -> bool:
        return self.equal(value, known)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def normalise_text(value: object) -> str:
    """Text as two people would compare it: no case, no leading or trailing space, inner space collapsed."""
    if value is None:
        return ""
    return _WHITESPACE_RE.sub(" ", str(value)).strip().casefold()


class ShortTextKind(FieldKind):
    name = "short_text"
    label = "Short text"
    api_type = str

    def form_field(self, field: dict, common: dict) -> forms.Field:
        return forms.CharField(max_length=MAX_SHORT_TEXT, **common)

    def normalise(self, value: object) -> Hashable:
        return normalise_text(value)


class LongTextKind(ShortTextKind):
    name = "long_text"
    label = "Long text"

    def form_field(self, field: dict, common: dict) -> forms.Field:
        return forms.CharField(max_length=MAX_LONG_TEXT, widget=forms.Textarea(attrs={"rows": 4}), **common)


class _ChoiceKind(FieldKind):
    """What both choice kinds share: a definition with two to MAX_CHOICES different choices."""

    definition_keys = ("choices",)

    def clean_definition(self, raw: dict, number: int) -> dict:
        raw_choices = raw.get("choices")
        if isinstance(raw_choices, str):
            raw_choices = raw_choices.splitlines()
        if not isinstance(raw_choices, list):
            raise InvalidInput(f"Field {number}: give the choices as a list.")
        choices: list[str] = []
        for choice in raw_choices:
            text = str(choice).strip()
            if text and text not in choices:
                choices.append(text[:MAX_CHOICE_CHARS])
        if len(choices) < 2:
            raise InvalidInput(f"Field {number}: a choice field needs at least two different choices.")
        if len(choices) > MAX_CHOICES:
            raise InvalidInput(f"Field {number}: at most {MAX_CHOICES} choices.")
        return {"choices": choices}

    @staticmethod
    def _choices(field: dict) -> list[tuple[str, str]]:
        return [(choice, choice) for choice in field["choices"]]


class SingleChoiceKind(_ChoiceKind):
    name = "single_choice"
    label = "Single choice"
    api_type = str

    def form_field(self, field: dict, common: dict) -> forms.Field:
        return forms.ChoiceField(choices=self._choices(field), widget=forms.RadioSelect, **common)

    def normalise(self, value: object) -> Hashable:
        return value or ""  # the exact choice; no choice is stored as ""


class MultipleChoiceKind(_ChoiceKind):
    name = "multiple_choice"
    label = "Multiple choice"
    api_type = list[str]

    def form_field(self, field: dict, common: dict) -> forms.Field:
        return forms.MultipleChoiceField(choices=self._choices(field), widget=forms.CheckboxSelectMultiple, **common)

    def csv_cell(self, value: object) -> str:
        return "|".join(str(item) for item in value) if isinstance(value, list) else super().csv_cell(value)

    def display(self, value: object) -> str:
        return ", ".join(str(item) for item in value) if isinstance(value, list) else super().display(value)

    def normalise(self, value: object) -> Hashable:
        return frozenset(value or ())  # the choices ticked, in whatever order


class NumberKind(FieldKind):
    name = "number"
    label = "Number"
    # Returned as exact decimal text ("7.5"); a submit may send a JSON number or that text.
    api_type = Decimal
    definition_keys = ("min", "max")

    def clean_definition(self, raw: dict, number: int) -> dict:
        minimum = _clean_bound(raw.get("min"), number, "minimum")
        maximum = _clean_bound(raw.get("max"), number, "maximum")
        if minimum is not None and maximum is not None and Decimal(minimum) > Decimal(maximum):
            raise InvalidInput(f"Field {number}: the minimum is larger than the maximum.")
        return {"min": minimum, "max": maximum}

    def form_field(self, field: dict, common: dict) -> forms.Field:
        return forms.DecimalField(
            min_value=Decimal(field["min"]) if field.get("min") is not None else None,
            max_value=Decimal(field["max"]) if field.get("max") is not None else None,
            max_digits=30,
            decimal_places=10,
            **common,
        )

    def to_json(self, cleaned: object) -> object:
        if not isinstance(cleaned, Decimal):
            return cleaned  # None: left empty
        return format(cleaned.normalize(), "f") if cleaned == cleaned.to_integral() else str(cleaned)

    def normalise(self, value: object) -> Hashable:
        if value is None or value == "":
            return None
        try:
            return Decimal(str(value))  # "1.50" and "1.5" are one number (and hash alike)
        except ArithmeticError:
            return str(value)  # not a number the form would have stored: only equal to the same text

    def matches_known(self, value: object, known: object) -> bool:
        """Within the known answer's tolerance when it has one: "12.5±0.1" matches 12.4 to 12.6, ends included."""
        center, tolerance = split_tolerance(known)
        if tolerance is None:
            return self.equal(value, known)
        answer, target = self.normalise(value), self.normalise(center)
        if not all(isinstance(number, Decimal) and number.is_finite() for number in (answer, target, tolerance)):
            return False
        return abs(answer - target) <= tolerance


# A number's known answer with a tolerance: "12.5±0.1" (or "12.5 +- 0.1", easier to type), stored as "12.5±0.1".
TOLERANCE_SIGN = "±"
_TOLERANCE_RE = re.compile(r"^\s*([^±+]*?)\s*(?:±|\+-)\s*(.*?)\s*$")


def split_tolerance(known: object) -> tuple[object, Decimal | None]:
    """A number's known answer as (the number, its tolerance): "12.5±0.1" -> ("12.5", Decimal("0.1")); a value
    without a tolerance -> (the value, None). A tolerance that is not a number of 0 or more raises InvalidInput."""
    match = _TOLERANCE_RE.match(known) if isinstance(known, str) else None
    if match is None:
        return known, None
    try:
        tolerance = Decimal(match.group(2))
    except ArithmeticError:
        tolerance = None
    if tolerance is None or not tolerance.is_finite() or tolerance < 0:
        raise InvalidInput("the tolerance after ± must be a number of 0 or more, as in 12.5±0.1")
    return match.group(1), tolerance


def with_tolerance(number: str, tolerance: Decimal | None) -> str:
    """A known number as stored: "12.5±0.1", or "12.5" without a tolerance."""
    return number if tolerance is None else f"{number}{TOLERANCE_SIGN}{format(tolerance.normalize(), 'f')}"


def _clean_bound(value: object, number: int, which: str) -> str | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        bound = Decimal(str(value).strip())
    except ArithmeticError:
        raise InvalidInput(f"Field {number}: the {which} must be a number.") from None
    if not bound.is_finite():
        raise InvalidInput(f"Field {number}: the {which} must be a number.")
    return str(bound)


class CheckboxKind(FieldKind):
    name = "checkbox"
    label = "Checkbox"
    api_type = bool

    def form_field(self, field: dict, common: dict) -> forms.Field:
        return forms.BooleanField(**common)

    def csv_cell(self, value: object) -> str:
        if value is None:
            return ""
        return "true" if value else "false"

    def display(self, value: object) -> str:
        return "True" if value else ""  # as the pages always showed it: "—" when not ticked

    def normalise(self, value: object) -> Hashable:
        return bool(value)


class TemplateFieldKind(FieldKind):
    """A named control of a Mechanical Turk style HTML template: text, or several texts (a multi-select or
    same-named checkboxes). Not in the registry: the builder never offers it, and `answer_forms.clean_html_answer`
    checks these answers. It gives them their CSV cell, display and comparison."""

    name = "html_template_field"
    label = "HTML template field"
    api_type = str | list[str]

    def csv_cell(self, value: object) -> str:
        return "|".join(str(item) for item in value) if isinstance(value, list) else super().csv_cell(value)

    def display(self, value: object) -> str:
        return ", ".join(str(item) for item in value) if isinstance(value, list) else super().display(value)

    def normalise(self, value: object) -> Hashable:
        if isinstance(value, list):
            return frozenset(normalise_text(item) for item in value)
        return normalise_text(value)

    def matches_known(self, value: object, known: object) -> bool:
        """A known answer is written as the results CSV writes the field: several values (a multi-select, checkboxes
        of one name) as "a|b", in any order."""
        if isinstance(value, list) and isinstance(known, str):
            known = known.split("|")
        return self.equal(value, known)


FIELD_KINDS: dict[str, FieldKind] = {
    kind.name: kind
    for kind in [
        ShortTextKind(),
        LongTextKind(),
        SingleChoiceKind(),
        MultipleChoiceKind(),
        NumberKind(),
        CheckboxKind(),
    ]
}
TEMPLATE_FIELD = TemplateFieldKind()


def kind_choices() -> list[tuple[str, str]]:
    """The builder's menu of kinds, in the registry's order (a callable, so a form reads the registry when shown)."""
    return [(kind.name, kind.label) for kind in FIELD_KINDS.values()]


def kind_specific_keys() -> tuple[str, ...]:
    """The keys of a field definition that some kinds use and others do not: ("choices", "min", "max")."""
    return tuple(dict.fromkeys(key for kind in FIELD_KINDS.values() for key in kind.definition_keys))


def answer_value_types() -> tuple:
    """Every type an answer value can have over the API, for the schema: each kind's, an HTML template's, None."""
    types = [*(kind.api_type for kind in FIELD_KINDS.values()), TEMPLATE_FIELD.api_type, None]
    return tuple(dict.fromkeys(types))


def answer_kinds(*, form_fields: list[dict], answer_fields: list[str]) -> dict[str, FieldKind]:
    """The kind of each of a job's answer columns: a builder field's registered kind; the fields of an HTML
    template (a job that has no builder fields) are TEMPLATE_FIELD."""
    builder = {field["name"]: FIELD_KINDS[field["kind"]] for field in form_fields}
    return {name: builder.get(name, TEMPLATE_FIELD) for name in answer_fields}


def answer_display_items(
    *, form_fields: list[dict], answer_fields: list[str], answer: dict | None
) -> list[tuple[str, str]]:
    """(name, text) of each answer column, in the form's order, as its kind displays the value ("" for none)."""
    answer = answer or {}
    kinds = answer_kinds(form_fields=form_fields, answer_fields=answer_fields)
    return [(name, kind.display(answer.get(name))) for name, kind in kinds.items()]
