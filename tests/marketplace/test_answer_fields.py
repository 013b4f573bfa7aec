"""The registry of answer-field kinds: each kind's definition checks, form field, stored answer, API conversion, CSV
cell, display and comparison; the API schema's kinds come from the registry; and a kind added in one place works
everywhere (builder menu, worker's form, submit, review page, results CSV)."""

import csv
import io
from decimal import Decimal

import pytest
from django import forms
from django.test import Client
from django.urls import reverse

from api.api import api
from core.errors import InvalidInput
from marketplace import answer_fields, services
from marketplace.answer_fields import FIELD_KINDS, TEMPLATE_FIELD, FieldKind, answer_kinds, kind_choices
from marketplace.answer_forms import AnswerForm, answer_form_data, clean_form_fields
from tasks.models import Assignment, AssignmentStatus
from tasks.results import results_csv_lines
from tasks.selectors import result_rows
from tasks.services import assignment_claim, assignment_submit, tasks_add
from tests.factories import make_user
from web.forms import BuilderFieldForm

DEFINITIONS = {
    "short_text": {"name": "f", "kind": "short_text", "label": "Word", "required": True},
    "long_text": {"name": "f", "kind": "long_text", "label": "Essay", "required": False},
    "single_choice": {"name": "f", "kind": "single_choice", "label": "One", "required": True, "choices": ["a", "b"]},
    "multiple_choice": {"name": "f", "kind": "multiple_choice", "label": "Many", "required": False, "choices": "a\nb"},
    "number": {"name": "f", "kind": "number", "label": "Count", "required": False, "min": "0", "max": "10"},
    "checkbox": {"name": "f", "kind": "checkbox", "label": "Agree", "required": False},
}


def cleaned(kind: str, **changes) -> dict:
    return clean_form_fields([{**DEFINITIONS[kind], **changes}])[0]


def test_the_registry_is_keyed_by_each_kinds_own_name_in_the_builders_order():
    assert list(FIELD_KINDS) == ["short_text", "long_text", "single_choice", "multiple_choice", "number", "checkbox"]
    assert all(name == kind.name and kind.label for name, kind in FIELD_KINDS.items())
    assert TEMPLATE_FIELD.name not in FIELD_KINDS  # the builder never offers an HTML template's field
    assert kind_choices() == [(kind.name, kind.label) for kind in FIELD_KINDS.values()]
    assert list(BuilderFieldForm().fields["kind"].choices) == kind_choices()


def test_every_kind_is_covered_by_these_tables():
    assert set(DEFINITIONS) == set(FIELD_KINDS) == set(FORM_FIELDS) == {kind for kind, *_ in STORED}


# Definitions ------------------------------------------------------------------------------------------------------


def test_definitions_keep_only_their_kinds_own_keys():
    extras = {"choices": ["x", "y"], "min": "1", "max": "2"}
    for kind in ("short_text", "long_text", "checkbox"):
        field = cleaned(kind, **extras)
        assert (field["choices"], field["min"], field["max"]) == ([], None, None), kind
    choice = cleaned("single_choice", **extras)
    assert (choice["choices"], choice["min"], choice["max"]) == (["x", "y"], None, None)
    number = cleaned("number", **extras)
    assert (number["choices"], number["min"], number["max"]) == ([], "1", "2")


@pytest.mark.parametrize("kind", ["single_choice", "multiple_choice"])
def test_choices_are_stripped_deduplicated_and_cut_to_200_characters(kind):
    field = cleaned(kind, choices=[" Red ", "Red", "", "x" * 250, 7])
    assert field["choices"] == ["Red", "x" * 200, "7"]
    assert cleaned(kind, choices="A\n\n B \nA")["choices"] == ["A", "B"]


@pytest.mark.parametrize("kind", ["single_choice", "multiple_choice"])
@pytest.mark.parametrize(
    ("choices", "message"),
    [
        (None, "Field 1: give the choices as a list."),
        ({"a": 1}, "Field 1: give the choices as a list."),
        (["a", " a "], "Field 1: a choice field needs at least two different choices."),
        ([str(n) for n in range(101)], "Field 1: at most 100 choices."),
    ],
)
def test_choice_definitions_refused(kind, choices, message):
    with pytest.raises(InvalidInput) as refused:
        cleaned(kind, choices=choices)
    assert refused.value.message == message


def test_number_bounds_are_normalised_decimal_text_or_none():
    assert cleaned("number", min=" 1.50 ", max=10)["min"] == "1.50"
    assert cleaned("number", min="", max=None)["min"] is None
    assert cleaned("number", min="", max="")["max"] is None
    assert cleaned("number", min="2", max="2.0")["max"] == "2.0"


