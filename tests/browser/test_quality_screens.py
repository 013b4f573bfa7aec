"""Issue 12's screens for the README: the requester turning on a job's quality control and review rules, and a
worker seeing, on their task's page, that a rule approved their work the moment they submitted it. Each page
passes axe and fits a phone. UPDATE_SCREENSHOTS=1 refreshes `quality-control` and `rule-decision`."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tasks.models import Assignment, AssignmentStatus, JobQuality, ReviewSource
from tests.browser.helpers import log_in
from tests.browser.test_accessibility import axe_violations
from tests.browser.test_phone_layout import OVERFLOWING
from tests.factories import PASSWORD, make_quality_job, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def checked_job():
    lab = make_user("lab", display_name="Review Lab")
    reviews = [
        ("Five stars. Fast delivery and it works perfectly.", "Positive"),
        ("Great battery, lasts for days.", ""),
        ("Absolutely love it, best gadget I own!", "Positive"),
        ("My daughter loves it, we bought a second one.", ""),
        ("I am very happy with it.", "Positive"),
        ("Brilliant value for the price.", ""),
        ("Works like a charm, highly recommended.", "Positive"),
        ("Exactly as described, would buy again.", ""),
        ("Perfect gift, arrived early.", "Positive"),
        ("Quiet, quick and easy to clean.", ""),
        ("Fits well, looks great, fair price.", "Positive"),
        ("Sturdy and light. Exactly what I needed.", ""),
    ]
    return make_quality_job(requester=lab, rows=reviews, terms={"title": "Is this review positive?"})


def test_the_requester_turns_on_review_by_rules(axe_page, screenshot, checked_job):
    page = axe_page(1280, 900)
    log_in(page, "lab", PASSWORD)
    page.goto(reverse("job_manage", args=[checked_job.public_id]))
    page.get_by_role("link", name="Quality control").click()
    expect(page.get_by_role("heading", name=re.compile("Quality control of"))).to_be_visible()
    page.get_by_label("Controls per 100 tasks").fill("20")
    page.get_by_label("Approve at once at accuracy (%)").fill("90")
    page.get_by_label("Only after this many controls").fill("5")
    page.get_by_label("Reject wrong answers to controls").check()
    page.get_by_label("Review by hand answers sent in under (seconds)").fill("5")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved: new work on this job follows these rules.")).to_be_visible()
    workers_read = page.get_by_role("region", name="What workers read on the job's page")
    expect(workers_read).to_contain_text(
        "Approved as soon as you submit when at least 90% of your last 20 checked tasks are right (after 5)."
    )
    rules = JobQuality.objects.get(job=checked_job)
    assert (rules.control_rate_percent, rules.approve_accuracy_percent, rules.reject_wrong_controls) == (20, 90, True)
    assert axe_violations(page) == []
    screenshot(page, "quality-control")

    # A refusal is said next to its field.
    page.get_by_label("Controls per 100 tasks").fill("0")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Approving by accuracy needs controls: set a control rate above 0.")).to_be_visible()
    assert axe_violations(page) == []

    phone = axe_page(390, 844)
    log_in(phone, "lab", PASSWORD)
    phone.goto(reverse("job_quality", args=[checked_job.public_id]))
    assert phone.evaluate(OVERFLOWING) == []
    assert axe_violations(phone) == []


def test_a_worker_reads_how_work_is_judged_and_sees_a_rule_approve_their_answer(axe_page, screenshot, checked_job):
    from tasks import quality

    quality.job_quality_set(
        job=checked_job,
        actor=checked_job.requester,
        control_rate_percent=50,
        approve_accuracy_percent=80,
        approve_after_controls=1,
        reject_wrong_controls=True,
        flag_faster_than_seconds=1,
    )
    make_user("wanda", funds_sats=0)
    page = axe_page(1280, 900)
    log_in(page, "wanda", PASSWORD)
    page.goto(reverse("job_detail", args=[checked_job.public_id]))
    judged = page.get_by_role("region", name="How your work is judged")
    expect(judged).to_contain_text("Approved as soon as you submit when at least 80% of your last 20 checked tasks")
    expect(judged).to_contain_text("Everything else is approved at the latest 3 days after you submit.")
    assert axe_violations(page) == []

    # She works until a rule has approved an answer: right away once a checked task went by.
    for _ in range(12):
        page.goto(reverse("job_detail", args=[checked_job.public_id]))
        page.get_by_role("button", name="Start working").click()
        page.get_by_label("Positive").check()
        page.wait_for_timeout(1100)  # not faster than the job's 1 s: a person reads the review first
        page.get_by_role("button", name="Submit", exact=True).click()
        expect(page.get_by_role("heading", name="My work")).to_be_visible()
        approved = Assignment.objects.filter(
            worker__username="wanda", status=AssignmentStatus.APPROVED, review_source=ReviewSource.RULE
        ).first()
        if approved:
            break
    assert approved is not None
    assert (approved.reviewed_at - approved.submitted_at).total_seconds() < 5
    page.goto(reverse("assignment_detail", args=[approved.public_id]))
    decision = page.get_by_role("region", name="Approved by a rule of the job")
    expect(decision).to_contain_text("Approved by the rule: at least 80% of your last 20 checked tasks are right")
    assert axe_violations(page) == []
    screenshot(page, "rule-decision")

    phone = axe_page(390, 844)
    log_in(phone, "wanda", PASSWORD)
    phone.goto(reverse("assignment_detail", args=[approved.public_id]))
    assert phone.evaluate(OVERFLOWING) == []
    assert axe_violations(phone) == []
