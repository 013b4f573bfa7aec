"""The caller's own HITs, HIT types and assignments, in the endpoint's book (live or sandbox): every operation finds
what it acts on through these, so nobody reaches another requester's objects or the other book's."""

from django.utils import timezone

from core.errors import NotFound
from marketplace.models import FormKind, Job
from mturk import shapes
from mturk.protocol import Caller
from tasks import hits
from tasks.models import Assignment, Task, TaskKind


def hits_of(caller: Caller):
    return (
        Task.objects.filter(job__requester=caller.user, job__sandbox=caller.sandbox)
        .exclude(kind=TaskKind.TRAINING)
        .select_related("job")
    )


def own_hit(caller: Caller, hit_id: str, *, disposed_too: bool = False) -> Task:
    tasks = hits_of(caller)
    if not disposed_too:
        tasks = tasks.filter(disposed_at__isnull=True)
    task = tasks.filter(public_id=hit_id).first()
    if task is None:
        raise NotFound(f"Hit {hit_id} does not exist.")
    return task


def own_hit_type(caller: Caller, hit_type_id: str) -> Job:
    job = Job.objects.filter(
        public_id=hit_type_id, requester=caller.user, sandbox=caller.sandbox, form_kind=FormKind.PER_TASK
    ).first()
    if job is None:
        raise NotFound(f"HITType {hit_type_id} does not exist.")
    return job


def hit_shape(caller: Caller, task: Task) -> dict:
    task = hits_of(caller).get(pk=task.pk)
    return hit_shapes(caller, [task])[0]


def hit_shapes(caller: Caller, tasks: list[Task]) -> list[dict]:
    counts = hits.hit_counts([task.pk for task in tasks])
    now = timezone.now()
    return [shapes.hit_shape(task, task.job, counts.get(task.pk, hits.HitCounts()), caller, now=now) for task in tasks]


def assignments_of(caller: Caller):
    return Assignment.objects.filter(job__requester=caller.user, job__sandbox=caller.sandbox).select_related(
        "worker", "task", "job"
    )


def own_assignment(caller: Caller, assignment_id: str) -> Assignment:
    """A submitted, approved or rejected assignment of the caller's HITs. Work still in progress, returned or
    expired is not an assignment Mechanical Turk would show."""
    assignment = (
        assignments_of(caller).filter(public_id=assignment_id, status__in=list(shapes.ASSIGNMENT_STATUSES)).first()
    )
    if assignment is None:
        raise NotFound(f"Assignment {assignment_id} does not exist.")
    return assignment
