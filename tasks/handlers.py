"""What the tasks app does when domain events happen (subscribed in TasksConfig.ready): run the quality pipeline on
each submission once it is committed. For a job with review rules it runs in the request that submitted, so a
rule's approval (and, on its commit, the payout) follows within the same request; for a job without any, all it
does is aggregate the task's answers, which a background job does a moment later (it was half the CPU of a submit,
docs/PERFORMANCE.md). A pipeline that fails here, or a job that is never run, is run again by the sweeper
(tasks.background.check_missed_submissions). Dynamic overlap starts inside the publishing transaction
(a recorder), and a rejection or a dispute's decision brings the task's aggregated result up to date (tasks.overlap)."""

from core.events import subscribe, subscribe_recorder
from core.models import Event
from marketplace.models import Job
from tasks import background, overlap, quality
from tasks.models import Assignment, Task


def check_submission(event: Event) -> None:
    row = Assignment.objects.filter(public_id=event.subject_id).values_list("pk", "job__quality__job_id").first()
    if row is None:
        return
    assignment_id, rules_of_job = row  # None: the job has no JobQuality row, so no review rule
    if rules_of_job is None:
        background.enqueue_submission_check(assignment_id)
    else:
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
