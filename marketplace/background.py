"""Celery jobs for jobs: thin wrappers around services, run by Celery beat."""

from celery import shared_task

from marketplace import services


@shared_task
def close_expired_jobs() -> int:
    return services.jobs_close_expired()
