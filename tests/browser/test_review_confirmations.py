"""Issue 9: the review queue selects all on a page, and asks before rejecting and before closing a job."""

import pytest
from playwright.sync_api import expect

from marketplace.models import Job, JobStatus
from tasks.models import Assignment, AssignmentStatus
from tests.browser.helpers import log_in
from tests.factories import PASSWORD, make_job, make_submitted_assignment

pytestmark = pytest.mark.django_db(transaction=True)


def test_reject_and_close_ask_first_and_select_all_selects_the_page(new_page, requester):
    job = make_job(requester=requester, tasks=3)
    one, two = (make_submitted_assignment(job=job) for _ in range(2))
    page = new_page()
    log_in(page, requester.username, PASSWORD)
    page.goto(f"/requester/jobs/{job.public_id}/review/")

    page.get_by_label("all on this page").check()
    for box in page.locator('input[name="selected"]').all():
        expect(box).to_be_checked()

    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.locator(f"#review-{one.public_id}").get_by_role("button", name="Reject").click()
    page.wait_for_timeout(300)
    assert asked
    assert "Reject this submission?" in asked[0]
    assert Assignment.objects.get(pk=one.pk).status == AssignmentStatus.SUBMITTED, "dismissed: nothing changed"

    page.locator(f"#feedback-{one.public_id}").fill("Not what was asked.")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#review-{one.public_id}").get_by_role("button", name="Reject").click()
    expect(page.locator(f"#review-{one.public_id}").get_by_text("Submission rejected.")).to_be_visible()
    assert Assignment.objects.get(pk=one.pk).status == AssignmentStatus.REJECTED
    assert Assignment.objects.get(pk=two.pk).status == AssignmentStatus.SUBMITTED

    page.goto(f"/requester/jobs/{job.public_id}/")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Close job").click()
    page.wait_for_timeout(300)
    assert Job.objects.get(pk=job.pk).status == JobStatus.PUBLISHED
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Close job").click()
    expect(page.get_by_text("closed", exact=False).first).to_be_visible()
    assert Job.objects.get(pk=job.pk).status == JobStatus.CLOSED
