"""External studies and HITs carrying their own question (issue 13): jobs made through the services, as the web
form and the Mechanical Turk API make them."""

from marketplace import services
from marketplace.models import FormKind, Job, User
from payments.sandbox import sandbox_balance_top_up
from tasks.models import Task
from tasks.services import tasks_add
from tests.factories.users import make_user

STUDY_URL = "https://study.example/start?PROLIFIC_PID={worker_id}&SESSION_ID={assignment_id}&STUDY_ID={job_id}"


def make_external_job(
    *,
    requester: User | None = None,
    url: str = STUDY_URL,
    codes: list[dict] | None = None,
    tasks: int = 1,
    assignments_per_task: int = 3,
    publish: bool = True,
    **terms,
) -> Job:
    """A published external study (web form): `tasks` tasks without input, each for `assignments_per_task`
    workers."""
    requester = requester or make_user()
    job = services.job_create(
        requester=requester,
        title=terms.pop("title", "A short study"),
        description=terms.pop("description", "Answer a few questions on our site."),
        reward_msat=terms.pop("reward_msat", 10_000),
        assignments_per_task=assignments_per_task,
        **terms,
    )
    services.job_set_external_study(job=job, actor=requester, external_url=url, completion_codes=codes or [])
    tasks_add(job=job, actor=requester, columns=[], rows=[{} for _ in range(tasks)])
    if publish:
        services.job_publish(job=job, actor=requester)
    job.refresh_from_db()
    return job


def make_per_task_job(
    *, questions: list[dict], requester: User | None = None, publish: bool = True, sandbox: bool = False, **terms
) -> Job:
    """A job whose tasks carry their own questions, as Mechanical Turk's CreateHIT makes them: one task per question
    ({"kind": "html" | "external" | "form", ...}, as mturk.questions.parse_question returns them)."""
    requester = requester or make_user()
    job = services.job_create(
        requester=requester,
        title=terms.pop("title", "A HIT"),
        description=terms.pop("description", "A HIT made through the API."),
        reward_msat=terms.pop("reward_msat", 10_000),
        **terms,
    )
    # The form kind and the sandbox flag are the API's to set (mturk's HIT services) on a draft it makes.
    Job.objects.filter(pk=job.pk).update(form_kind=FormKind.PER_TASK, sandbox=sandbox)
    if sandbox:
        sandbox_balance_top_up(user=requester)
    job.refresh_from_db()
    tasks_add(job=job, actor=requester, columns=[], rows=[{} for _ in questions])
    for task, question in zip(Task.objects.filter(job=job).order_by("position"), questions, strict=True):
        task.question = question
        task.save(update_fields=["question"])
    if publish:
        services.job_publish(job=job, actor=requester)
    job.refresh_from_db()
    return job
