"""Every state change of a job. Views, admin, API and background jobs call these; nothing else writes a Job."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from core.errors import InvalidInput, InvalidTransition, NotFound
from core.events import Actor, record_event
from core.text import (
    MAX_DESCRIPTION_CHARS,
    MAX_INSTRUCTIONS_CHARS,
    MAX_PROMPT_CHARS,
    html_excerpt,
    render_markdown,
)
from marketplace import answer_forms, escrow, external_studies, qualifications
from marketplace.models import (
    JOB_TRANSITIONS,
    MAX_ASSIGNMENTS_PER_TASK,
    MAX_AUTO_APPROVE_SECONDS,
    MAX_REWARD_MSAT,
    MAX_TIME_LIMIT_SECONDS,
    MIN_REWARD_MSAT,
    MIN_TIME_LIMIT_SECONDS,
    FormKind,
    Job,
    JobStatus,
    Tag,
    User,
)
from marketplace.users import check_not_banned, lock_user_not_banned

MAX_TAGS = 10
TAG_PUNCTUATION = frozenset(" -_")
MAX_EXPIRY_AHEAD = timedelta(days=3653)


def job_create(
    *,
    requester: User,
    title: str,
    description: str,
    instructions: str = "",
    reward_msat: int,
    assignments_per_task: int = 1,
    time_limit_seconds: int = 600,
    auto_approve_seconds: int = 3 * 24 * 3600,
    expires_at: datetime | None = None,
    tags: list[str] | None = None,
    estimated_seconds_per_task: int | None = None,
) -> Job:
    """Create a draft job. Nothing is on the board and no money moves until it is published."""
    _check_job_terms(
        title=title,
        description=description,
        instructions=instructions,
        reward_msat=reward_msat,
        assignments_per_task=assignments_per_task,
        time_limit_seconds=time_limit_seconds,
        auto_approve_seconds=auto_approve_seconds,
        expires_at=expires_at,
        estimated_seconds_per_task=estimated_seconds_per_task,
    )
    rendered = _rendered_terms(description=description.strip(), instructions=instructions.strip())
    with transaction.atomic():
        _check_draft_quota(requester)
        job = Job.objects.create(
            requester=requester,
            title=title.strip(),
            description=description.strip(),
            instructions=instructions.strip(),
            **rendered,
            reward_msat=reward_msat,
            assignments_per_task=assignments_per_task,
            time_limit_seconds=time_limit_seconds,
            auto_approve_seconds=auto_approve_seconds,
            expires_at=expires_at,
            estimated_seconds_per_task=estimated_seconds_per_task,
        )
        job.tags.set(_tags_from_names(tags or []))
        record_event(
            type="job.created",
            actor=Actor.of(requester),
            subject=("job", job.public_id),
            audience=[requester.pk],
            data={"job_id": job.public_id, "status": job.status},
        )
    return job


def job_update_draft(
    *,
    job: Job,
    actor: User,
    title: str,
    description: str,
    instructions: str,
    reward_msat: int,
    assignments_per_task: int,
    time_limit_seconds: int,
    auto_approve_seconds: int,
    expires_at: datetime | None,
    tags: list[str],
    estimated_seconds_per_task: int | None = None,
) -> Job:
    """Change the terms of a draft. After publishing the terms are fixed: workers took tasks on them."""
    _check_job_terms(
        title=title,
        description=description,
        instructions=instructions,
        reward_msat=reward_msat,
        assignments_per_task=assignments_per_task,
        time_limit_seconds=time_limit_seconds,
        auto_approve_seconds=auto_approve_seconds,
        expires_at=expires_at,
        estimated_seconds_per_task=estimated_seconds_per_task,
    )
    rendered = _rendered_terms(description=description.strip(), instructions=instructions.strip())
    with transaction.atomic():
        job = _lock_own_job(job_id=job.pk, actor=actor)
        _require_draft(job, "edit its terms")
        if job.form_kind == FormKind.PER_TASK and assignments_per_task != job.assignments_per_task:
            raise InvalidInput(
                "This HIT type's assignments are set per HIT (MaxAssignments, through the Mechanical Turk API)."
            )
        slot_change = (assignments_per_task - job.assignments_per_task) * job.task_count
        job.title = title.strip()
        job.description = description.strip()
        job.instructions = instructions.strip()
        for field, value in rendered.items():
            setattr(job, field, value)
        job.reward_msat = reward_msat
        job.assignments_per_task = assignments_per_task
        job.time_limit_seconds = time_limit_seconds
        job.auto_approve_seconds = auto_approve_seconds
        job.expires_at = expires_at
        job.estimated_seconds_per_task = estimated_seconds_per_task
        job.open_slot_count += slot_change
        job.save()
        if slot_change:
            # A training task (issue 12, tasks.controls) has no slot: it is answered unpaid, never claimed.
            job.tasks.exclude(kind="training").update(slots_open=assignments_per_task)
        job.tags.set(_tags_from_names(tags))
    return job


def job_set_builder_form(*, job: Job, actor: User, prompt: str, fields: list[dict]) -> Job:
    """Give a draft a form-builder answer form. Its `{{placeholders}}` must be columns of the job's tasks."""
    cleaned_fields = answer_forms.clean_form_fields(fields)
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidInput(f"The prompt is longer than {MAX_PROMPT_CHARS:,} characters.")
    answer_forms.check_placeholder_uses(prompt, html_template=False)
    placeholders = answer_forms.prompt_placeholders(prompt)
    prompt_html = answer_forms.render_prompt_html(prompt.strip())
    with transaction.atomic():
        job = _lock_own_job(job_id=job.pk, actor=actor)
        _require_draft(job, "change its answer form")
        _check_placeholders_match_tasks(job, placeholders)
        job.form_kind = FormKind.BUILDER
        job.prompt = prompt.strip()
        job.prompt_html = prompt_html
        job.form_fields = cleaned_fields
        job.html_template = ""
        job.answer_fields = [field["name"] for field in cleaned_fields]
        job.save(
            update_fields=[
                "form_kind",
                "prompt",
                "prompt_html",
                "form_fields",
                "html_template",
                "answer_fields",
                "updated_at",
            ]
        )
    return job


