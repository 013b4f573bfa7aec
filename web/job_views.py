"""Job board and requester pages: parse, check permission, call one service or selector, render or redirect."""

import csv
import io

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from core.errors import DomainError
from core.money import MSAT_PER_SAT, sats_rounded_up, sats_word
from core.selectors import events_for_user
from marketplace import answer_forms, qualifications, selectors, services
from marketplace.escrow import escrow_per_slot_msat, platform_fee_msat, publish_cost_msat
from marketplace.external_studies import MAX_COMPLETION_CODES
from marketplace.models import FormKind, Job, JobStatus
from payments.errors import InsufficientFunds
from payments.sandbox import sandbox_balance_msat, sandbox_balance_top_up, sandbox_summary
from payments.selectors import wallet_summary
from tasks import eligibility
from tasks import selectors as task_selectors
from tasks import services as task_services
from tasks.csv_import import decode_task_csv
from tasks.models import Task
from web.external_forms import (
    CompletionCodeFormSet,
    ExternalStudyForm,
    completion_code_initial,
    completion_code_rows,
)
from web.forms import (
    BoardFilterForm,
    BuilderFieldFormSet,
    BuilderPromptForm,
    ExpiryForm,
    HtmlTemplateForm,
    JobTermsForm,
    SingleTaskForm,
    TaskCsvForm,
    builder_field_initial,
)
from web.lookups import found_or_404
from web.once import acts_once
from web.pagination import CappedCountPaginator
from web.task_frames import (
    form_fields_of,
    frame_for_preview,
    sandboxed_document,
    task_prompt_html,
    task_question,
    with_frame_policy,
)

BOARD_PAGE_SIZE = 20
# The board counts its jobs up to this many (50 pages); past it, it says "more than": a search narrows it down.
BOARD_COUNT_CAP = 1_000
BUILDER_TEXT_FIELDS = ["name", "label", "kind", "help_text", "choices", "min", "max"]
TASKS_PAGE_SIZE = 50
ACTIVITY_PAGE_SIZE = 50


def own_job_or_404(request: HttpRequest, job_id: str) -> Job:
    return found_or_404(selectors.job_of_requester_get, requester=request.user, public_id=job_id)


# The job board --------------------------------------------------------------------------------------------------


def board(request: HttpRequest) -> HttpResponse:
    return _board_page(request, sandbox=False)


def sandbox_board(request: HttpRequest) -> HttpResponse:
    """The sandbox's board (issue 13): sandbox jobs only, paid in play money, with the same cards and filters."""
    return _board_page(request, sandbox=True)


def _board_page(request: HttpRequest, *, sandbox: bool) -> HttpResponse:
    form = BoardFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    min_reward = filters.get("min_reward")
    jobs = selectors.board_jobs(
        search=filters.get("q", ""),
        tag=filters.get("tag", ""),
        min_reward_msat=min_reward * MSAT_PER_SAT if min_reward else None,
        sort=filters.get("sort") or "newest",
        viewer=request.user,
        sandbox=sandbox,
    )
    viewer = eligibility.BoardViewer.of(request.user)
    jobs = eligibility.board_jobs_for(jobs, viewer, qualified_only=bool(filters.get("qualified")))
    paginator = CappedCountPaginator(jobs, BOARD_PAGE_SIZE, count_cap=BOARD_COUNT_CAP)
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    done = task_selectors.jobs_done_by(worker=request.user, job_ids=[job.pk for job in page.object_list])
    context = {
        "form": form,
        "page": page,
        "query_string": query.urlencode(),
        "done_job_ids": done,
        "access_by_job": eligibility.board_access(page.object_list, viewer),
        "sandbox": sandbox,
        "board_url": reverse("sandbox_board" if sandbox else "board"),
    }
    return render(request, "marketplace/board.html", context)


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers and tools ask for /favicon.ico whatever the page says: the same icon, from the static files (its
    hashed name is known only once collectstatic has run, so it is looked up per request)."""
    return HttpResponsePermanentRedirect(static("favicon.ico"))


def job_detail(request: HttpRequest, job_id: str) -> HttpResponse:
    job = found_or_404(selectors.job_public_get, public_id=job_id, viewer=request.user)
    done_all = job.pk in task_selectors.jobs_done_by(worker=request.user, job_ids=[job.pk])
    context = {
        "job": job,
        "done_all": done_all,
        "access": eligibility.job_access(job=job, worker=request.user),
        "requirements": qualifications.requirements_described(job.qualification_requirements),
    }
    return render(request, "marketplace/job_detail.html", context)


# Requester pages ------------------------------------------------------------------------------------------------


@login_required
def requester_dashboard(request: HttpRequest) -> HttpResponse:
    jobs = task_selectors.jobs_of_requester_with_progress(requester=request.user)
    page = Paginator(jobs, 25).get_page(request.GET.get("page"))
    context = {"page": page, "sandbox_money": sandbox_summary(user=request.user)}
    return render(request, "marketplace/requester_dashboard.html", context)


@login_required
@require_POST
@acts_once
def sandbox_top_up(request: HttpRequest) -> HttpResponse:
    """Top the requester's sandbox balance up to its play-money amount (payments.sandbox), then back to the page
    the button was on (a sandbox draft's page, or the dashboard)."""
    added_msat = sandbox_balance_top_up(user=request.user)
    if added_msat:
        messages.success(request, f"Added {added_msat // MSAT_PER_SAT:,} play sats to your sandbox balance.")
    else:
        messages.info(request, "Your sandbox balance is already full: nothing was added.")
    back = request.POST.get("next", "")
    if back.startswith("/") and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect(back)
    return redirect("requester_dashboard")


@login_required
@acts_once
def job_create(request: HttpRequest) -> HttpResponse:
    form = JobTermsForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = services.job_create(requester=request.user, **form.service_arguments())
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, "Draft saved. Next, build the answer form.")
            return redirect("job_form", job_id=job.public_id)
    return _job_terms_page(request, form, job=None)


