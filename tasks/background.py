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
def expire_due_hits() -> int:
    return hits.hits_expire_due()
