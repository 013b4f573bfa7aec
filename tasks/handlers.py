"""What the tasks app does when domain events happen (subscribed in TasksConfig.ready): run the quality pipeline on
each submission once it is committed, in the request that submitted it, so a rule's approval (and, on its commit,
the payout) follows within the same request. A pipeline that fails here is logged by core.events and run again by
the sweeper (tasks.background.check_missed_submissions). Dynamic overlap starts inside the publishing transaction
(a recorder), and a rejection or a dispute's decision brings the task's aggregated result up to date (tasks.overlap)."""

from core.events import subscribe, subscribe_recorder
from core.models import Event
from marketplace.models import Job
from tasks import overlap, quality
from tasks.models import Assignment, Task


def check_submission(event: Event) -> None:
    assignment_id = Assignment.objects.filter(public_id=event.subject_id).values_list("pk", flat=True).first()
    if assignment_id is not None:
        quality.submission_checked(assignment_id=assignment_id)


def start_overlap_at_publish(event: Event) -> None:
    """A recorder (inside the publishing transaction, under the job's lock): the tasks start wanting the job's
    dynamic overlap's first answers before any worker can claim them."""
    job_id = Job.objects.filter(public_id=event.subject_id).values_list("pk", flat=True).first()
    if job_id is not None:
        overlap.overlap_start_at_publish(job_id=job_id)


def update_task_result(event: Event) -> None:
    """A rejection, or a dispute's decision, changed which of a task's answers count: aggregate them again (a
    submission does so through the pipeline above)."""
    task_id = Task.objects.filter(public_id=event.data.get("task_id")).values_list("pk", flat=True).first()
    if task_id is not None:
        overlap.task_result_update(task_id=task_id)


def connect() -> None:
    subscribe("assignment.submitted", check_submission)
    subscribe_recorder("job.published", start_overlap_at_publish)
    subscribe("assignment.rejected", update_task_result)
    subscribe("dispute.decided", update_task_result)
