"""Issue 12: the requester's "Quality control" page, what the job page tells workers about the rules, and a rule's
decision on the worker's assignment page."""

import pytest
from django.urls import reverse

from marketplace import services as job_services
from tasks.models import Assignment, JobQuality
from tests.factories import make_job, make_quality_job, make_user, work_and_check
from tests.html_parsing import start_tags, visible_text
from tests.pages import messages_of

pytestmark = pytest.mark.django_db

# session, user, the header's unread count, the job, its tags, its quality rules
QUALITY_PAGE = 6


def posted(**settings) -> dict:
    """The form as a browser sends it: every number (empty for none), the radios, and only the ticked boxes."""
    data = {
        "control_rate_percent": "0",
        "accuracy_window": "20",
        "stop_after_controls": "3",
        "aggregation_method": "majority",
        "text_aggregation": "most_common",
        "agreement_percent": "70",
        "approve_after_controls": "5",
    }
    for name, value in settings.items():
        if value is True:
            data[name] = "on"
        elif value is not False:
            data[name] = str(value)
    return data


def test_the_requester_sets_the_rules_and_sees_what_workers_will_read(client, requester):
    job = make_job(requester=requester, tasks=2, assignments_per_task=3)
    client.force_login(requester)
    manage = client.get(reverse("job_manage", args=[job.public_id])).content.decode()
    url = reverse("job_quality", args=[job.public_id])
    assert f'href="{url}"' in manage
    page = client.get(url).content.decode()
    assert "Nothing yet: no rule is on (this job has no quality control)" in visible_text(page)
    assert 'name="form_token"' in page

    response = client.post(url, posted(control_rate_percent=10, approve_accuracy_percent=90, approve_on_agreement=True,
                                       flag_faster_than_seconds=5))  # fmt: skip
    assert response.status_code == 302
    assert response["Location"] == url
    rules = JobQuality.objects.get(job=job)
    assert (rules.control_rate_percent, rules.approve_accuracy_percent, rules.approve_on_agreement) == (10, 90, True)
    page = client.get(url)
    assert messages_of(page) == ["Saved: new work on this job follows these rules."]
    text = visible_text(page.content.decode())
    assert "Approved as soon as you submit when at least 90% of your last 20 checked tasks are right (after 5)." in text
    assert "Answers sent in under 5 s go to the requester for review." in text
    assert "Everything else is approved at the latest 3 days after you submit." in text


def test_every_setting_is_explained_on_the_page(client, requester):
    job = make_job(requester=requester, tasks=1)
    client.force_login(requester)
    text = visible_text(client.get(reverse("job_quality", args=[job.public_id])).content.decode())
    from tasks.quality import SETTING_HELP

    for sentence in SETTING_HELP.values():
        assert sentence in text


def test_a_refused_setting_is_shown_next_to_its_field_and_nothing_is_saved(client, requester):
    job = make_job(requester=requester, tasks=1)
    client.force_login(requester)
    url = reverse("job_quality", args=[job.public_id])
    response = client.post(url, posted(approve_accuracy_percent=90, reject_wrong_controls=True))
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["approve_accuracy_percent"] == [
        "Approving by accuracy needs controls: set a control rate above 0."
    ]
    assert form.errors["reject_wrong_controls"] == [
        "Rejecting wrong controls needs controls: set a control rate above 0."
    ]
    html = response.content.decode()
    assert 'id="id_approve_accuracy_percent"' in html
    assert html.index("Approving by accuracy needs controls") < html.index('id="id_approve_accuracy_percent"')
    response = client.post(url, posted(control_rate_percent=70))  # over the form's own bound
    assert "control_rate_percent" in response.context["form"].errors
    assert not JobQuality.objects.exists()


def test_only_the_owner_sees_the_page(client, requester):
    job = make_job(requester=requester, tasks=1)
    url = reverse("job_quality", args=[job.public_id])
    assert client.get(url).status_code == 302  # to log in
    client.force_login(make_user())
    assert client.get(url).status_code == 404
    assert client.post(url, posted(control_rate_percent=10)).status_code == 404
    assert not JobQuality.objects.exists()


def test_a_closed_job_shows_its_rules_without_changing_them(client, requester):
    job = make_quality_job(requester=requester, regular=1, flag_faster_than_seconds=5)
    job_services.job_close(job=job, actor=requester)
    client.force_login(requester)
    url = reverse("job_quality", args=[job.public_id])
    page = client.get(url).content.decode()
    assert "This job is closed: its quality control can no longer change." in visible_text(page)
    assert 'type="submit"' not in page.split('class="stack quality-settings"')[1].split("</form>")[0]
    client.post(url, posted(flag_faster_than_seconds=9))
    assert JobQuality.objects.get(job=job).flag_faster_than_seconds == 5


def test_the_starting_overlap_can_be_set_only_on_a_draft(client, requester):
    job = make_job(requester=requester, tasks=1, assignments_per_task=3)
    client.force_login(requester)
    page = client.get(reverse("job_quality", args=[job.public_id])).content.decode()
    overlap = next(attrs for tag, attrs in start_tags(page) if attrs.get("name") == "overlap_start")
    assert "disabled" in overlap
    assert "fixed when the job was published" in visible_text(page)


