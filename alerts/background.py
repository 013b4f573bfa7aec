"""Celery jobs of work alerts: thin wrappers that call alerts.services.

Matching a published job against every saved search is work for a background job, not for the publish request:
the event handler enqueues it once the publication committed, and the sweeper enqueues what a lost message left.
"""

from celery import shared_task

from alerts import selectors, services


@shared_task(acks_late=True)
def match_job_to_alerts(job_id: str) -> int:
    """`job_id` is the job's public id, as its `job.published` event names it (no query in the publish request)."""
    return len(services.job_alerts_match(job_id=job_id))


def enqueue_job_alerts_match(job_id: str) -> None:
    match_job_to_alerts.delay(job_id)


@shared_task
def match_unmatched_jobs_to_alerts() -> int:
    """Sweeper: recently published jobs whose matching never ran."""
    due = selectors.jobs_not_matched_to_alerts()
    for job_id in due:
        enqueue_job_alerts_match(job_id)
    return len(due)