@pytest.mark.parametrize(
    ("bounds", "message"),
    [
        ({"min": "5", "max": "4"}, "Field 1: the minimum is larger than the maximum."),
        ({"min": "abc"}, "Field 1: the minimum must be a number."),
        ({"max": "NaN"}, "Field 1: the maximum must be a number."),
        ({"max": "-Infinity"}, "Field 1: the maximum must be a number."),
    ],
)
def test_number_definitions_refused(bounds, message):
    with pytest.raises(InvalidInput) as refused:
        cleaned("number", **{"min": None, "max": None, **bounds})
    assert refused.value.message == message


# The worker's form field ------------------------------------------------------------------------------------------

FORM_FIELDS = {
    "short_text": (forms.CharField, forms.TextInput),
    "long_text": (forms.CharField, forms.Textarea),
    "single_choice": (forms.ChoiceField, forms.RadioSelect),
    "multiple_choice": (forms.MultipleChoiceField, forms.CheckboxSelectMultiple),
    "number": (forms.DecimalField, forms.NumberInput),
    "checkbox": (forms.BooleanField, forms.CheckboxInput),
}


@pytest.mark.parametrize("kind", list(FORM_FIELDS))
def test_form_field_of_each_kind(kind):
    definition = cleaned(kind, help_text="A hint")
    field = AnswerForm([definition]).fields["f"]
    field_class, widget_class = FORM_FIELDS[kind]
    assert type(field) is field_class
    assert type(field.widget) is widget_class
    assert (field.label, field.help_text, field.required) == (definition["label"], "A hint", definition["required"])


def test_form_field_limits():
    assert AnswerForm([cleaned("short_text")]).fields["f"].max_length == 500
    assert AnswerForm([cleaned("long_text")]).fields["f"].max_length == 10_000
    assert list(AnswerForm([cleaned("single_choice")]).fields["f"].choices) == [("a", "a"), ("b", "b")]
    number = AnswerForm([cleaned("number", min="-1.5", max="10")]).fields["f"]
    assert (number.min_value, number.max_value, number.max_digits, number.decimal_places) == (
        Decimal("-1.5"),
        Decimal("10"),
        30,
        10,
    )
    unbounded = AnswerForm([cleaned("number", min=None, max=None)]).fields["f"]
    assert (unbounded.min_value, unbounded.max_value) == (None, None)


# Stored answers, and the API's JSON answer posted as the web form would -----------------------------------------

STORED = [
    # (kind, what the browser posts, the stored value, the same answer sent over the API)
    ("short_text", " cat  ", "cat", "cat"),
    ("long_text", "", "", None),
    ("single_choice", "b", "b", "b"),
    ("multiple_choice", ["a", "b"], ["a", "b"], ["a", "b"]),
    ("multiple_choice", None, [], []),
    ("number", "2.50", "2.50", "2.50"),
    ("number", "2.5", "2.5", 2.5),
    ("number", "10.000", "10", 10),
    ("number", "1e1", "10", "1e1"),
    ("number", "0.000001", "0.000001", "0.000001"),
    ("number", "", None, None),
    ("checkbox", "on", True, True),
    ("checkbox", None, False, False),
]


@pytest.mark.parametrize(("kind", "posted", "stored", "sent"), STORED)
def test_the_stored_answer_of_each_kind(kind, posted, stored, sent):
    form = AnswerForm([cleaned(kind)], data={} if posted is None else {"answer-f": posted})
    assert form.is_valid(), form.errors
    answer = form.answer()
    assert answer == {"f": stored}
    assert type(answer["f"]) is type(stored)  # numbers are exact text, never floats
    assert not isinstance(answer["f"], float)


@pytest.mark.parametrize(("kind", "posted", "stored", "sent"), STORED)
def test_an_answer_sent_over_the_api_is_stored_as_the_web_form_stores_it(kind, posted, stored, sent):
    form = AnswerForm([cleaned(kind)], data=answer_form_data([cleaned(kind)], {"f": sent}))
    assert form.is_valid(), form.errors
    assert form.answer() == {"f": stored}


@pytest.mark.parametrize(
    ("kind", "value", "posted"),
    [
        ("short_text", "text", "text"),
        ("short_text", None, None),
        ("single_choice", "b", "b"),
        ("multiple_choice", ["a", 1], ["a", "1"]),
        ("multiple_choice", [], []),
        ("number", 7.5, "7.5"),
        ("number", Decimal("7.50"), "7.50"),
        ("number", "7.5", "7.5"),
        ("number", 3, "3"),
        ("checkbox", True, "on"),
        ("checkbox", False, None),
        ("checkbox", None, None),
    ],
)
def test_form_data_of_each_kind(kind, value, posted):
    assert FIELD_KINDS[kind].form_data(value) == posted


