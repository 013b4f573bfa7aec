"""Issue 11's screens for the README: the board as a worker sees it, saying which jobs they qualify for and why not,
beside each requester's reputation; a job's "Who may work" section; and the requester's pages that set it up. Each
page passes axe and fits a phone."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from marketplace.models import APPROVAL_RATE_TYPE_ID
from marketplace.qualifications import Guard, qualification_grant, qualification_type_create
from marketplace.services import job_set_worker_rules
from tasks.reputations import reputations_refresh
from tests.browser.helpers import log_in
from tests.browser.test_accessibility import axe_violations
from tests.browser.test_phone_layout import OVERFLOWING
from tests.factories import PASSWORD, approved_work, make_job, make_user
from tests.factories.reputations import reviewed, worked

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def requirement(type_id: str, comparator: str, values: list[int], guard: str = Guard.ACCEPT) -> dict:
    return {
        "qualification_type_id": type_id,
        "comparator": comparator,
        "integer_values": values,
        "actions_guarded": guard,
    }


@pytest.fixture
def marketplace(settings):
    settings.REPUTATION_MIN_APPROVED = 3
    settings.REPUTATION_MIN_WORKERS = 1
    day_ago = timezone.now() - timedelta(days=1)
    lab = make_user("lab", display_name="Linguistics Lab")
    german = qualification_type_create(
        owner=lab, name="Fluent German", description="Native or C1 German, checked by our short test."
    )
    translate = make_job(requester=lab, title="Translate product names into German", estimated_seconds_per_task=60)
    job_set_worker_rules(
        job=translate, actor=lab, requirements=[requirement(german.public_id, "GreaterThanOrEqualTo", [80])]
    )
    survey = make_job(requester=lab, title="A five-minute survey on reading habits", tasks=6)
    approved_work(survey, 4, seconds=240, accepted_at=day_ago)
    job_set_worker_rules(
        job=survey,
        actor=lab,
        requirements=[requirement(APPROVAL_RATE_TYPE_ID, "GreaterThanOrEqualTo", [95])],
        excluded_job_ids=[],
        max_tasks_per_worker=1,
    )
    make_job(requester=make_user("shop", display_name="Corner Shop"), title="Is this review positive?")

    worker = make_user("wanda", funds_sats=0)
    earlier = make_job(requester=make_user(), tasks=3)
    for _ in range(3):
        reviewed(worked(earlier, worker=worker, accepted_at=day_ago, seconds=30), after_seconds=60)
    qualification_grant(qualification=german, actor=lab, worker_id=make_user().public_id, value=95)
    reputations_refresh()
    return {"lab": lab, "worker": worker, "german": german, "translate": translate, "survey": survey}


@pytest.mark.parametrize(("width", "height", "name"), [(390, 844, "phone"), (1280, 900, "desktop")])
def test_the_board_says_who_qualifies_beside_reputations(axe_page, screenshot, marketplace, width, height, name):
    page = axe_page(width, height)
    log_in(page, "wanda", PASSWORD)
    page.goto(reverse("board"))
    translate = page.locator(".job-card", has_text="Translate product names")
    expect(translate).to_contain_text("You don't qualify, because you do not have the qualification “Fluent German”")
    survey = page.locator(".job-card", has_text="five-minute survey")
    expect(survey).to_contain_text("You qualify for this job.")
    assert page.evaluate(OVERFLOWING) == []
    assert axe_violations(page) == []
    screenshot(page, f"board-qualifications-{name}")

    page.goto(reverse("job_detail", args=[marketplace["translate"].public_id]))
    section = page.get_by_role("region", name="Who may work on this job")
    expect(section).to_contain_text("Fluent German: at least 80")
    expect(section.get_by_role("link", name="Fluent German")).to_be_visible()
    assert page.evaluate(OVERFLOWING) == []
    assert axe_violations(page) == []
    screenshot(page, f"job-who-may-work-{name}")


def test_the_requesters_qualification_pages(axe_page, screenshot, marketplace):
    page = axe_page(1280, 900)
    log_in(page, "lab", PASSWORD)
    page.goto(reverse("qualification_manage", args=[marketplace["german"].public_id]))
    expect(page.get_by_role("heading", name="Workers who have it (1)")).to_be_visible()
    assert axe_violations(page) == []
    screenshot(page, "qualification-manage")

    page.goto(reverse("job_worker_rules", args=[marketplace["survey"].public_id]))
    expect(page.get_by_role("heading", name="Qualification requirements")).to_be_visible()
    assert axe_violations(page) == []
    screenshot(page, "job-worker-rules")

    phone = axe_page(390, 844)
    log_in(phone, "lab", PASSWORD)
    phone.goto(reverse("job_worker_rules", args=[marketplace["survey"].public_id]))
    assert phone.evaluate(OVERFLOWING) == []
    assert axe_violations(phone) == []
