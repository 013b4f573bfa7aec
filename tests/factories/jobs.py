"""Jobs: drafts and published ones, with a form-builder form or an HTML template over a `review` column."""

from marketplace import services
from marketplace.models import Job, JobStatus, User
from payments.sandbox import sandbox_balance_top_up
from tasks.services import tasks_add
from tests.factories.users import make_user

SENTIMENT_FIELDS = [
    {
        "name": "sentiment",
        "kind": "single_choice",
        "label": "How does the customer feel?",
        "required": True,
        "choices": ["Positive", "Negative", "Mixed"],
    },
    {"name": "notes", "kind": "short_text", "label": "Notes", "required": False},
]

HTML_TEMPLATE = """<p>Review: ${review}</p>
<form>
  <label>Sentiment
    <select name="sentiment"><option>Positive</option><option>Negative</option></select>
  </label>
  <textarea name="notes"></textarea>
  <button type="submit">Submit</button>
</form>"""


def _job_create(requester: User, terms: dict, *, title: str, description: str) -> Job:
    """job_create with the terms given, and a title, description and reward of 10 sats where none is."""
    return services.job_create(
        requester=requester,
        title=terms.pop("title", title),
        description=terms.pop("description", description),
        reward_msat=terms.pop("reward_msat", 10_000),
        **terms,
    )


def _add_rows_and_publish(job: Job, *, rows: list[dict[str, str]], publish: bool) -> Job:
    if rows:
        tasks_add(job=job, actor=job.requester, columns=list(rows[0]), rows=rows)
    if publish:
        services.job_publish(job=job, actor=job.requester)
    job.refresh_from_db()
    return job


def make_job(
    *,
    requester: User | None = None,
    tasks: int = 3,
    assignments_per_task: int = 1,
    publish: bool = True,
    reward_msat: int = 10_000,
    sandbox: bool = False,
    **terms,
) -> Job:
    """A job with a form-builder form over a `review` column and `tasks` tasks; published unless told so. With
    `sandbox`, a sandbox job (play money), marked as the Mechanical Turk sandbox marks its HIT types: right after
    it is made, before any money moves; its requester's sandbox balance is topped up to publish it."""
    requester = requester or make_user()
    terms |= {"reward_msat": reward_msat, "assignments_per_task": assignments_per_task}
    job = _job_create(requester, terms, title="Rate a review", description="Say whether a review is positive.")
    if sandbox:
        Job.objects.filter(pk=job.pk).update(sandbox=True)
        job.refresh_from_db()
        sandbox_balance_top_up(user=requester)
    services.job_set_builder_form(job=job, actor=requester, prompt="Review: {{review}}", fields=SENTIMENT_FIELDS)
    rows = [{"review": f"Review number {n}"} for n in range(1, tasks + 1)]
    job = _add_rows_and_publish(job, rows=rows, publish=publish)
    assert publish is False or job.status == JobStatus.PUBLISHED
    return job


def make_draft_job(*, requester: User | None = None, tasks: int = 3, **terms) -> Job:
    """A draft with a form and tasks, ready to publish."""
    return make_job(requester=requester, tasks=tasks, publish=False, **terms)


def make_bare_draft(*, requester: User | None = None, **terms) -> Job:
    """A draft straight from job_create: no form, no tasks."""
    return _job_create(
        requester or make_user(), terms, title="Bare draft", description="A draft without form or tasks."
    )


def make_html_job(
    *,
    requester: User | None = None,
    rows: list[dict[str, str]] | None = None,
    template: str = HTML_TEMPLATE,
    publish: bool = True,
    **terms,
) -> Job:
    """A job with a Mechanical Turk style HTML template over a `review` column."""
    requester = requester or make_user()
    job = _job_create(requester, terms, title="Rate a review (HTML)", description="Say whether a review is positive.")
    services.job_set_html_template(job=job, actor=requester, html_template=template)
    rows = rows if rows is not None else [{"review": "Great"}, {"review": "Awful"}]
    return _add_rows_and_publish(job, rows=rows, publish=publish)


def make_board_jobs(count: int, *, requester: User | None = None, tags: list[str] | None = None) -> list[Job]:
    """`count` published jobs, each with two tasks and a few tags, for board and dashboard pages."""
    requester = requester or make_user()
    return [
        make_job(
            requester=requester,
            tasks=2,
            title=f"Board job {n}",
            tags=tags if tags is not None else ["images", f"batch-{n % 4}"],
        )
        for n in range(count)
    ]