def job_set_html_template(*, job: Job, actor: User, html_template: str, asset_hosts: list[str] | None = None) -> Job:
    """Give a draft a Mechanical Turk style HTML template with `${column}` placeholders, and the https origins it
    may load from besides this site (shown to workers; None keeps those the job has)."""
    cleaned_hosts = None if asset_hosts is None else answer_forms.clean_asset_hosts(asset_hosts)
    if not html_template.strip():
        raise InvalidInput("Paste an HTML template.")
    if len(html_template) > 200_000:
        raise InvalidInput("The HTML template is longer than 200,000 characters.")
    answer_fields = answer_forms.html_answer_field_names(html_template)
    if not answer_fields:
        raise InvalidInput(
            "The template has no form fields: add at least one <input>, <select> or <textarea> with a name."
        )
    answer_forms.check_placeholder_uses(html_template, html_template=True)
    placeholders = answer_forms.html_placeholders(html_template)
    with transaction.atomic():
        job = _lock_own_job(job_id=job.pk, actor=actor)
        _require_draft(job, "change its answer form")
        _check_placeholders_match_tasks(job, placeholders)
        job.form_kind = FormKind.HTML
        job.html_template = html_template
        if cleaned_hosts is not None:
            job.asset_hosts = cleaned_hosts
        job.prompt = ""
        job.prompt_html = ""
        job.form_fields = []
        job.answer_fields = answer_fields
        job.save(
            update_fields=[
                "form_kind",
                "prompt",
                "prompt_html",
                "form_fields",
                "html_template",
                "asset_hosts",
                "answer_fields",
                "updated_at",
            ]
        )
    return job


def job_set_external_study(*, job: Job, actor: User, external_url: str, completion_codes: list[dict]) -> Job:
    """Make a draft an external study: its task is the page at `external_url` (https, with {worker_id},
    {assignment_id}, {task_id} and {job_id} placeholders named as the study's tool wants), opened in a frame; it ends
    with a POST to {SITE_URL}/mturk/externalSubmit (which needs the assignment id, so the URL must carry
    {assignment_id}) or at {SITE_URL}/complete/<code> with one of `completion_codes` ({"code", "action": "approve"
    | "review"}). A draft only; a refusal changes nothing."""
    url = external_studies.clean_external_url(external_url)
    codes = external_studies.clean_completion_codes(completion_codes)
    if not codes and not external_studies.uses_placeholder(url, "assignment_id"):
        raise InvalidInput(
            "The study cannot tell Boltwork it is done: put {assignment_id} in its URL (it posts to externalSubmit "
            "with it) or give at least one completion code."
        )
    with transaction.atomic():
        job = _lock_own_job(job_id=job.pk, actor=actor)
        _require_draft(job, "change its answer form")
        if job.form_kind == FormKind.PER_TASK:
            raise InvalidInput("Each task of this job carries its own question (Mechanical Turk API).")
        job.form_kind = FormKind.EXTERNAL
        job.external_url = url
        job.completion_codes = codes
        job.prompt = ""
        job.prompt_html = ""
        job.form_fields = []
        # Whatever the study posts is its answer; a completion link's answer is the code.
        job.answer_fields = ["completion_code"] if codes else []
        job.save(
            update_fields=[
                "form_kind",
                "external_url",
                "completion_codes",
                "prompt",
                "prompt_html",
                "form_fields",
                "answer_fields",
                "updated_at",
            ]
        )
    return job


