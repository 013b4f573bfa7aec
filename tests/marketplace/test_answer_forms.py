"""The answer form: builder field validation, placeholders, HTML answers and what workers are shown."""

import pytest

from core.errors import InvalidInput
from core.text import render_markdown
from marketplace import answer_forms
from marketplace.answer_forms import clean_form_fields, clean_html_answer
from tests.html_parsing import tags_and_attributes


def field(**changes):
    return {"name": "label", "kind": "short_text", "label": "Label", "required": True, **changes}


# clean_form_fields ----------------------------------------------------------------------------------------------


def test_clean_form_fields_normalises_every_kind():
    cleaned = clean_form_fields(
        [
            field(name="word", label="  Word  ", help_text=" a hint "),
            field(name="essay", kind="long_text", required=False),
            field(name="colour", kind="single_choice", choices="Red\n Blue \n\nRed\nGreen"),
            field(name="tags", kind="multiple_choice", choices=["a", "b"]),
            field(name="age", kind="number", min="0", max=" 120 "),
            field(name="agree", kind="checkbox", required=""),
        ]
    )
    assert [item["name"] for item in cleaned] == ["word", "essay", "colour", "tags", "age", "agree"]
    assert cleaned[0]["label"] == "Word"
    assert cleaned[0]["help_text"] == "a hint"
    assert cleaned[1]["required"] is False
    assert cleaned[2]["choices"] == ["Red", "Blue", "Green"]
    assert cleaned[3]["choices"] == ["a", "b"]
    assert (cleaned[4]["min"], cleaned[4]["max"]) == ("0", "120")
    assert cleaned[5]["required"] is False
    assert (cleaned[0]["choices"], cleaned[0]["min"]) == ([], None)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param([], "at least one", id="no-fields"),
        pytest.param([field(name=f"f{n}") for n in range(51)], "at most 50", id="too-many-fields"),
        pytest.param([field(name="")], "Field 1: the name", id="empty-name"),
        pytest.param([field(name="Label")], "Field 1: the name", id="uppercase-name"),
        pytest.param([field(name="1abc")], "Field 1: the name", id="starts-with-digit"),
        pytest.param([field(name="_abc")], "Field 1: the name", id="starts-with-underscore"),
        pytest.param([field(name="has space")], "Field 1: the name", id="space-in-name"),
        pytest.param([field(name="answer-1")], "Field 1: the name", id="dash-in-name"),
        pytest.param([field(name="x" * 41)], "Field 1: the name", id="name-too-long"),
        pytest.param(
            [field(name="a"), field(name="b"), field(name="a")],
            "Field 3: the name “a” is used twice",
            id="duplicate-name",
        ),
        pytest.param([field(kind="slider")], "Field 1: choose a kind", id="unknown-kind"),
        pytest.param([field(label="")], "Field 1: a label", id="empty-label"),
        pytest.param([field(label="x" * 301)], "Field 1: a label", id="label-too-long"),
        pytest.param([field(kind="single_choice", choices=["only"])], "at least two", id="one-choice"),
        pytest.param([field(kind="single_choice", choices=[])], "at least two", id="no-choices"),
        pytest.param(
            [field(kind="multiple_choice", choices="same\nsame\n ")], "at least two", id="duplicate-choices-count-once"
        ),
        pytest.param([field(kind="single_choice")], "as a list", id="choices-missing"),
        pytest.param(
            [field(kind="single_choice", choices=[str(n) for n in range(101)])], "at most 100", id="too-many-choices"
        ),
        pytest.param([field(kind="number", min="5", max="4")], "minimum is larger", id="min-above-max"),
        pytest.param([field(kind="number", min="abc")], "minimum must be a number", id="min-not-a-number"),
        pytest.param([field(kind="number", max="NaN")], "maximum must be a number", id="max-nan"),
        pytest.param([field(kind="number", max="Infinity")], "maximum must be a number", id="max-infinite"),
    ],
)
def test_clean_form_fields_refuses_bad_fields(fields, message):
    with pytest.raises(InvalidInput, match=message):
        clean_form_fields(fields)


def test_min_equal_to_max_is_allowed():
    cleaned = clean_form_fields([field(kind="number", min="3", max="3.0")])
    assert cleaned[0]["min"] == "3"


def test_the_error_names_the_field_at_fault():
    with pytest.raises(InvalidInput, match="Field 2"):
        clean_form_fields([field(name="ok"), field(name="Bad Name")])


# Placeholders ---------------------------------------------------------------------------------------------------


def test_placeholders_are_found_once_in_order():
    assert answer_forms.prompt_placeholders("{{ b }} {{a}} {{b}} { {c} } {{d e}}") == ["b", "a"]
    assert answer_forms.html_placeholders("${ url } ${name} ${url} $name") == ["url", "name"]


