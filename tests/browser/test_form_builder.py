"""Issue 9: the form builder adds and removes fields without a page reload, and shows choices, minimum and maximum
only for the kinds that use them; without JavaScript the page still posts its way there."""

import pytest
from playwright.sync_api import Page, expect

from marketplace import services
from marketplace.models import Job
from tests.browser.helpers import log_in
from tests.factories import PASSWORD, make_bare_draft

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_builder(page: Page, job: Job, username: str) -> list[str]:
    """Log in, open the job's answer form and return the list the page's console errors go to (a script the
    Content-Security-Policy blocked would be one)."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, username, PASSWORD)
    page.goto(f"/requester/jobs/{job.public_id}/form/")
    expect(page.get_by_role("heading", name="Answer form")).to_be_visible()
    return errors


def expect_kind_inputs(page: Page, index: int, *, shown: set[str]) -> None:
    for key in ("choices", "min", "max"):
        field = page.locator(f"#id_fields-{index}-{key}")
        if key in shown:
            expect(field).to_be_visible()
        else:
            expect(field).to_be_hidden()


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_add_two_fields_remove_one_and_switch_kinds_without_a_reload(new_page, screenshot, requester, width, height):
    job = make_bare_draft(requester=requester)
    page = new_page(width, height)
    errors = open_builder(page, job, requester.username)
    page.evaluate("window.sameDocument = true")  # gone if the page reloads or navigates

    # The first field starts as short text: no choices, minimum or maximum; choosing a kind shows its inputs.
    page.get_by_label("Prompt").fill("Is {{word}} a noun?")
    page.locator("#id_fields-0-name").fill("is_noun")
    page.locator("#id_fields-0-label").fill("Is it a noun?")
    expect_kind_inputs(page, 0, shown=set())
    page.locator("#id_fields-0-kind").select_option("single_choice")
    expect_kind_inputs(page, 0, shown={"choices"})
    page.locator("#id_fields-0-choices").fill("Yes\nNo")
    page.locator("#id_fields-0-kind").select_option("number")
    expect_kind_inputs(page, 0, shown={"min", "max"})
    page.locator("#id_fields-0-min").fill("3")  # typed, then the kind changes back: hidden, and not saved
    page.locator("#id_fields-0-kind").select_option("single_choice")
    expect_kind_inputs(page, 0, shown={"choices"})
    expect(page.locator("#id_fields-0-choices")).to_have_value("Yes\nNo")

    # "Add a field" twice: each new field comes in the page, with the focus on its name.
    page.get_by_role("button", name="Add a field").click()
    expect(page.locator("#id_fields-1-name")).to_be_focused()
    expect(page.get_by_role("status").filter(has_text="Added field 2.")).to_be_attached()
    page.keyboard.type("stars")
    page.locator("#id_fields-1-label").fill("How many stars?")
    expect_kind_inputs(page, 1, shown=set())
    page.locator("#id_fields-1-kind").select_option("number")
    expect_kind_inputs(page, 1, shown={"min", "max"})
    page.locator("#id_fields-1-min").fill("1")
    page.locator("#id_fields-1-max").fill("5")
    page.get_by_role("button", name="Add a field").click()
    expect(page.locator("#id_fields-2-name")).to_be_focused()
    page.locator("#id_fields-2-name").fill("scratch")
    page.locator("#id_fields-2-label").fill("Not needed after all")
    expect(page.locator('input[name="fields-TOTAL_FORMS"]')).to_have_value("3")
    expect(page.get_by_role("group", name="Field 3")).to_be_visible()

    # Remove the third: it goes, with a way back that has the focus; undo, then remove it for good.
    page.get_by_role("button", name="Remove field 3").click()
    expect(page.locator("#id_fields-2-name")).to_be_hidden()
    expect(page.get_by_text("Removed field “scratch”.").first).to_be_visible()
    undo = page.get_by_role("button", name="Undo removing field “scratch”")
    expect(undo).to_be_focused()
    undo.click()
    expect(page.locator("#id_fields-2-name")).to_be_focused()
    expect(page.get_by_role("status").filter(has_text="Restored field “scratch”.")).to_be_attached()
    page.get_by_role("button", name="Remove field 3").click()
    expect(page.locator("#id_fields-2-DELETE")).to_be_checked()
    expect(page.get_by_role("group", name="Field 3")).to_have_count(0)
    if width < 600:
        screenshot(page, "phone-form-builder")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"
    assert page.evaluate("window.sameDocument") is True, "adding and removing fields reloaded the page"

    page.get_by_role("button", name="Save answer form").click()
    expect(page.get_by_text("Answer form saved.")).to_be_visible()
    job.refresh_from_db()
    assert job.form_fields == [
        {"name": "is_noun", "kind": "single_choice", "label": "Is it a noun?", "help_text": "", "required": True,
         "choices": ["Yes", "No"], "min": None, "max": None},
        {"name": "stars", "kind": "number", "label": "How many stars?", "help_text": "", "required": True,
         "choices": [], "min": "1", "max": "5"},
    ]  # fmt: skip
    assert errors == []


def test_a_field_removed_before_a_refused_save_stays_removed_and_can_come_back(new_page, requester):
    job = make_bare_draft(requester=requester)
    page = new_page()
    open_builder(page, job, requester.username)
    page.get_by_role("button", name="Add a field").click()
    page.locator("#id_fields-1-name").fill("notes")
    page.locator("#id_fields-1-label").fill("Notes")
    page.get_by_role("button", name="Add a field").click()
    page.locator("#id_fields-2-name").fill("notes")  # the same name twice: the save is refused
    page.locator("#id_fields-2-label").fill("More notes")
    page.get_by_role("button", name="Remove field 1").click()

    page.get_by_role("button", name="Save answer form").click()

    expect(page.get_by_text("the name “notes” is used twice")).to_be_visible()
    expect(page.locator("#id_fields-0-name")).to_be_hidden()
    first_shown = page.get_by_role("group", name="Field 1")  # the first field shown is number 1
    expect(first_shown.get_by_label("Name")).to_have_value("notes")
    page.get_by_role("button", name="Undo removing field “answer”").click()
    expect(page.locator("#id_fields-0-name")).to_be_visible()
    expect(page.locator("#id_fields-0-DELETE")).not_to_be_checked()
    page.locator("#id_fields-2-name").fill("more_notes")
    page.get_by_role("button", name="Save answer form").click()
    expect(page.get_by_text("Answer form saved.")).to_be_visible()
    job.refresh_from_db()
    assert job.answer_fields == ["answer", "notes", "more_notes"]


def test_a_form_with_as_many_fields_as_it_may_have_says_so_instead_of_adding_one(new_page, requester):
    job = make_bare_draft(requester=requester)
    fields = [{"name": f"note_{number}", "label": "A note", "kind": "short_text"} for number in range(1, 51)]
    services.job_set_builder_form(job=job, actor=requester, prompt="", fields=fields)
    page = new_page()
    open_builder(page, job, requester.username)

    page.get_by_role("button", name="Add a field").click()

    expect(page.get_by_text("A form can have at most 50 fields.")).to_be_visible()
    expect(page.locator('input[name="fields-TOTAL_FORMS"]')).to_have_value("50")
    expect(page.locator("[data-builder-field]")).to_have_count(50)


def test_without_javascript_add_a_field_posts_and_every_input_shows(chromium, live_server, requester):
    job = make_bare_draft(requester=requester)
    context = chromium.new_context(java_script_enabled=False, base_url=live_server.url)
    try:
        page = context.new_page()
        open_builder(page, job, requester.username)
        expect_kind_inputs(page, 0, shown={"choices", "min", "max"})  # nothing could show them on a change of kind
        expect(page.get_by_role("button", name="Remove field 1")).to_be_hidden()
        page.locator("#id_fields-0-kind").select_option("number")
        page.locator("#id_fields-0-max").fill("10")

        with page.expect_navigation():
            page.get_by_role("button", name="Add a field").click()

        expect(page.locator("#id_fields-0-max")).to_have_value("10")
        page.locator("#id_fields-1-name").fill("extra")
        page.locator("#id_fields-1-label").fill("Extra")
        page.get_by_label("Delete").first.check()
        page.get_by_role("button", name="Save answer form").click()
        expect(page.get_by_text("Answer form saved.")).to_be_visible()
    finally:
        context.close()
    job.refresh_from_db()
    assert job.answer_fields == ["extra"]