@login_required
def job_edit(request: HttpRequest, job_id: str) -> HttpResponse:
    job = own_job_or_404(request, job_id)
    if not job.is_draft:
        messages.error(request, "Only a draft's terms can be edited. You can still extend its expiry.")
        return redirect("job_manage", job_id=job.public_id)
    form = JobTermsForm(request.POST or None, initial=JobTermsForm.initial_from_job(job))
    if request.method == "POST" and form.is_valid():
        try:
            services.job_update_draft(job=job, actor=request.user, **form.service_arguments())
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, "Job details saved.")
            return redirect("job_manage", job_id=job.public_id)
    return _job_terms_page(request, form, job=job)


def _job_terms_page(request: HttpRequest, form: JobTermsForm, *, job: Job | None) -> HttpResponse:
    context = {
        "form": form,
        "job": job,
        "cost": cost_of_terms(form),
        "fee_basis_points": settings.PLATFORM_FEE_BASIS_POINTS,
    }
    return render(request, "marketplace/job_terms.html", context)


def cost_of_terms(form: JobTermsForm) -> dict | None:
    """What one task costs on the terms typed so far (static/js/job-terms.js recomputes it as they change)."""
    reward_sats = _whole_number(form["reward_sats"].value())
    assignments = _whole_number(form["assignments_per_task"].value())
    if reward_sats is None or assignments is None or reward_sats < 1 or assignments < 1:
        return None
    reward_msat = reward_sats * MSAT_PER_SAT
    fee_msat = platform_fee_msat(reward_msat)
    estimate = _whole_number(form["estimated_seconds_per_task"].value())
    return {
        "reward_msat": reward_msat,
        "fee_msat": fee_msat,
        "assignments": assignments,
        "per_task_msat": (reward_msat + fee_msat) * assignments,
        "per_hundred_tasks_msat": (reward_msat + fee_msat) * assignments * 100,
        "sats_per_hour": reward_msat * 3600 // (estimate * MSAT_PER_SAT) if estimate and estimate > 0 else None,
    }