# The terms of a job, as job_create and job_update_draft take them.
JOB_TERMS = (
    "title",
    "description",
    "instructions",
    "reward_msat",
    "assignments_per_task",
    "time_limit_seconds",
    "auto_approve_seconds",
    "expires_at",
    "tags",
    "estimated_seconds_per_task",
)


@dataclass(frozen=True)
class AnswerFormChange:
    """A new answer form for a draft: a form builder's prompt and fields, or an HTML template (with its asset
    hosts; None keeps the job's). At most one of the two."""

    prompt: str | None = None
    fields: list[dict] | None = None
    html_template: str | None = None
    asset_hosts: list[str] | None = None

    @property
    def builder(self) -> bool:
        return self.fields is not None


def job_create_with_form(
    *, requester: User, terms: dict, form: AnswerFormChange, worker_rules: dict | None = None
) -> Job:
    """A draft and its answer form in one go, and who may work on it (`worker_rules`: the arguments of
    job_set_worker_rules but the job and actor): all, or nothing. Exactly one kind of form."""
    if form.builder == (form.html_template is not None):
        raise InvalidInput("Give exactly one of form and html_template.")
    if form.asset_hosts and form.html_template is None:
        raise InvalidInput("asset_hosts go with an html_template.")
    with transaction.atomic():
        job = job_create(requester=requester, **terms)
        job = _job_set_form(job=job, actor=requester, form=form)
        if worker_rules:
            job = job_set_worker_rules(job=job, actor=requester, **worker_rules)
        return job


def job_revise_draft(*, job: Job, actor: User, terms: dict, form: AnswerFormChange) -> Job:
    """Change some of a draft's terms (the others stay) and, when one is given, its answer form: all, or nothing.
    Asset hosts alone change an HTML template job's hosts."""
    if form.builder and form.html_template is not None:
        raise InvalidInput("Give at most one of form and html_template.")
    current = {name: getattr(job, name) for name in JOB_TERMS if name != "tags"}
    current["tags"] = [tag.name for tag in job.tags.all()]
    with transaction.atomic():
        job = job_update_draft(job=job, actor=actor, **{**current, **terms})
        return _job_set_form(job=job, actor=actor, form=form)


def _job_set_form(*, job: Job, actor: User, form: AnswerFormChange) -> Job:
    if form.builder:
        return job_set_builder_form(job=job, actor=actor, prompt=form.prompt or "", fields=form.fields)
    html_template = form.html_template
    if html_template is None and form.asset_hosts is not None and job.form_kind == FormKind.HTML and job.html_template:
        html_template = job.html_template  # only the hosts change
    if html_template is not None:
        return job_set_html_template(job=job, actor=actor, html_template=html_template, asset_hosts=form.asset_hosts)
    return job


def job_placeholders(job: Job) -> list[str]:
    if job.form_kind == FormKind.HTML:
        return answer_forms.html_placeholders(job.html_template)
    return answer_forms.prompt_placeholders(job.prompt)


def job_publish(*, job: Job, actor: User) -> Job:
    """Put a draft on the board, funding its escrow first, or put a paused job back.

    Idempotent when it is already published. Without enough balance it raises InsufficientFunds and nothing changes.
    A banned requester is refused (AccountBanned).
    """
    check_not_banned(actor)
    with transaction.atomic():
        job = _lock_own_job(job_id=job.pk, actor=actor)
        if job.status == JobStatus.PUBLISHED:
            return job
        _check_transition(job, JobStatus.PUBLISHED)
        if job.expires_at and job.expires_at <= timezone.now():
            raise InvalidInput("The job's expiry is in the past: extend it before publishing.")
        if job.status == JobStatus.DRAFT:
            _check_ready_to_publish(job)
            escrow.escrow_fund_for_publish(job=job)  # raises InsufficientFunds, and nothing is published
            job.published_at = timezone.now()
        _transition(job, JobStatus.PUBLISHED, actor=Actor.of(actor), save=["published_at", "fee_per_assignment_msat"])
    return job


