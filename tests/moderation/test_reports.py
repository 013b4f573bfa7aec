"""Anyone logged in reports a job or a user from a small form; a moderator resolves the report with a note and may
act on it. Reports are limited per person per hour, with a clear message past the limit."""

import pytest
from django.urls import reverse

from core.errors import InvalidInput
from core.models import ActorKind, Event
from moderation.models import Report, ReportReason, ReportStatus
from moderation.services import report_file, report_resolve
from tests.factories import make_job, make_user

pytestmark = pytest.mark.django_db


def test_a_job_page_links_to_reporting_the_job_and_its_requester(worker_client, requester):
    job = make_job(requester=requester)
    page = worker_client.get(reverse("job_detail", args=[job.public_id])).content.decode()

    assert reverse("job_report", args=[job.public_id]) in page
    assert reverse("user_report", args=[requester.public_id]) in page


def test_the_requester_sees_no_report_links_on_their_own_job(requester_client, requester):
    job = make_job(requester=requester)
    page = requester_client.get(reverse("job_detail", args=[job.public_id])).content.decode()

    assert reverse("job_report", args=[job.public_id]) not in page


def test_reporting_needs_a_log_in(client, job):
    response = client.get(reverse("job_report", args=[job.public_id]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_a_worker_reports_a_job_from_its_page(worker_client, worker, job):
    url = reverse("job_report", args=[job.public_id])
    assert worker_client.get(url).status_code == 200

    response = worker_client.post(url, {"reason": "scam", "text": "Pays 1 sat for an hour of work."}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("job_detail", args=[job.public_id])
    assert "your report went to the moderators" in response.content.decode()
    report = Report.objects.get()
    assert (report.reporter, report.job, report.user, report.reason, report.status) == (
        worker,
        job,
        None,
        ReportReason.SCAM,
        ReportStatus.OPEN,
    )
    event = Event.objects.get(type="report.filed")
    assert (event.actor_kind, event.actor_id, event.subject_id) == (ActorKind.USER, worker.pk, report.public_id)
    # The reported requester is never told who reported them.
    assert list(event.audience.values_list("user_id", flat=True)) == [worker.pk]


def test_a_worker_reports_a_requester_by_their_public_name(worker_client, worker, requester, job):
    url = reverse("user_report", args=[requester.public_id]) + f"?from_job={job.public_id}"
    assert requester.public_name in worker_client.get(url).content.decode()

    response = worker_client.post(url, {"reason": "offensive", "text": ""})

    assert response.status_code == 302
    assert response["Location"] == reverse("job_detail", args=[job.public_id])
    assert Report.objects.get().user == requester


def test_a_report_form_says_what_is_missing(worker_client, job):
    url = reverse("job_report", args=[job.public_id])

    no_reason = worker_client.post(url, {"reason": "", "text": "Bad"})
    other_without_words = worker_client.post(url, {"reason": "other", "text": "  "})

    assert "This field is required" in no_reason.content.decode()
    assert "needs a few words" in other_without_words.content.decode()
    assert not Report.objects.exists()


def test_reporting_the_same_thing_twice_while_open_files_one_report(worker, job):
    first = report_file(reporter=worker, job=job, reason=ReportReason.SPAM)
    second = report_file(reporter=worker, job=job, reason=ReportReason.SCAM, text="Also a scam")

    assert first == second
    assert Report.objects.count() == 1


def test_nobody_reports_themselves_or_their_own_job(requester, job):
    with pytest.raises(InvalidInput):
        report_file(reporter=requester, job=job, reason=ReportReason.SPAM)
    with pytest.raises(InvalidInput):
        report_file(reporter=requester, user=requester, reason=ReportReason.SPAM)
    with pytest.raises(InvalidInput):
        report_file(reporter=make_user(), job=job, user=requester, reason=ReportReason.SPAM)
    assert not Report.objects.exists()


def test_reports_past_the_hourly_limit_are_refused_with_a_clear_message(settings, worker_client, worker):
    settings.REPORTS_PER_HOUR = 2
    jobs = [make_job() for _ in range(3)]
    for job in jobs[:2]:
        assert worker_client.post(reverse("job_report", args=[job.public_id]), {"reason": "spam"}).status_code == 302

    response = worker_client.post(reverse("job_report", args=[jobs[2].public_id]), {"reason": "spam"})

    assert response.status_code == 429
    assert "Too many reports: at most 2 an hour. Try again in" in response.content.decode()
    assert Report.objects.count() == 2


def test_a_moderator_resolves_a_report_with_a_note(moderator, worker, job):
    report = report_file(reporter=worker, job=job, reason=ReportReason.SPAM)
    with pytest.raises(InvalidInput):
        report_resolve(report=report, moderator=moderator, note="")

    report_resolve(report=report, moderator=moderator, note="Looked fine: a real survey.")
    report_resolve(report=report, moderator=moderator, note="Again")

    report.refresh_from_db()
    assert (report.status, report.resolution_note, report.resolved_by) == (
        ReportStatus.RESOLVED,
        "Looked fine: a real survey.",
        moderator,
    )
    [event] = Event.objects.filter(type="report.resolved")
    assert (event.actor_kind, event.actor_id) == (ActorKind.MODERATOR, moderator.pk)
    assert event.data["actions"] == []
    job.refresh_from_db()
    assert job.hidden_at is None
    assert job.requester.banned_at is None


def test_resolving_a_report_of_a_job_can_hide_it_and_ban_its_requester(moderator, worker, job):
    report = report_file(reporter=worker, job=job, reason=ReportReason.PERSONAL_DATA, text="Wants my address")

    report_resolve(report=report, moderator=moderator, note="Collects addresses.", hide_job=True, ban_user=True)

    job.refresh_from_db()
    job.requester.refresh_from_db()
    assert job.hidden_reason == "Collects addresses."
    assert job.requester.ban_reason == "Collects addresses."
    assert Event.objects.get(type="report.resolved").data["actions"] == ["user_banned", "job_hidden"]
    assert set(Event.objects.filter(actor=moderator).values_list("type", flat=True)) == {
        "user.banned",
        "job.hidden",
        "report.resolved",
    }


def test_a_report_of_a_user_cannot_hide_a_job(moderator, worker, requester):
    report = report_file(reporter=worker, user=requester, reason=ReportReason.OFFENSIVE)

    with pytest.raises(InvalidInput):
        report_resolve(report=report, moderator=moderator, note="Rude", hide_job=True, ban_user=True)

    report.refresh_from_db()
    requester.refresh_from_db()
    assert report.status == ReportStatus.OPEN
    assert requester.banned_at is None