def _whole_number(value) -> int | None:
    text = str(value if value is not None else "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else None


@login_required
def job_manage(request: HttpRequest, job_id: str) -> HttpResponse:
    job = own_job_or_404(request, job_id)
    context = {
        "job": job,
        "progress": task_selectors.job_progress(job=job),
        "expiry_form": ExpiryForm(initial={"expires_at": job.expires_at}),
        "placeholders": services.job_placeholders(job),
    }
    if job.is_draft:
        cost = publish_cost_msat(job)
        if job.sandbox:  # play money, topped up on request rather than deposited
            available = sandbox_balance_msat(user=request.user)
        else:
            available = wallet_summary(user=request.user)["available_msat"]
        missing = max(0, cost - available)
        # One deposit brings at most DEPOSIT_MAX_MSAT: offer what can be deposited, and say when it is not enough.
        offer_sats = min(sats_rounded_up(missing), settings.DEPOSIT_MAX_MSAT // MSAT_PER_SAT)
        context.update(
            publish_cost_msat=cost,
            available_msat=available,
            missing_msat=missing,
            deposit_offer_sats=offer_sats,
            deposit_offer_msat=offer_sats * MSAT_PER_SAT,
            deposits_needed=-(-missing // settings.DEPOSIT_MAX_MSAT),
        )
    return render(request, "marketplace/job_manage.html", context)


@login_required
def job_form(request: HttpRequest, job_id: str) -> HttpResponse:
    """The answer form: a form builder, or a Mechanical Turk style HTML template."""
    job = own_job_or_404(request, job_id)
    if job.form_kind == FormKind.PER_TASK:
        # Made through the Mechanical Turk API: each task carries its own question, and a form saved here would
        # replace them all.
        messages.info(
            request,
            "Each task of this job carries its own question (Mechanical Turk API): there is no answer form to edit.",
        )
        return redirect("job_manage", job_id=job.public_id)
    form_kind = request.POST.get("form_kind") or request.GET.get("kind") or job.form_kind
    if form_kind not in FormKind.values:
        form_kind = FormKind.BUILDER
    if form_kind == FormKind.HTML:
        return _job_html_template(request, job)
    if form_kind == FormKind.EXTERNAL:
        return _job_external_study(request, job)
    return _job_form_builder(request, job)


def _job_external_study(request: HttpRequest, job: Job) -> HttpResponse:
    """An external study: the study's URL with the ids' placeholders, and the completion codes it may end with."""
    if request.method == "POST":
        form = ExternalStudyForm(request.POST)
        codes = CompletionCodeFormSet(request.POST, prefix="codes")
        if "add_code" in request.POST:
            rows = [
                {"code": request.POST.get(f"codes-{n}-code", ""), "action": request.POST.get(f"codes-{n}-action")}
                for n in range(min(_whole_number(request.POST.get("codes-TOTAL_FORMS")) or 0, MAX_COMPLETION_CODES))
            ]
            codes = CompletionCodeFormSet(initial=completion_code_initial(rows, rows=len(rows) + 1), prefix="codes")
        elif form.is_valid() and codes.is_valid():
            try:
                services.job_set_external_study(
                    job=job,
                    actor=request.user,
                    external_url=form.cleaned_data["external_url"],
                    completion_codes=completion_code_rows(codes),
                )
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, "External study saved.")
                return redirect("job_tasks" if job.task_count == 0 else "job_manage", job_id=job.public_id)
    else:
        form = ExternalStudyForm(initial={"external_url": job.external_url})
        codes = CompletionCodeFormSet(initial=completion_code_initial(job.completion_codes), prefix="codes")
    context = {
        "job": job,
        "form": form,
        "codes": codes,
        "form_kind": FormKind.EXTERNAL,
        "external_submit_url": settings.SITE_URL
        + reverse("sandbox_external_submit" if job.sandbox else "external_submit"),
        "completion_url": settings.SITE_URL + reverse("completion", args=["CODE"]),
    }
    return render(request, "marketplace/job_form_external.html", context)


def _job_form_builder(request: HttpRequest, job: Job) -> HttpResponse:
    initial_fields = [builder_field_initial(field) for field in job.form_fields] or [
        {"name": "answer", "label": "Your answer", "kind": "short_text", "required": True}
    ]
    if request.method == "POST":
        prompt_form = BuilderPromptForm(request.POST)
        formset = BuilderFieldFormSet(request.POST, prefix="fields")
        if "add_field" in request.POST:
            formset = _formset_with_extra_field(request.POST)
            if formset.total_form_count() >= BuilderFieldFormSet.max_num:
                messages.info(request, f"A form can have at most {BuilderFieldFormSet.max_num} fields.")
        elif prompt_form.is_valid() and formset.is_valid():
            fields = [
                form.as_field_definition()
                for form in formset.forms
                if form.cleaned_data and not form.cleaned_data.get("DELETE")
            ]
            try:
                services.job_set_builder_form(
                    job=job, actor=request.user, prompt=prompt_form.cleaned_data["prompt"], fields=fields
                )
            except DomainError as error:
                prompt_form.add_error(None, error.message)
            else:
                messages.success(request, "Answer form saved.")
                return redirect("job_tasks" if job.task_count == 0 else "job_manage", job_id=job.public_id)
    else:
        prompt_form = BuilderPromptForm(initial={"prompt": job.prompt})
        formset = BuilderFieldFormSet(initial=initial_fields, prefix="fields")
    context = {"job": job, "prompt_form": prompt_form, "formset": formset, "form_kind": FormKind.BUILDER}
    return render(request, "marketplace/job_form_builder.html", context)


def _formset_with_extra_field(post_data) -> BuilderFieldFormSet:
    """The posted fields as typed, plus one empty field unless the form has as many as it may: the builder's 'Add a
    field' works without JavaScript.

    The formset is unbound, so the new, still empty field is not shown with "required" errors.
    """
    try:
        total = min(int(post_data.get("fields-TOTAL_FORMS", 0) or 0), BuilderFieldFormSet.max_num)
    except ValueError:
        # Not a number: the formset as posted says what is wrong (its management form is invalid), with no 500.
        return BuilderFieldFormSet(post_data, prefix="fields")
    rows = []
    for index in range(total):
        prefix = f"fields-{index}-"
        if post_data.get(prefix + "DELETE"):
            continue
        rows.append({name: post_data.get(prefix + name, "") for name in BUILDER_TEXT_FIELDS})
        rows[-1]["required"] = bool(post_data.get(prefix + "required"))
    if len(rows) < BuilderFieldFormSet.max_num:
        rows.append({"kind": "short_text", "required": True})
    return BuilderFieldFormSet(initial=rows, prefix="fields")


def _job_html_template(request: HttpRequest, job: Job) -> HttpResponse:
    initial = {"html_template": job.html_template, "asset_hosts": "\n".join(job.asset_hosts)}
    form = HtmlTemplateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.job_set_html_template(
                job=job,
                actor=request.user,
                html_template=form.cleaned_data["html_template"],
                asset_hosts=form.asset_host_list(),
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, "HTML template saved.")
            return redirect("job_tasks" if job.task_count == 0 else "job_manage", job_id=job.public_id)
    context = {"job": job, "form": form, "form_kind": FormKind.HTML}
    return render(request, "marketplace/job_form_html.html", context)


@login_required
@acts_once
def job_tasks(request: HttpRequest, job_id: str) -> HttpResponse:
    job = own_job_or_404(request, job_id)
    columns = job.input_columns or services.job_placeholders(job)
    csv_form = TaskCsvForm()
    single_form = SingleTaskForm(columns)
    if request.method == "POST" and "add_csv" in request.POST:
        csv_form = TaskCsvForm(request.POST, request.FILES)
        if csv_form.is_valid():
            try:
                created = _add_tasks_from_csv_form(request, job, csv_form)
            except DomainError as error:
                csv_form.add_error(None, error.message)
            else:
                messages.success(request, f"{created:,} task{'s' if created != 1 else ''} added.")
                return redirect("job_tasks", job_id=job.public_id)
    elif request.method == "POST" and "add_one" in request.POST:
        single_form = SingleTaskForm(columns, request.POST)
        if single_form.is_valid():
            try:
                task_services.tasks_add(job=job, actor=request.user, columns=columns, rows=[single_form.row()])
            except DomainError as error:
                single_form.add_error(None, error.message)
            else:
                messages.success(request, "Task added.")
                return redirect("job_tasks", job_id=job.public_id)
    page = Paginator(task_selectors.tasks_of_job(job=job), TASKS_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "job": job,
        "columns": columns,
        "csv_form": csv_form,
        "single_form": single_form,
        "page": page,
        "can_add": job.status in {JobStatus.DRAFT, JobStatus.PUBLISHED, JobStatus.PAUSED},
    }
    return render(request, "marketplace/job_tasks.html", context)


@login_required
@acts_once
def job_task_edit(request: HttpRequest, job_id: str, task_id: str) -> HttpResponse:
    """Change or remove one task nobody has claimed; removing it from a live job refunds its escrow."""
    job = own_job_or_404(request, job_id)
    task = found_or_404(task_selectors.task_of_job_get, job=job, public_id=task_id)
    initial = {f"column_{index}": task.input.get(column, "") for index, column in enumerate(job.input_columns)}
    form = SingleTaskForm(job.input_columns, request.POST or None, initial=initial)
    if request.method == "POST" and "remove" in request.POST:
        try:
            task_services.task_remove(job=job, actor=request.user, task_id=task.public_id)
        except DomainError as error:
            messages.error(request, error.message)
            return redirect("job_task_edit", job_id=job.public_id, task_id=task.public_id)
        refunded = "" if job.is_draft else " Its escrow is back in your balance."
        messages.success(request, f"Task {task.position} removed.{refunded}")
        return redirect("job_tasks", job_id=job.public_id)
    if request.method == "POST" and form.is_valid():
        try:
            task_services.task_update(job=job, actor=request.user, task_id=task.public_id, row=form.row())
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, f"Task {task.position} saved.")
            return redirect("job_tasks", job_id=job.public_id)
    context = {
        "job": job,
        "task": task,
        "form": form,
        "can_change": _task_can_change(job, task),
        "refund_msat": escrow_per_slot_msat(job) * task_services.unclaimed_task_funded_slots(task, job),
    }
    return render(request, "marketplace/job_task_edit.html", context)


def _task_can_change(job: Job, task: Task) -> bool:
    return not task.claimed and job.status in task_services.EDITABLE_JOB_STATUSES


def _add_tasks_from_csv_form(request: HttpRequest, job: Job, form: TaskCsvForm) -> int:
    upload = form.cleaned_data.get("csv_file")
    text = decode_task_csv(upload.read()) if upload else form.cleaned_data["csv_text"]
    return task_services.tasks_add_from_csv(job=job, actor=request.user, csv_text=text)


@login_required
def job_sample_csv(request: HttpRequest, job_id: str) -> HttpResponse:
    """A CSV to fill in: the job's columns (its placeholders, until it has tasks) and one example row."""
    job = own_job_or_404(request, job_id)
    columns = job.input_columns or services.job_placeholders(job)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerow([f"example {column}" for column in columns])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="boltwork-job-{job.public_id}-sample.csv"'
    return response


@login_required
def job_preview(request: HttpRequest, job_id: str) -> HttpResponse:
    """The first task (or ?task=N) exactly as a worker will see it, with the form disabled."""
    job = own_job_or_404(request, job_id)
    task = _preview_task(job, request.GET.get("task"))
    frame_url = reverse("job_preview_frame", args=[job.public_id]) + (f"?task={task.position}" if task else "")
    # A HIT's own question is previewed as Mechanical Turk previews it (web.task_frames); an external study is
    # described, not opened.
    frame = frame_for_preview(job, task, frame_url) if job.form_kind == FormKind.PER_TASK else None
    question = task_question(job, task)
    fields = form_fields_of(job, question)
    context = {
        "job": job,
        "task": task,
        "previous_task": task_selectors.task_next_to(task=task, before=True) if task else None,
        "next_task": task_selectors.task_next_to(task=task, before=False) if task else None,
        "prompt_html": task_prompt_html(job, question, task.input if task else {}),
        "answer_form": answer_forms.AnswerForm(fields) if fields is not None else None,
        "frame": frame,
        "frame_url": frame_url,
        "study_open": frame is not None and frame.kind == "study",
    }
    return with_frame_policy(render(request, "marketplace/job_preview.html", context), frame)


@login_required
def job_preview_frame(request: HttpRequest, job_id: str) -> HttpResponse:
    job = own_job_or_404(request, job_id)
    return sandboxed_document(job, _preview_task(job, request.GET.get("task")))


def _preview_task(job: Job, position: str | None) -> Task | None:
    tasks = Task.objects.filter(job=job)
    if position and position.isascii() and position.isdigit() and len(position) <= 9:
        return tasks.filter(position=int(position)).first()
    return tasks.order_by("position").first()


JOB_ACTIONS = {
    "publish": (services.job_publish, "Published: your job is on the board."),
    "pause": (
        services.job_pause,
        "Paused: the job is off the board. Work already taken can still be submitted.",
    ),
    "resume": (services.job_resume, "Resumed: the job is back on the board."),
    "close": (services.job_close, "Closed: no new work will be taken."),
    "cancel": (services.job_cancel, "Draft cancelled."),
}


@login_required
@require_POST
@acts_once
def job_action(request: HttpRequest, job_id: str, action: str) -> HttpResponse:
    job = own_job_or_404(request, job_id)
    if action not in JOB_ACTIONS:
        raise Http404("No such action.")
    service, success_message = JOB_ACTIONS[action]
    try:
        service(job=job, actor=request.user)
    except InsufficientFunds as error:
        missing_sats = sats_rounded_up(error.details["missing_msat"])
        messages.error(
            request,
            f"Your balance is {missing_sats:,} {sats_word(missing_sats)} short of this job's escrow. Add funds first.",
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, success_message)
    if action == "cancel":
        return redirect("requester_dashboard")
    return redirect("job_manage", job_id=job.public_id)


@login_required
@require_POST
def job_expiry(request: HttpRequest, job_id: str) -> HttpResponse:
    job = own_job_or_404(request, job_id)
    form = ExpiryForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter a valid date and time, or leave it empty for no expiry.")
        return redirect("job_manage", job_id=job.public_id)
    try:
        services.job_extend_expiry(job=job, actor=request.user, expires_at=form.cleaned_data["expires_at"])
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Expiry updated.")
    return redirect("job_manage", job_id=job.public_id)


# The audit log of one's own objects ---------------------------------------------------------------------------


@login_required
def activity(request: HttpRequest) -> HttpResponse:
    """Everything that happened to the user's jobs, assignments, payouts and deposits, and who did it."""
    page = Paginator(events_for_user(user_id=request.user.pk), ACTIVITY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "marketplace/activity.html", {"page": page})