def job_pause(*, job: Job, actor: User) -> Job:
    """Take a published job off the board. Live assignments can still be submitted and reviewed."""
    return _job_move(job=job, actor=actor, to_status=JobStatus.PAUSED)


def job_resume(*, job: Job, actor: User) -> Job:
    """Put a paused job back on the board. Idempotent; a draft is published with job_publish, not resumed."""
    with transaction.atomic():
        job = _lock_own_job(job_id=job.pk, actor=actor)
        if job.status == JobStatus.PUBLISHED:
            return job
        if job.status != JobStatus.PAUSED:
            raise InvalidTransition(
                f"Only a paused job can be resumed; this one is {job.get_status_display().lower()}."
            )
        return job_publish(job=job, actor=actor)


def job_close(*, job: Job, actor: User | None, moderator: User | None = None) -> Job:
    """End a job for good: no new claims; work already taken can still be submitted and reviewed. The escrow of
    slots nobody holds goes back to the requester at once, the rest as those assignments end unapproved.

    `actor=None` is the system closing an expired job, or the `moderator` who closes it from the admin.
    """
    return _job_move(job=job, actor=actor, to_status=JobStatus.CLOSED, moderator=moderator)


def job_cancel(*, job: Job, actor: User) -> Job:
    """Discard a draft that was never published."""
    return _job_move(job=job, actor=actor, to_status=JobStatus.CANCELLED)


def job_extend_expiry(*, job: Job, actor: User, expires_at: datetime | None) -> Job:
    """Move a job's expiry later (or remove it). Allowed in every open state; an expiry never moves earlier
    once the job is published, since workers planned on it."""
    with transaction.atomic():
        job = _lock_own_job(job_id=job.pk, actor=actor)
        if job.status in {JobStatus.CLOSED, JobStatus.CANCELLED}:
            raise InvalidTransition(f"The job is {job.get_status_display().lower()}: its expiry cannot change.")
        if expires_at is not None and expires_at <= timezone.now():
            raise InvalidInput("The new expiry must be in the future.")
        _check_expiry_not_too_far(expires_at)
        moves_earlier = job.expires_at is not None and expires_at is not None and expires_at < job.expires_at
        if job.status != JobStatus.DRAFT and moves_earlier:
            raise InvalidInput("A published job's expiry can only move later.")
        job.expires_at = expires_at
        job.save(update_fields=["expires_at", "updated_at"])
    return job


MAX_EXCLUDED_JOBS = 50
MAX_TASKS_PER_WORKER = 1_000_000


def job_set_worker_rules(
    *,
    job: Job,
    actor: User,
    requirements: list[dict],
    excluded_job_ids: list[str] | None = None,
    max_tasks_per_worker: int | None = None,
) -> Job:
    """Set who may work on a job: its qualification requirements (marketplace.qualifications.requirements_clean
    checks them), the requester's earlier jobs whose workers it excludes (by public id), and the cap on tasks per
    worker. Allowed while the job can still take work; applies to claims from then on (work already taken stays)."""
    requirements = qualifications.requirements_clean(owner=actor, requirements=requirements)
    excluded = _excluded_jobs(actor=actor, job=job, public_ids=excluded_job_ids or [])
    if max_tasks_per_worker is not None and (
        isinstance(max_tasks_per_worker, bool)
        or not isinstance(max_tasks_per_worker, int)
        or not 1 <= max_tasks_per_worker <= MAX_TASKS_PER_WORKER
    ):
        raise InvalidInput(
            f"The cap on tasks per worker must be a whole number from 1 to {MAX_TASKS_PER_WORKER:,}, or none."
        )
    with transaction.atomic():
        job = _lock_own_job(job_id=job.pk, actor=actor)
        if job.status in {JobStatus.CLOSED, JobStatus.CANCELLED}:
            raise InvalidTransition(f"The job is {job.get_status_display().lower()}: who may work on it is settled.")
        job.qualification_requirements = requirements
        job.hides_from_unqualified = any(
            requirement["actions_guarded"] == qualifications.Guard.DISCOVER_PREVIEW_AND_ACCEPT
            for requirement in requirements
        )
        job.max_tasks_per_worker = max_tasks_per_worker
        job.save(
            update_fields=["qualification_requirements", "hides_from_unqualified", "max_tasks_per_worker", "updated_at"]
        )
        job.excluded_jobs.set(excluded)
        record_event(
            type="job.worker_rules_changed",
            actor=Actor.of(actor),
            subject=("job", job.public_id),
            audience=[job.requester_id],
            data={
                "job_id": job.public_id,
                "qualification_requirements": requirements,
                "excluded_job_ids": [each.public_id for each in excluded],
                "max_tasks_per_worker": max_tasks_per_worker,
            },
        )
    return job


