"""What the alerts app does when domain events happen (subscribed in AlertsConfig.ready): a job on the board is
matched against the saved searches by a background job, after the publication committed."""

from alerts import background
from core.events import subscribe
from core.models import Event


def match_published_job(event: Event) -> None:
    job_id = event.data.get("job_id") or event.subject_id
    background.enqueue_job_alerts_match(job_id)


def connect() -> None:
    # Resuming a paused job records job.published too: that run alerts only workers not alerted yet (alerts are
    # once per job, and only for searches saved before the first publication).
    subscribe("job.published", match_published_job)
