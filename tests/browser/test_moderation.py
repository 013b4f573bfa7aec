"""In a real browser: a worker reports a job from its page, on a phone and a desktop (axe-clean, nothing wider than
the screen), and a moderator resolves the report in the admin and hides the job. The moderator's pages are
screenshotted for the README (UPDATE_SCREENSHOTS=1)."""

import pytest
from playwright.sync_api import expect

from moderation.models import Report, ReportStatus
from moderation.services import report_file
from tests.browser.helpers import log_in
from tests.browser.test_accessibility import axe_violations
from tests.factories import PASSWORD, make_job, make_moderator, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _background_jobs_run_at_once(background_jobs_run_at_once):
    """No Celery worker runs beside the live server: background jobs run in the request that enqueues them."""


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 800)])
def test_a_worker_reports_a_job_from_its_page(axe_page, width, height):
    requester = make_user("quiz_maker", display_name="Quiz Maker")
    job = make_job(requester=requester, title="Tell us your home address")
    worker = make_user("careful_worker")
    page = axe_page(width, height)
    log_in(page, worker.username, PASSWORD)

    page.goto(f"/jobs/{job.public_id}/")
    page.get_by_role("link", name="Report this job").click()
    expect(page.get_by_role("heading", name="Report the job “Tell us your home address”")).to_be_visible()
    page.get_by_role("button", name="Send the report").click()  # no reason chosen
    expect(page.get_by_text("This field is required.")).to_be_visible()
    assert axe_violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    page.get_by_label("Asks for personal data").check()
    page.get_by_label("Details").fill("It wants my street and house number.")
    page.get_by_role("button", name="Send the report").click()

    expect(page.get_by_text("your report went to the moderators")).to_be_visible()
    expect(page.get_by_role("heading", name="Tell us your home address")).to_be_visible()
    report = Report.objects.get()
    assert (report.reporter, report.job, report.reason) == (worker, job, "personal_data")


@pytest.fixture
def moderator(db):
    return make_moderator("moderator")


def test_a_moderator_resolves_a_report_and_hides_the_job_in_the_admin(new_page, screenshot, moderator):
    job = make_job(title="Tell us your home address")
    reporter = make_user("careful_worker")
    report = report_file(reporter=reporter, job=job, reason="personal_data", text="It wants my street.")
    page = new_page(1280, 900)
    page.goto("/admin/login/")
    page.get_by_label("Username").fill(moderator.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.get_by_role("link", name="Reports").first.click()
    screenshot(page, "moderator-report-queue")
    page.get_by_role("link", name="Tell us your home address").first.click()  # the reported job
    page.go_back()
    page.locator("#result_list tbody tr").first.locator("th a").click()
    page.get_by_role("link", name="Resolve…").click()
    page.get_by_label("Resolution note").fill("Collects home addresses: hidden.")
    page.get_by_label("Hide the reported job (reports of a job only)").check()
    screenshot(page, "moderator-resolve-report")
    page.get_by_role("button", name="Resolve").click()

    expect(page.get_by_text("1 report(s) resolved.")).to_be_visible()
    report.refresh_from_db()
    job.refresh_from_db()
    assert report.status == ReportStatus.RESOLVED
    assert job.hidden_reason == "Collects home addresses: hidden."

    page.goto(f"/admin/marketplace/user/{job.requester_id}/change/")
    expect(page.get_by_role("heading", name="Reports about them or their jobs (1)")).to_be_visible()
    screenshot(page, "moderator-user-page")