def test_html_answer_field_names():
    template = (
        "<form><input name='q1'><select name='q2'></select><textarea name='q3'></textarea>"
        "<input type='radio' name='q1'><input type='submit'><button name='not_a_field'></button></form>"
    )
    assert answer_forms.html_answer_field_names(template) == ["q1", "q2", "q3"]


# clean_html_answer ----------------------------------------------------------------------------------------------

TEMPLATE_FIELDS = ["label", "colours", "note", "essay", "a", "b"]


def test_clean_html_answer_keeps_strings_and_lists_of_strings():
    answer = {"label": "cat", "colours": ["red", "blue"], "note": ""}
    assert clean_html_answer(answer, field_names=TEMPLATE_FIELDS) == answer


def test_clean_html_answer_drops_fields_the_template_does_not_have():
    answer = {"label": "cat", "injected": "x" * 100_000, "": "y"}
    assert clean_html_answer(answer, field_names=TEMPLATE_FIELDS) == {"label": "cat"}


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(None, id="none"),
        pytest.param("label=cat", id="string"),
        pytest.param(["cat"], id="list"),
        pytest.param(42, id="number"),
        pytest.param({}, id="empty"),
        pytest.param({"other": "x"}, id="none-of-the-templates-fields"),
        pytest.param({"label": 3}, id="number-value"),
        pytest.param({"label": None}, id="null-value"),
        pytest.param({"label": True}, id="bool-value"),
        pytest.param({"label": {"nested": "x"}}, id="nested-object"),
        pytest.param({"label": ["ok", 2]}, id="list-with-a-number"),
        pytest.param({"essay": "x" * (64 * 1024 + 1)}, id="too-large"),
        pytest.param({"a": ["x" * 40_000], "b": "y" * 30_000}, id="too-large-across-fields"),
    ],
)
def test_clean_html_answer_refuses_bad_answers(raw):
    with pytest.raises(InvalidInput):
        clean_html_answer(raw, field_names=TEMPLATE_FIELDS)


def test_clean_html_answer_accepts_exactly_the_size_limit():
    assert clean_html_answer({"essay": "x" * (64 * 1024)}, field_names=TEMPLATE_FIELDS)


# What workers are shown -----------------------------------------------------------------------------------------


def test_markdown_is_sanitized():
    html = render_markdown(
        "Hello <img src=x onerror=alert(1)> <script>alert(2)</script> [link](javascript:alert(3)) "
        '<a href="https://ok.example" onclick="alert(4)">ok</a> <iframe src="https://evil.example"></iframe>'
    )
    assert "onerror" not in html
    assert "<script" not in html
    assert not [value for _, _, value in tags_and_attributes(html) if "javascript" in (value or "")]
    assert "onclick" not in html
    assert "<iframe" not in html
    assert 'href="https://ok.example"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


def render_prompt(prompt: str, task_input: dict) -> str:
    """What a worker is shown: the prompt rendered as it is saved, filled in as it is viewed."""
    return answer_forms.fill_prompt(answer_forms.render_prompt_html(prompt), task_input)


def test_render_prompt_escapes_task_values():
    html = render_prompt(
        "Is **{{word}}** a noun? ![photo]({{url}})",
        {"word": "<script>alert(1)</script>", "url": 'https://img.example/a.png" onerror="alert(2)'},
    )
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<strong>" in html
    tags = tags_and_attributes(html)
    assert ("img", "src", 'https://img.example/a.png" onerror="alert(2)') in tags  # all of it stays one URL
    assert not [attribute for _, attribute, _ in tags if attribute.startswith("on")]


def test_render_prompt_drops_javascript_links_from_task_values():
    html = render_prompt("[open]({{url}})", {"url": "javascript:alert(1)"})
    assert "javascript" not in html


def test_render_html_template_escapes_values_and_blanks_unknown_placeholders():
    html = answer_forms.render_html_template(
        '<p>${review}</p><img src="${ url }"><span>${missing}</span>',
        {"review": "<b>hi</b> & <script>x</script>", "url": 'a" onerror="alert(1)'},
    )
    assert html == (
        "<p>&lt;b&gt;hi&lt;/b&gt; &amp; &lt;script&gt;x&lt;/script&gt;</p>"
        '<img src="a&quot; onerror=&quot;alert(1)"><span></span>'
    )


# The worker's answer form ---------------------------------------------------------------------------------------


def test_answer_form_numbers_are_stored_as_exact_text():
    fields = clean_form_fields([field(name="n", kind="number", min="0", max="10")])
    form = answer_forms.AnswerForm(fields, data={"answer-n": "2.50"})
    assert form.is_valid(), form.errors
    assert form.answer() == {"n": "2.50"}
    form = answer_forms.AnswerForm(fields, data={"answer-n": "10"})
    assert form.is_valid()
    assert form.answer() == {"n": "10"}