def _excluded_jobs(*, actor: User, job: Job, public_ids: list[str]) -> list[Job]:
    if not isinstance(public_ids, list) or not all(isinstance(each, str) for each in public_ids):
        raise InvalidInput("Excluded jobs must be a list of job ids.")
    public_ids = list(dict.fromkeys(each.strip() for each in public_ids if each.strip()))
    if len(public_ids) > MAX_EXCLUDED_JOBS:
        raise InvalidInput(f"A job can exclude the workers of at most {MAX_EXCLUDED_JOBS} other jobs.")
    if job.public_id in public_ids:
        raise InvalidInput("A job cannot exclude its own workers.")
    excluded = list(Job.objects.filter(requester=actor, public_id__in=public_ids))
    if len(excluded) != len(public_ids):
        found = {each.public_id for each in excluded}
        missing = [each for each in public_ids if each not in found]
        raise InvalidInput(f"No such job of yours: {', '.join(missing[:3])}.")
    return excluded


def jobs_close_expired(*, now: datetime | None = None) -> int:
    """Close published and paused jobs whose expiry has passed. Returns how many were closed."""
    now = now or timezone.now()
    expired_ids = list(
        Job.objects.filter(
            status__in=[JobStatus.PUBLISHED, JobStatus.PAUSED], expires_at__isnull=False, expires_at__lte=now
        ).values_list("pk", flat=True)[:1000]
    )
    for job_id in expired_ids:
        job_close(job=Job(pk=job_id), actor=None)
    return len(expired_ids)


def _job_move(*, job: Job, actor: User | None, to_status: str, moderator: User | None = None) -> Job:
    with transaction.atomic():
        job = _lock_own_job(job_id=job.pk, actor=actor)
        if job.status == to_status:
            return job
        ending = to_status in {JobStatus.CLOSED, JobStatus.CANCELLED}
        if ending:
            job.closed_at = timezone.now()
        _transition(
            job,
            to_status,
            actor=Actor.moderator(moderator) if moderator else Actor.user_or_system(actor, rule="expiry of the job"),
            save=["closed_at"] if ending else [],
        )
        if ending:
            escrow.escrow_refund_unclaimable(job=job, event_key="close")
    return job


def _transition(job: Job, to_status: str, *, actor: Actor, save: list[str]) -> None:
    """The one gate of the job state machine, for a job the caller has locked: refuses a move the transitions
    table does not allow, saves the status (and the fields named in `save`), and records `job.<status>`."""
    _check_transition(job, to_status)
    job.status = to_status
    job.save(update_fields=["status", "updated_at", *save])
    record_event(
        type=f"job.{to_status}",
        actor=actor,
        subject=("job", job.public_id),
        audience=[job.requester_id],
        data={"job_id": job.public_id, "status": to_status},
    )


def _lock_own_job(*, job_id: int, actor: User | None) -> Job:
    """Re-read the job under a row lock; someone else's job is reported as not found."""
    queryset = Job.objects.select_for_update(no_key=True).filter(pk=job_id)
    if actor is not None:
        queryset = queryset.filter(requester=actor)
    job = queryset.first()
    if job is None:
        raise NotFound("No such job.")
    return job


def _check_draft_quota(requester: User) -> None:
    """Drafts cost nothing until they are published: cap how many one person keeps. Locks the requester's row so
    two requests at once cannot both take the last place; refuses a banned requester under that lock."""
    lock_user_not_banned(requester.pk)
    drafts = Job.objects.filter(requester=requester, status=JobStatus.DRAFT).count()
    if drafts >= settings.MAX_DRAFT_JOBS_PER_USER:
        raise InvalidInput(
            f"You have {drafts} draft jobs, the most one account may keep. Publish or cancel some first."
        )


def _check_transition(job: Job, to_status: str) -> None:
    if to_status not in JOB_TRANSITIONS[job.status]:
        raise InvalidTransition(
            f"A {job.get_status_display().lower()} job cannot be {JobStatus(to_status).label.lower()}."
        )


def _require_draft(job: Job, action: str) -> None:
    if job.status != JobStatus.DRAFT:
        raise InvalidTransition(f"The job is {job.get_status_display().lower()}: only a draft can {action}.")


