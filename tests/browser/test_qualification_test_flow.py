"""Issue 11 in a browser: a worker who does not qualify for a job sees why, follows the link to the qualification and
its test, fails it (score shown), retakes it, passes, and starts working on the job."""

import re

import pytest
from playwright.sync_api import expect

from marketplace import qualification_tests, qualifications
from marketplace.models import QualificationGrant
from marketplace.qualifications import Guard
from marketplace.services import job_set_worker_rules
from tasks.models import Assignment
from tests.browser.helpers import log_in
from tests.browser.test_accessibility import axe_violations
from tests.factories import PASSWORD, make_job, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEST_CSV = (
    "question,options,answer\n"
    "Which of these is a mammal?,Shark|Dolphin|Trout,Dolphin\n"
    "Is “I loved it” positive or negative?,Positive|Negative,Positive\n"
    "What is the capital of France?,,Paris\n"
    "How many legs has a spider?,,eight\n"
    "Which colour is the sky on a clear day?,Green|Blue,Blue\n"
)


def answer(page, *, mammal: str, tone: str, capital: str, legs: str, sky: str) -> None:
    page.get_by_role("group", name=re.compile("mammal")).get_by_label(mammal).check()
    page.get_by_role("group", name=re.compile("I loved it")).get_by_label(tone).check()
    page.get_by_label(re.compile("capital of France")).fill(capital)
    page.get_by_label(re.compile("legs has a spider")).fill(legs)
    page.get_by_role("group", name=re.compile("sky")).get_by_label(sky).check()
    page.get_by_role("button", name="Send my answers").click()


def test_a_worker_who_does_not_qualify_takes_the_test_fails_retakes_passes_and_works(new_page, axe_page, screenshot):
    requester, worker = make_user("reina"), make_user("wilf", funds_sats=0)
    qualification = qualifications.qualification_type_create(
        owner=requester, name="Careful reader", description="Read short texts closely."
    )
    qualification_tests.qualification_test_set(
        qualification=qualification, actor=requester, csv_text=TEST_CSV, retry_delay_seconds=0
    )
    job = make_job(requester=requester, tasks=2, title="Judge a review's tone")
    job_set_worker_rules(
        job=job,
        actor=requester,
        requirements=[
            {
                "qualification_type_id": qualification.public_id,
                "comparator": "GreaterThanOrEqualTo",
                "integer_values": [80],
                "actions_guarded": Guard.ACCEPT,
            }
        ],
    )

    # The worker opens the job: they don't qualify, and the page says why.
    page = new_page()
    log_in(page, worker.username, PASSWORD)
    page.goto(f"/jobs/{job.public_id}/")
    expect(page.get_by_text("You don't qualify")).to_be_visible()
    expect(page.get_by_text("you do not have the qualification “Careful reader” this job asks for")).to_be_visible()
    expect(page.get_by_role("button", name="Start working")).to_have_count(0)

    # They follow the requirement's link to the qualification, and from there to its test.
    page.get_by_role("link", name="Careful reader").click()
    expect(page.get_by_role("heading", name="Careful reader")).to_be_visible()
    page.get_by_role("link", name="Take the test").click()
    expect(page.get_by_role("heading", name="Test for “Careful reader”")).to_be_visible()
    expect(page.get_by_role("heading", name="The test")).to_be_visible()
    assert "Paris" not in page.content()

    # A first try: two of five right.
    answer(page, mammal="Shark", tone="Positive", capital="paris", legs="six", sky="Green")
    expect(page.get_by_text("Your score: 40")).to_be_visible()
    expect(page.get_by_text("You may retake the test now")).to_be_visible()
    assert QualificationGrant.objects.get(type=qualification, worker=worker).value == 40
    page.goto(f"/jobs/{job.public_id}/")
    expect(page.get_by_text("your score on “Careful reader” is 40 and this job asks at least 80")).to_be_visible()

    # The delay is 0: they retake it at once and pass (a typed answer's case and spaces do not matter).
    page.get_by_role("link", name="Careful reader").click()
    page.get_by_role("link", name="Retake the test").click()
    expect(page.get_by_role("heading", name="Retake the test")).to_be_visible()
    answer(page, mammal="Dolphin", tone="Positive", capital="  PARIS ", legs="Eight", sky="Blue")
    expect(page.get_by_text("Your score: 100")).to_be_visible()
    screenshot(page, "qualification-test")
    assert QualificationGrant.objects.get(type=qualification, worker=worker).value == 100

    # Back on the job they qualify, start working, and the task page opens.
    page.goto(f"/jobs/{job.public_id}/")
    expect(page.get_by_text("You qualify for this job.")).to_be_visible()
    page.get_by_role("button", name="Start working").click()
    expect(page.get_by_text(re.compile(r"Review number \d"))).to_be_visible()
    assignment = Assignment.objects.get(worker=worker)
    assert page.url.endswith(f"/work/assignments/{assignment.public_id}/")

    # Both test pages pass axe on a phone.
    problems = []
    for who, path in [
        (worker, f"/qualifications/{qualification.public_id}/test/"),
        (requester, f"/requester/qualifications/{qualification.public_id}/test/"),
    ]:
        checked = axe_page(390, 844)
        log_in(checked, who.username, PASSWORD)
        checked.goto(path)
        screenshot(checked, f"phone-qualification-test-{'requester' if who == requester else 'worker'}")
        problems += [f"{path}: {violation}" for violation in axe_violations(checked)]
    assert not problems, "\n".join(problems)
