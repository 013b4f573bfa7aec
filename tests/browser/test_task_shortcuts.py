"""Issue 9: keyboard shortcuts on the task page: 1–9 pick a choice, Enter submits, documented on the page."""

import pytest
from playwright.sync_api import expect

from tasks import services as task_services
from tasks.models import Assignment, AssignmentStatus
from tests.browser.helpers import log_in
from tests.factories import PASSWORD, make_job, make_user

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_worker_answers_with_the_keyboard(new_page):
    job = make_job(tasks=1)
    worker = make_user()
    assignment = task_services.assignment_claim(job=job, worker=worker)
    page = new_page()
    log_in(page, worker.username, PASSWORD)
    page.goto(f"/work/assignments/{assignment.public_id}/")
    expect(page.get_by_text("pick an answer of the first question with choices")).to_be_visible()

    page.keyboard.press("2")
    expect(page.get_by_label("Negative")).to_be_checked()
    page.keyboard.press("3")
    expect(page.get_by_label("Mixed")).to_be_checked()
    page.get_by_label("Notes").fill("typing 1 here picks nothing")
    expect(page.get_by_label("Mixed")).to_be_checked()
    page.get_by_label("Mixed").focus()
    page.keyboard.press("Enter")

    expect(page.get_by_text("Submitted. Thank you!")).to_be_visible()
    submitted = Assignment.objects.get(pk=assignment.pk)
    assert submitted.status == AssignmentStatus.SUBMITTED
    assert submitted.answer["sentiment"] == "Mixed"
    assert submitted.answer["notes"] == "typing 1 here picks nothing"