def _check_ready_to_publish(job: Job) -> None:
    if not job.has_form:
        raise InvalidInput("Add an answer form before publishing.")
    # A HIT type's job (Mechanical Turk API) is published with its first HIT, in the same transaction.
    if job.task_count == 0 and job.form_kind != FormKind.PER_TASK:
        raise InvalidInput("Add at least one task before publishing.")


def _check_placeholders_match_tasks(job: Job, placeholders: list[str]) -> None:
    if not job.input_columns:
        return
    missing = [name for name in placeholders if name not in job.input_columns]
    if missing:
        raise InvalidInput(
            "The form uses "
            + ", ".join(f"“{name}”" for name in missing)
            + ", which the job's tasks do not have. Their columns are: "
            + ", ".join(job.input_columns)
            + "."
        )


def _check_job_terms(
    *,
    title: str,
    description: str,
    instructions: str,
    reward_msat: int,
    assignments_per_task: int,
    time_limit_seconds: int,
    auto_approve_seconds: int,
    expires_at: datetime | None,
    estimated_seconds_per_task: int | None = None,
) -> None:
    if not title.strip() or len(title) > 200:
        raise InvalidInput("A title of 1 to 200 characters is required.")
    if not description.strip() or len(description) > MAX_DESCRIPTION_CHARS:
        raise InvalidInput(f"A description of 1 to {MAX_DESCRIPTION_CHARS:,} characters is required.")
    if len(instructions) > MAX_INSTRUCTIONS_CHARS:
        raise InvalidInput(f"The instructions are longer than {MAX_INSTRUCTIONS_CHARS:,} characters.")
    if not MIN_REWARD_MSAT <= reward_msat <= MAX_REWARD_MSAT:
        raise InvalidInput(
            f"The reward must be between {MIN_REWARD_MSAT // 1000:,} and {MAX_REWARD_MSAT // 1000:,} sats."
        )
    if not 1 <= assignments_per_task <= MAX_ASSIGNMENTS_PER_TASK:
        raise InvalidInput(f"Assignments per task must be between 1 and {MAX_ASSIGNMENTS_PER_TASK}.")
    if not MIN_TIME_LIMIT_SECONDS <= time_limit_seconds <= MAX_TIME_LIMIT_SECONDS:
        raise InvalidInput("The time limit must be between 1 minute and 7 days.")
    if not 0 <= auto_approve_seconds <= MAX_AUTO_APPROVE_SECONDS:
        raise InvalidInput("The auto-approve delay must be between 0 and 14 days.")
    if estimated_seconds_per_task is not None and not 1 <= estimated_seconds_per_task <= time_limit_seconds:
        raise InvalidInput("The estimated time per task must be at least 1 second and at most the time limit.")
    if expires_at is not None and expires_at <= timezone.now() + timedelta(minutes=1):
        raise InvalidInput("The expiry must be in the future.")
    _check_expiry_not_too_far(expires_at)


def _rendered_terms(*, description: str, instructions: str) -> dict[str, str]:
    """The stored HTML of a job's Markdown. Rendered here, once per save and outside any row lock, so that no
    page view renders Markdown."""
    description_html = render_markdown(description)
    return {
        "description_html": description_html,
        "description_excerpt": html_excerpt(description_html),
        "instructions_html": render_markdown(instructions) if instructions else "",
    }


def _check_expiry_not_too_far(expires_at: datetime | None) -> None:
    if expires_at is not None and expires_at > timezone.now() + MAX_EXPIRY_AHEAD:
        raise InvalidInput("The expiry can be at most ten years ahead.")


def _tags_from_names(names: list[str]) -> list[Tag]:
    for name in names:
        if not all(character.isalnum() or character in TAG_PUNCTUATION for character in name):
            # Was: "<b>routing</b>" became the tag "broutingb" without a word.
            raise InvalidInput(f"A tag is a word or two (letters, digits, spaces, hyphens); “{name[:60]}” is not.")
    slugs = list(dict.fromkeys(slugify(name)[:40] for name in names if slugify(name)))
    if len(slugs) > MAX_TAGS:
        raise InvalidInput(f"At most {MAX_TAGS} tags.")
    existing = {tag.name: tag for tag in Tag.objects.filter(name__in=slugs)}
    missing = [Tag(name=slug) for slug in slugs if slug not in existing]
    Tag.objects.bulk_create(missing, ignore_conflicts=True)
    return list(Tag.objects.filter(name__in=slugs))
