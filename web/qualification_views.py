"""Qualification pages: a requester's custom types, their grants and who may work on a job; a worker's view of a
type (their score, asking for an auto-granted one) and of their qualifications."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.errors import DomainError
from marketplace import qualifications, services
from marketplace.models import JobStatus, QualificationGrant, QualificationType
from tasks.csv_import import decode_task_csv
from tasks.worker_profiles import worker_profile_get
from web.job_views import own_job_or_404
from web.lookups import found_or_404
from web.once import acts_once
from web.qualification_forms import (
    GrantCsvForm,
    GrantForm,
    QualificationTypeForm,
    RequirementFormSet,
    WorkerRulesForm,
    requirement_initial,
    type_choices,
)

GRANTS_SHOWN = 500
OTHER_JOBS_SHOWN = 100


# A requester's types ---------------------------------------------------------------------------------------------


@login_required
@acts_once
def qualification_types(request: HttpRequest) -> HttpResponse:
    form = QualificationTypeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            qualification = qualifications.qualification_type_create(owner=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, f"Qualification “{qualification.name}” created. Grant it to workers below.")
            return redirect("qualification_manage", qualification_id=qualification.public_id)
    context = {
        "form": form,
        "types": QualificationType.objects.filter(owner=request.user).order_by("name"),
        "system_types": qualifications.SYSTEM_TYPES.values(),
    }
    return render(request, "qualifications/types.html", context)


@login_required
@acts_once
def qualification_manage(request: HttpRequest, qualification_id: str) -> HttpResponse:
    qualification = found_or_404(
        qualifications.qualification_type_of_owner_get, owner=request.user, public_id=qualification_id
    )
    action = request.POST.get("action", "")
    edit_form = QualificationTypeForm(
        request.POST if action == "edit" else None,
        initial={
            "name": qualification.name,
            "description": qualification.description,
            "auto_grant_value": qualification.auto_grant_value,
        },
    )
    grant_form = GrantForm(request.POST if action == "grant" else None)
    csv_form = GrantCsvForm(request.POST if action == "csv" else None, request.FILES if action == "csv" else None)
    if action == "delete":
        if _act(
            request,
            None,
            lambda: qualifications.qualification_type_delete(qualification=qualification, actor=request.user),
            f"Qualification “{qualification.name}” deleted.",
        ):
            return redirect("qualification_types")
        return redirect("qualification_manage", qualification_id=qualification.public_id)
    if action == "revoke":
        worker_id = request.POST.get("worker_id", "")
        _act(
            request,
            None,
            lambda: qualifications.qualification_revoke(
                qualification=qualification, actor=request.user, worker_id=worker_id
            ),
            f"Taken from {worker_id}.",
        )
        return redirect("qualification_manage", qualification_id=qualification.public_id)
    done = False
    if action == "edit" and edit_form.is_valid():
        done = _act(
            request,
            edit_form,
            lambda: qualifications.qualification_type_update(
                qualification=qualification, actor=request.user, **edit_form.cleaned_data
            ),
            "Saved.",
        )
    elif action == "grant" and grant_form.is_valid():
        worker_id = grant_form.cleaned_data["worker_id"].strip()
        done = _act(
            request,
            grant_form,
            lambda: qualifications.qualification_grant(
                qualification=qualification,
                actor=request.user,
                worker_id=worker_id,
                value=grant_form.cleaned_data["value"],
            ),
            f"Granted to {worker_id}.",
        )
    elif action == "csv" and csv_form.is_valid():
        done = _act(
            request,
            csv_form,
            lambda: qualifications.qualification_grants_from_csv(
                qualification=qualification,
                actor=request.user,
                csv_text=decode_task_csv(csv_form.cleaned_data["csv_file"].read()),
            ),
            "Granted to every worker in the file.",
        )
    if done:
        return redirect("qualification_manage", qualification_id=qualification.public_id)
    grants = QualificationGrant.objects.filter(type=qualification).select_related("worker").order_by("-granted_at")
    context = {
        "qualification": qualification,
        "edit_form": edit_form,
        "grant_form": grant_form,
        "csv_form": csv_form,
        "grants": grants[:GRANTS_SHOWN],
        "grant_count": grants.count(),
    }
    return render(request, "qualifications/manage.html", context)


def _act(request: HttpRequest, form, action, success: str) -> bool:
    """Run a service and say how it went: its refusal goes on `form`, or into the messages when there is none."""
    try:
        action()
    except DomainError as error:
        if form is not None:
            form.add_error(None, error.message)
        else:
            messages.error(request, error.message)
        return False
    messages.success(request, success)
    return True


# Who may work on a job -------------------------------------------------------------------------------------------


@login_required
@acts_once
def job_worker_rules(request: HttpRequest, job_id: str) -> HttpResponse:
    job = own_job_or_404(request, job_id)
    custom_types = QualificationType.objects.filter(owner=request.user).order_by("name")
    choices = type_choices(custom_types)
    excluded_now = list(job.excluded_jobs.values_list("public_id", "title"))
    recent_jobs = (
        job.requester.jobs.exclude(pk=job.pk)
        .exclude(status__in=[JobStatus.DRAFT, JobStatus.CANCELLED])
        .order_by("-created_at")
        .values_list("public_id", "title")[:OTHER_JOBS_SHOWN]
    )
    # The jobs excluded already are always choices, so saving the page never drops one it did not list.
    other_jobs = list(dict.fromkeys([*excluded_now, *recent_jobs]))
    initial_rules = {
        "excluded_job_ids": [public_id for public_id, _ in excluded_now],
        "max_tasks_per_worker": job.max_tasks_per_worker,
    }
    data = request.POST if request.method == "POST" else None
    formset = RequirementFormSet(
        data,
        initial=requirement_initial(job.qualification_requirements),
        prefix="requirement",
        form_kwargs={"type_choices": choices},
    )
    rules_form = WorkerRulesForm(data, initial=initial_rules, other_jobs=other_jobs)
    if data is not None and formset.is_valid() and rules_form.is_valid():
        requirements = [form.requirement() for form in formset.forms if form.requirement()]
        try:
            services.job_set_worker_rules(
                job=job,
                actor=request.user,
                requirements=requirements,
                excluded_job_ids=rules_form.cleaned_data["excluded_job_ids"],
                max_tasks_per_worker=rules_form.cleaned_data["max_tasks_per_worker"],
            )
        except DomainError as error:
            rules_form.add_error(None, error.message)
        else:
            messages.success(request, "Saved: new claims follow these rules.")
            return redirect("job_manage", job_id=job.public_id)
    context = {"job": job, "formset": formset, "rules_form": rules_form, "has_custom_types": custom_types.exists()}
    return render(request, "qualifications/job_worker_rules.html", context)


# A worker's side -------------------------------------------------------------------------------------------------


def qualification_detail(request: HttpRequest, qualification_id: str) -> HttpResponse:
    qualification = found_or_404(qualifications.qualification_type_get, public_id=qualification_id)
    grant = None
    if request.user.is_authenticated:
        grant = QualificationGrant.objects.filter(type=qualification, worker=request.user).first()
    return render(request, "qualifications/detail.html", {"qualification": qualification, "grant": grant})


@login_required
@require_POST
@acts_once
def qualification_request(request: HttpRequest, qualification_id: str) -> HttpResponse:
    qualification = found_or_404(qualifications.qualification_type_get, public_id=qualification_id)
    try:
        grant = qualifications.qualification_request(qualification=qualification, worker=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"You have “{qualification.name}”, with the score {grant.value}.")
    return redirect("qualification_detail", qualification_id=qualification.public_id)


@login_required
def my_qualifications(request: HttpRequest) -> HttpResponse:
    values = qualifications.worker_values(request.user)
    system = [(system, values.get(type_id)) for type_id, system in qualifications.SYSTEM_TYPES.items()]
    context = {"system": system, "grants": qualifications.grants_of_worker(worker=request.user)}
    return render(request, "qualifications/mine.html", context)


# A worker's profile, as a requester sees it -------------------------------------------------------------------------


@login_required
def worker_profile(request: HttpRequest, worker_id: str) -> HttpResponse:
    """A worker as requesters see them: their figures, the requester's qualifications they hold (to grant or change
    one), the work they did for this requester, and a block or unblock."""
    profile = found_or_404(worker_profile_get, viewer=request.user, worker_id=worker_id)
    own_types = QualificationType.objects.filter(owner=request.user).order_by("name")
    context = {"profile": profile, "own_types": own_types}
    return render(request, "qualifications/worker_profile.html", context)
