"""Issue 9: the form builder shows choices, minimum and maximum only for the kinds that use them, and its "Add a
field" button still works without JavaScript (the browser test tests/browser/test_form_builder.py covers the page
with its script)."""

import pytest
from django.urls import reverse

from marketplace import services
from marketplace.answer_fields import FIELD_KINDS, kind_specific_keys
from tests.factories import make_bare_draft, make_job
from tests.html_parsing import start_tags
from tests.marketplace.requester_posts import NOTE_FIELD, NOUN_FIELD, builder_post
from tests.pages import messages_of

pytestmark = pytest.mark.django_db

NUMBER_FIELD = {"name": "stars", "label": "How many stars?", "kind": "number", "required": True, "min": "1",
                "max": "5"}  # fmt: skip


def kind_inputs_shown(html: str) -> list[list[str]]:
    """For each field of the page, in order (the <template>'s empty field last), which of its kind-specific inputs
    (choices, min, max) are not hidden."""
    wrappers = [attrs for tag, attrs in start_tags(html) if tag == "div" and "data-kind-input" in attrs]
    per_field = len(kind_specific_keys())
    return [
        [attrs["data-kind-input"] for attrs in wrappers[start : start + per_field] if "hidden" not in attrs]
        for start in range(0, len(wrappers), per_field)
    ]


def test_each_kind_declares_the_definition_keys_it_cleans():
    """The builder shows an input for exactly the keys a kind's definition keeps."""
    raw = {"choices": ["Yes", "No"], "min": "1", "max": "5"}
    for kind in FIELD_KINDS.values():
        assert set(kind.clean_definition(raw, 1)) == set(kind.definition_keys), kind
    assert kind_specific_keys() == ("choices", "min", "max")


def test_the_first_render_hides_choices_min_and_max_for_kinds_that_do_not_use_them(requester_client, requester):
    job = make_bare_draft(requester=requester)
    services.job_set_builder_form(
        job=job, actor=requester, prompt="Is {{word}} a noun?", fields=[NOUN_FIELD, NOTE_FIELD, NUMBER_FIELD]
    )

    response = requester_client.get(reverse("job_form", args=[job.public_id]))

    html = response.content.decode()
    assert kind_inputs_shown(html) == [["choices"], [], ["min", "max"], []]  # the last: a new field, short text
    options = {attrs["value"]: attrs["data-uses"] for tag, attrs in start_tags(html) if tag == "option"}
    assert options == {
        "short_text": "",
        "long_text": "",
        "single_choice": "choices",
        "multiple_choice": "choices",
        "number": "min max",
        "checkbox": "",
    }


def test_the_page_loads_the_builder_script_from_the_site_and_runs_no_inline_script(requester_client, requester):
    job = make_bare_draft(requester=requester)

    html = requester_client.get(reverse("job_form", args=[job.public_id])).content.decode()

    scripts = [attrs for tag, attrs in start_tags(html) if tag == "script"]
    assert all(attrs.get("src") for attrs in scripts), "the Content-Security-Policy runs no inline script"
    builder_script = [attrs for attrs in scripts if attrs["src"].endswith("js/form-builder.js")]
    assert len(builder_script) == 1
    assert "defer" in builder_script[0]
    template = [attrs for tag, attrs in start_tags(html) if tag == "template"]
    assert template == [{"id": "builder-empty-field"}]
    assert 'name="fields-__prefix__-name"' in html


def test_add_a_field_without_javascript_posts_and_shows_the_fields_with_their_kinds_inputs(requester_client, requester):
    job = make_bare_draft(requester=requester)
    url = reverse("job_form", args=[job.public_id])

    response = requester_client.post(url, builder_post([NOUN_FIELD, NUMBER_FIELD], button="add_field"))

    assert response.status_code == 200
    formset = response.context["formset"]
    assert [form["name"].value() for form in formset.forms] == ["is_noun", "stars", None]
    assert formset.forms[2]["kind"].value() == "short_text"
    assert kind_inputs_shown(response.content.decode()) == [["choices"], ["min", "max"], [], []]
    new_field = {"name": "notes", "label": "Notes", "kind": "long_text", "required": False}
    response = requester_client.post(url, builder_post([NOUN_FIELD, NUMBER_FIELD, new_field]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert [(field["name"], field["kind"]) for field in job.form_fields] == [
        ("is_noun", "single_choice"),
        ("stars", "number"),
        ("notes", "long_text"),
    ]


def test_what_hidden_inputs_hold_for_another_kind_is_neither_checked_nor_saved(requester_client, requester):
    """A requester typed a minimum, then made the field short text: the hidden minimum is no error, and not kept."""
    job = make_bare_draft(requester=requester)
    was_a_number = {"name": "word", "label": "A word", "kind": "short_text", "required": True, "min": "abc",
                    "max": "7", "choices": "Yes\nNo"}  # fmt: skip
    was_a_choice = {**NUMBER_FIELD, "choices": "One\nTwo"}

    response = requester_client.post(
        reverse("job_form", args=[job.public_id]), builder_post([was_a_number, was_a_choice])
    )

    assert response.status_code == 302, response.context["formset"].errors
    job.refresh_from_db()
    word, stars = job.form_fields
    assert (word["choices"], word["min"], word["max"]) == ([], None, None)
    assert (stars["choices"], stars["min"], stars["max"]) == ([], "1", "5")


def test_a_number_fields_own_bad_minimum_is_still_an_error(requester_client, requester):
    job = make_bare_draft(requester=requester)

    response = requester_client.post(
        reverse("job_form", args=[job.public_id]), builder_post([{**NUMBER_FIELD, "min": "abc"}])
    )

    assert response.status_code == 200
    assert response.context["formset"].forms[0].errors == {"min": ["Enter a number."]}
    job.refresh_from_db()
    assert job.form_fields == []


def test_a_published_jobs_form_offers_no_adding_or_removing(requester_client, requester):
    job = make_job(requester=requester)

    html = requester_client.get(reverse("job_form", args=[job.public_id])).content.decode()

    assert "data-builder-remove" not in html
    assert "<template" not in html
    assert kind_inputs_shown(html) == [["choices"], []]


def test_add_a_field_without_javascript_keeps_all_fields_of_a_full_form_and_says_why_none_was_added(
    requester_client, requester
):
    """It used to keep 49 of them, so the 50th field typed was lost."""
    job = make_bare_draft(requester=requester)
    fields = [{**NOTE_FIELD, "name": f"note_{number}"} for number in range(1, 51)]

    response = requester_client.post(
        reverse("job_form", args=[job.public_id]), builder_post(fields, button="add_field")
    )

    formset = response.context["formset"]
    assert [form["name"].value() for form in formset.forms] == [field["name"] for field in fields]
    assert messages_of(response) == ["A form can have at most 50 fields."]
