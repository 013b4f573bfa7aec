"""Celery jobs for tasks and assignments: thin wrappers around services, run by Celery beat."""

from celery import shared_task

from tasks import disputes, hits, quality, reputations, services


@shared_task
def expire_overdue_assignments() -> int:
    return services.assignments_expire_overdue()


@shared_task
def auto_approve_due_submissions() -> int:
    return services.assignments_auto_approve_due()


@shared_task
def escalate_due_disputes() -> int:
    return disputes.disputes_escalate_due()


@shared_task
def refresh_reputations() -> int:
    return reputations.reputations_refresh()


@shared_task
def check_missed_submissions() -> int:
    return quality.submissions_check_missed()


@shared_task
def check_submission(assignment_id: int) -> None:
    quality.submission_checked(assignment_id=assignment_id)


def enqueue_submission_check(assignment_id: int) -> None:
    """The quality pipeline of a submission to a job without review rules (tasks.handlers says why not in the
    request); a lost job is run by check_missed_submissions."""
    check_submission.delay(assignment_id)


@shared_task
def expire_due_hits() -> int:
    return hits.hits_expire_due()