def test_the_page_acts_once_however_often_it_is_sent(client, requester):
    job = make_job(requester=requester, tasks=1)
    client.force_login(requester)
    url = reverse("job_quality", args=[job.public_id])
    data = posted(flag_faster_than_seconds=4) | {"form_token": "tok-quality-1"}
    assert client.post(url, data).status_code == 302
    again = client.post(url, data | {"flag_faster_than_seconds": "8"})
    assert again.status_code == 302
    assert JobQuality.objects.get(job=job).flag_faster_than_seconds == 4


def test_the_quality_pages_query_count_is_fixed(client, requester, django_assert_num_queries):
    job = make_quality_job(requester=requester, regular=1, controls=1, control_rate_percent=10)
    bare = make_job(requester=requester, tasks=1)
    client.force_login(requester)
    for each in (job, bare):
        with django_assert_num_queries(QUALITY_PAGE):
            assert client.get(reverse("job_quality", args=[each.public_id])).status_code == 200


# What workers are told -------------------------------------------------------------------------------------------


def test_the_job_page_says_how_work_is_judged(client, worker):
    job = make_quality_job(regular=2, controls=1, assignments_per_task=3, control_rate_percent=10,
                           approve_accuracy_percent=90, approve_on_agreement=True, reject_wrong_controls=True,
                           flag_faster_than_seconds=5)  # fmt: skip
    client.force_login(worker)
    text = visible_text(client.get(reverse("job_detail", args=[job.public_id])).content.decode())
    assert "How your work is judged" in text
    for sentence in (
        "Approved as soon as you submit when at least 90% of your last 20 checked tasks are right (after 5).",
        (
            "Approved when your answer agrees with the other workers' (once 3 have answered, "
            "and at least 70% of the answers agree)."
        ),
        "A wrong answer on a checked task may be rejected; you will see the right answer.",
        "Answers sent in under 5 s go to the requester for review.",
        "Everything else is approved at the latest 3 days after you submit.",
    ):
        assert sentence in text
    plain = make_job(tasks=1)
    assert "How your work is judged" not in client.get(reverse("job_detail", args=[plain.public_id])).content.decode()


def test_a_rules_approval_is_shown_on_the_workers_page(client):
    job = make_quality_job(controls=2, control_rate_percent=50, approve_accuracy_percent=50, approve_after_controls=1)
    worker = make_user()
    approved = work_and_check(job, worker)
    client.force_login(worker)
    text = visible_text(client.get(reverse("assignment_detail", args=[approved.public_id])).content.decode())
    assert "Approved by a rule of the job" in text
    assert (
        "Approved by the rule: at least 50% of your last 20 checked tasks are right (after 1). Yours: 100% of your "
        "last 1." in text
    )
    assert "Feedback" not in text  # said once, as the rule's decision


def test_a_rules_rejection_shows_the_right_answer_and_offers_a_dispute(client):
    job = make_quality_job(controls=2, control_rate_percent=50, reject_wrong_controls=True)
    worker = make_user()
    rejected = work_and_check(job, worker, sentiment="Negative")
    client.force_login(worker)
    page = client.get(reverse("assignment_detail", args=[rejected.public_id])).content.decode()
    text = visible_text(page)
    assert "Rejected: Wrong answer on a checked item" in text
    assert "The right answer: sentiment: Positive." in text
    assert reverse("dispute_open", args=[rejected.public_id]) in page


def test_a_flagged_submission_says_it_went_to_the_requester(client, requester):
    job = make_quality_job(requester=requester, regular=2, flag_faster_than_seconds=5)
    worker = make_user()
    flagged = work_and_check(job, worker, seconds=2)
    client.force_login(worker)
    text = visible_text(client.get(reverse("assignment_detail", args=[flagged.public_id])).content.decode())
    assert "Sent to the requester for review" in text
    assert "Sent 2.0 s after the task was taken: answers in under 5 s are reviewed by the requester." in text
    assert "No rule approves it: the requester decides. If they have not rejected it by" in text
    client.force_login(requester)
    queue = visible_text(client.get(reverse("review_queue", args=[job.public_id])).content.decode())
    assert "Sent to you by a rule" in queue
    assert "Why a rule sent it to you: Sent 2.0 s after the task was taken" in queue


def test_a_control_being_worked_on_looks_like_any_task(client):
    job = make_quality_job(regular=1, controls=1, control_rate_percent=50, reject_wrong_controls=True,
                           approve_accuracy_percent=90)  # fmt: skip
    pages = []
    for _ in range(2):
        worker = make_user()
        client.force_login(worker)
        client.post(reverse("job_start", args=[job.public_id]))
        assignment = Assignment.objects.get(worker=worker)
        page = client.get(reverse("assignment_detail", args=[assignment.public_id])).content.decode()
        pages.append((assignment.task.kind, page))
    assert {kind for kind, _page in pages} <= {"regular", "control"}
    for _kind, page in pages:
        text = visible_text(page).lower()
        assert "known answer" not in text
        assert "control" not in text
        assert "rule-decision" not in page