def test_answer_form_data_prefixes_the_forms_fields_and_leaves_out_the_rest():
    fields = [cleaned("short_text", name="word"), cleaned("checkbox", name="agree"), cleaned("number", name="n")]
    data = answer_form_data(fields, {"word": "hi", "agree": False, "stuffed": "x", "n": None})
    assert data == {"answer-word": "hi"}


@pytest.mark.parametrize(
    ("kind", "sent", "error"),
    [
        ("number", "many", "Enter a number."),
        ("number", 11, "Ensure this value is less than or equal to 10."),
        ("number", True, "Enter a number."),
        ("single_choice", "c", "Select a valid choice. c is not one of the available choices."),
        ("multiple_choice", "a", "Enter a list of values."),
        ("short_text", "x" * 501, "Ensure this value has at most 500 characters (it has 501)."),
    ],
)
def test_a_wrong_answer_over_the_api_gets_the_web_forms_message(kind, sent, error):
    form = AnswerForm([cleaned(kind)], data=answer_form_data([cleaned(kind)], {"f": sent}))
    assert not form.is_valid()
    assert form.errors["f"] == [error]


def test_a_required_checkbox_left_unticked_over_the_api_is_refused():
    form = AnswerForm([cleaned("checkbox", required=True)], data=answer_form_data([cleaned("checkbox")], {"f": False}))
    assert form.errors["f"] == ["This field is required."]


# CSV cells and display --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value", "cell", "shown"),
    [
        ("short_text", "cat", "cat", "cat"),
        ("short_text", "", "", ""),
        ("long_text", "two\nlines", "two\nlines", "two\nlines"),
        ("single_choice", "b", "b", "b"),
        ("multiple_choice", ["a", "b"], "a|b", "a, b"),
        ("multiple_choice", [], "", ""),
        ("number", "7.5", "7.5", "7.5"),
        ("number", None, "", ""),
        ("checkbox", True, "true", "True"),
        ("checkbox", False, "false", ""),
        ("checkbox", None, "", ""),
    ],
)
def test_csv_cell_and_display_of_each_kind(kind, value, cell, shown):
    assert FIELD_KINDS[kind].csv_cell(value) == cell
    assert FIELD_KINDS[kind].display(value) == shown


def test_an_html_templates_fields_are_text_or_lists_of_text():
    assert (TEMPLATE_FIELD.csv_cell(["x", "y"]), TEMPLATE_FIELD.csv_cell("x"), TEMPLATE_FIELD.csv_cell(None)) == (
        "x|y",
        "x",
        "",
    )
    assert (TEMPLATE_FIELD.display(["x", "y"]), TEMPLATE_FIELD.display("x")) == ("x, y", "x")
    assert TEMPLATE_FIELD.equal(["B ", "a"], ["A", "b"])
    assert TEMPLATE_FIELD.equal(" Hello  World", "hello world")


def test_answer_kinds_of_a_builder_job_and_of_an_html_template_job():
    fields = [cleaned("number", name="n"), cleaned("checkbox", name="ok")]
    assert answer_kinds(form_fields=fields, answer_fields=["n", "ok"]) == {
        "n": FIELD_KINDS["number"],
        "ok": FIELD_KINDS["checkbox"],
    }
    assert answer_kinds(form_fields=[], answer_fields=["q1", "q2"]) == {"q1": TEMPLATE_FIELD, "q2": TEMPLATE_FIELD}


# Comparing two workers' answers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "a", "b", "same"),
    [
        ("short_text", "  Hello   World ", "hello world", True),
        ("short_text", "Straße", "STRASSE", True),
        ("short_text", "tab\tand\nnewline", "tab and newline", True),
        ("short_text", "hello world", "helloworld", False),
        ("short_text", "", None, True),
        ("long_text", "A  b", "a B", True),
        ("single_choice", "Positive", "Positive", True),
        ("single_choice", "Positive", "positive", False),
        ("single_choice", "Positive", "Negative", False),
        ("multiple_choice", ["a", "b"], ["b", "a"], True),
        ("multiple_choice", ["a"], ["a", "b"], False),
        ("multiple_choice", [], None, True),
        ("number", "1.50", "1.5", True),
        ("number", "10", "1E+1", True),
        ("number", "-0", "0", True),
        ("number", "1.5", "1.51", False),
        ("number", None, "0", False),
        ("number", None, None, True),
        ("checkbox", True, True, True),
        ("checkbox", True, False, False),
        ("checkbox", False, None, True),
    ],
)
def test_normalise_and_equal_of_each_kind(kind, a, b, same):
    field_kind = FIELD_KINDS[kind]
    assert field_kind.equal(a, b) is same
    assert field_kind.equal(b, a) is same
    assert (field_kind.normalise(a) == field_kind.normalise(b)) is same
    assert (hash(field_kind.normalise(a)) == hash(field_kind.normalise(b))) or not same  # usable to count votes


