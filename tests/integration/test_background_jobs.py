"""The periodic jobs Celery beat schedules, run by a real Celery worker process over Redis."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from alerts.background import match_unmatched_jobs_to_alerts
from api.background import deliver_due_webhooks, prune_idempotency_records, prune_webhook_deliveries
from marketplace.background import close_expired_jobs
from marketplace.models import Job, JobStatus
from mturk.background import prune_request_tokens
from notifications.background import send_due_notification_emails
from payments.background import advance_due_payouts, sync_pending_deposits
from tasks.background import (
    auto_approve_due_submissions,
    check_missed_submissions,
    escalate_due_disputes,
    expire_due_hits,
    expire_overdue_assignments,
    refresh_reputations,
)
from tasks.models import Assignment, AssignmentStatus, ReviewSource
from tasks.services import assignment_claim, assignment_submit
from tests.factories import make_job, make_user
from tests.integration.conftest import wait_for


def test_beat_schedules_every_sweeper():
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled == {
        expire_overdue_assignments.name,
        auto_approve_due_submissions.name,
        close_expired_jobs.name,
        advance_due_payouts.name,
        sync_pending_deposits.name,
        deliver_due_webhooks.name,
        prune_idempotency_records.name,
        prune_webhook_deliveries.name,
        escalate_due_disputes.name,
        send_due_notification_emails.name,
        match_unmatched_jobs_to_alerts.name,
        refresh_reputations.name,
        check_missed_submissions.name,
        expire_due_hits.name,
        prune_request_tokens.name,
    }


def test_worker_expires_overdue_assignments_and_reopens_their_task(celery_worker_process):
    job = make_job(tasks=1, time_limit_seconds=60)
    worker = make_user()
    long_ago = timezone.now() - timedelta(hours=1)
    overdue = assignment_claim(job=job, worker=worker, now=long_ago)

    expire_overdue_assignments.delay()

    wait_for(lambda: Assignment.objects.get(pk=overdue.pk).status == AssignmentStatus.EXPIRED)
    job.refresh_from_db()
    assert job.open_slot_count == 1
    assert job.tasks.get().slots_open == 1


def test_worker_auto_approves_due_submissions_only(celery_worker_process):
    job = make_job(tasks=2, auto_approve_seconds=3600)
    long_ago = timezone.now() - timedelta(hours=2)
    due_worker, fresh_worker = make_user(), make_user()
    due = assignment_claim(job=job, worker=due_worker, now=long_ago)
    assignment_submit(assignment=due, worker=due_worker, data={"answer-sentiment": "Positive"}, now=long_ago)
    fresh = assignment_claim(job=job, worker=fresh_worker)
    assignment_submit(assignment=fresh, worker=fresh_worker, data={"answer-sentiment": "Mixed"})

    auto_approve_due_submissions.delay()

    approved = wait_for(lambda: Assignment.objects.filter(pk=due.pk, status=AssignmentStatus.APPROVED).first())
    assert approved.review_source == ReviewSource.AUTO
    assert Assignment.objects.get(pk=fresh.pk).status == AssignmentStatus.SUBMITTED


def test_worker_closes_expired_jobs(celery_worker_process):
    job = make_job(tasks=1, expires_at=timezone.now() + timedelta(hours=1))
    Job.objects.filter(pk=job.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    close_expired_jobs.delay()

    wait_for(lambda: Job.objects.get(pk=job.pk).status == JobStatus.CLOSED)
