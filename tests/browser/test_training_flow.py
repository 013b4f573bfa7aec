"""Issue 12 in a browser, on a phone: a worker told to do a job's training first follows the link, answers the training
tasks (seeing the correct answer after each), passes and starts working; the requester's known answers page. Both
pages pass axe and fit the screen."""

import re

import pytest
from playwright.sync_api import expect

from marketplace import services as job_services
from tasks import services
from tasks.models import Assignment, JobQuality
from tests.browser.helpers import log_in
from tests.browser.test_accessibility import axe_violations
from tests.factories import PASSWORD, make_job, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_worker_trains_on_a_phone_passes_and_starts_working(new_page, axe_page, screenshot):
    requester, worker = make_user("rhea"), make_user("wendel", funds_sats=0)
    job = make_job(requester=requester, tasks=0, publish=False, title="Judge a review's tone")
    csv_text = (
        "review,Training,Gold.sentiment\n"
        "A real review,,\n"
        "“I loved every minute”,yes,Positive\n"
        "“Never again”,yes,Negative\n"
    )
    services.tasks_add_from_csv(job=job, actor=requester, csv_text=csv_text)
    JobQuality.objects.create(job=job, training_pass_percent=100)
    job_services.job_publish(job=job, actor=requester)

    page = new_page(390, 844)
    log_in(page, worker.username, PASSWORD)
    page.goto(f"/jobs/{job.public_id}/")
    expect(page.get_by_text("you have not passed this job's training yet")).to_be_visible()
    page.get_by_role("link", name="Do this job's training first").click()

    expect(page.get_by_text("Training task 1 of 2.")).to_be_visible()
    expect(page.get_by_text("I loved every minute")).to_be_visible()
    assert fits(page)
    page.get_by_label("Positive").check()
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("heading", name=re.compile("^Right"))).to_be_visible()
    expect(page.get_by_text("Training task 2 of 2.")).to_be_visible()
    screenshot(page, "phone-training")
    page.get_by_label("Negative").check()
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("heading", name="Your score: 100%")).to_be_visible()
    page.get_by_role("link", name="Go to the job").click()
    page.get_by_role("button", name="Start working").click()
    expect(page.get_by_text("A real review")).to_be_visible()
    assert Assignment.objects.filter(worker=worker, job=job).count() == 1

    problems = []
    task = job.tasks.filter(kind="training").order_by("position").first()
    for who, path in [
        (worker, f"/jobs/{job.public_id}/training/"),
        (requester, f"/requester/jobs/{job.public_id}/tasks/{task.public_id}/known-answers/"),
    ]:
        checked = axe_page(390, 844)
        log_in(checked, who.username, PASSWORD)
        checked.goto(path)
        assert fits(checked), path
        screenshot(checked, "phone-training-score" if who == worker else "phone-known-answers")
        problems += [f"{path}: {violation}" for violation in axe_violations(checked)]
    assert not problems, "\n".join(problems)