# The API schema ---------------------------------------------------------------------------------------------------


def test_the_api_schemas_kinds_are_the_registrys():
    components = api.get_openapi_schema()["components"]["schemas"]
    assert components["FormField"]["properties"]["kind"]["enum"] == list(FIELD_KINDS)


def test_the_api_schema_describes_answer_values_by_kind():
    components = api.get_openapi_schema()["components"]["schemas"]
    returned = components["WorkerAssignmentOut"]["properties"]["answer"]["anyOf"][0]["additionalProperties"]["anyOf"]
    assert returned == [
        {"type": "string"},
        {"type": "array", "items": {"type": "string"}},
        {"type": "boolean"},
        {"type": "null"},
    ]
    submitted = components["SubmitIn"]["properties"]["answer"]["additionalProperties"]["anyOf"]
    assert {"type": "number"} in submitted  # a number field's answer may be sent as a JSON number


# Adding a kind touches one file -----------------------------------------------------------------------------------


class StarsKind(FieldKind):
    """A throwaway kind, defined only here: one to five stars, stored as an integer."""

    name = "stars"
    label = "Stars"
    api_type = int

    def form_field(self, field: dict, common: dict) -> forms.Field:
        return forms.TypedChoiceField(choices=[(n, f"{n} ★") for n in range(1, 6)], coerce=int, **common)

    def csv_cell(self, value: object) -> str:
        return "" if value is None else "★" * value

    def display(self, value: object) -> str:
        return "" if value is None else f"{value} of 5 stars"


@pytest.fixture
def stars_registered(monkeypatch):
    monkeypatch.setitem(answer_fields.FIELD_KINDS, StarsKind.name, StarsKind())


def test_a_kind_registered_in_one_place_works_from_builder_to_results(
    stars_registered, requester, worker, worker_client
):
    requester_client = Client()  # not the `requester_client` fixture: that is the worker's client, logged in again
    requester_client.force_login(requester)
    assert ("stars", "Stars") in list(BuilderFieldForm().fields["kind"].choices)
    builder = BuilderFieldForm({"name": "rating", "label": "How good?", "kind": "stars", "required": "on"})
    assert builder.is_valid(), builder.errors

    job = services.job_create(requester=requester, title="Rate", description="Rate a picture", reward_msat=5_000)
    fields = [builder.as_field_definition(), {"name": "note", "kind": "short_text", "label": "Note"}]
    services.job_set_builder_form(job=job, actor=requester, prompt="Rate {{picture}}", fields=fields)
    tasks_add(job=job, actor=requester, columns=["picture"], rows=[{"picture": "a.png"}, {"picture": "b.png"}])
    services.job_publish(job=job, actor=requester)
    job.refresh_from_db()

    # On the web: the worker's form shows the kind's field, and a submit stores the kind's value.
    web = assignment_claim(job=job, worker=worker)
    page = worker_client.get(reverse("assignment_detail", args=[web.public_id])).content.decode()
    assert 'name="answer-rating"' in page
    assert "5 ★" in page
    response = worker_client.post(reverse("assignment_submit", args=[web.public_id]), {"answer-rating": "4"})
    assert response.status_code == 302
    web.refresh_from_db()
    assert (web.status, web.answer) == (AssignmentStatus.SUBMITTED, {"rating": 4, "note": ""})
    assert "4 of 5 stars" in worker_client.get(reverse("assignment_detail", args=[web.public_id])).content.decode()

    # Over the API's conversion, through the service; a value the kind refuses gets the form's message.
    other = make_user()
    claimed = assignment_claim(job=job, worker=other)
    with pytest.raises(InvalidInput) as refused:
        assignment_submit(assignment=claimed, worker=other, data=answer_form_data(job.form_fields, {"rating": 9}))
    assert refused.value.details == {"rating": ["Select a valid choice. 9 is not one of the available choices."]}
    assignment_submit(assignment=claimed, worker=other, data=answer_form_data(job.form_fields, {"rating": 2}))
    assert Assignment.objects.get(pk=claimed.pk).answer == {"rating": 2, "note": ""}

    # The requester's review page and results CSV.
    review = requester_client.get(reverse("review_queue", args=[job.public_id])).content.decode()
    assert "4 of 5 stars" in review
    assert "2 of 5 stars" in review
    lines = list(results_csv_lines(job=job, rows=result_rows(job=job)))
    rating = lines[0].index("Answer.rating")
    assert [line[rating : rating + 2] for line in lines] == [["Answer.rating", "Answer.note"], ["★★★★", ""], ["★★", ""]]
    download = requester_client.get(reverse("results_csv", args=[job.public_id]))
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert [row[rating] for row in rows[1:]] == ["★★★★", "★★"]
