"""Worker and review pages: claim, do, submit, return; review and download results."""

import json
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.errors import DomainError, InvalidInput
from core.ids import is_worker_id
from marketplace import answer_forms, external_studies, qualifications
from marketplace.models import Job
from marketplace.selectors import job_public_get, job_to_claim_get
from tasks import disputes, eligibility, selectors, services
from tasks.errors import NoTaskAvailable
from tasks.models import Assignment, AssignmentStatus, RejectionReason
from tasks.results import results_csv_response
from web.job_views import own_job_or_404
from web.lookups import found_or_404
from web.once import acts_once
from web.task_frames import (
    form_fields_of,
    frame_for_assignment,
    frame_for_preview,
    sandboxed_document,
    task_prompt_html,
    task_question,
    with_frame_policy,
)

REVIEW_PAGE_SIZE = 50


def own_assignment_or_404(request: HttpRequest, assignment_id: str) -> Assignment:
    return found_or_404(selectors.assignment_of_worker_get, worker=request.user, public_id=assignment_id)


# Doing the work -------------------------------------------------------------------------------------------------


@login_required
@require_POST
def job_start(request: HttpRequest, job_id: str) -> HttpResponse:
    """'Start working': claim the next task of the job and open it."""
    job = found_or_404(job_to_claim_get, public_id=job_id, viewer=request.user)
    return _claim_and_open(request, job)


def job_task_preview(request: HttpRequest, job_id: str) -> HttpResponse:
    """A task of a job as a worker will see it, before claiming one; answers cannot be sent from here."""
    job = found_or_404(job_public_get, public_id=job_id, viewer=request.user)
    refused = _preview_refused(request, job)
    if refused:
        return refused
    task = selectors.task_to_preview(job=job)
    question = task_question(job, task)
    fields = form_fields_of(job, question)
    frame = frame_for_preview(job, task, reverse("job_task_preview_frame", args=[job.public_id]))
    context = {
        "job": job,
        "task": task,
        "prompt_html": task_prompt_html(job, question, task.input if task else {}),
        "answer_form": answer_forms.AnswerForm(fields) if fields is not None else None,
        "frame": frame,
        "frame_url": frame.url if frame else "",
        "study_open": frame is not None and frame.kind == "study",
        "done_all": job.pk in selectors.jobs_done_by(worker=request.user, job_ids=[job.pk]),
    }
    return with_frame_policy(render(request, "tasks/task_preview.html", context), frame)


def job_task_preview_frame(request: HttpRequest, job_id: str) -> HttpResponse:
    job = found_or_404(job_public_get, public_id=job_id, viewer=request.user)
    if not eligibility.job_access(job=job, worker=request.user).may_preview:
        return HttpResponseForbidden("Your qualifications do not allow previewing this job's tasks.")
    task = selectors.task_to_preview(job=job)
    return sandboxed_document(job, task)


def _preview_refused(request: HttpRequest, job: Job) -> HttpResponse | None:
    """The job page's explanation, with 403, for a worker whose qualifications do not allow previewing."""
    access = eligibility.job_access(job=job, worker=request.user)
    if access.may_preview:
        return None
    context = {
        "job": job,
        "access": access,
        "requirements": qualifications.requirements_described(job.qualification_requirements),
    }
    return render(request, "marketplace/job_not_qualified.html", context, status=403)


def _claim_and_open(request: HttpRequest, job: Job) -> HttpResponse:
    try:
        assignment = services.assignment_claim(job=job, worker=request.user)
    except NoTaskAvailable as error:
        messages.info(request, error.message)
        return redirect("worker_dashboard")
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("job_detail", job_id=job.public_id)
    return redirect("assignment_detail", assignment_id=assignment.public_id)


@login_required
def assignment_detail(request: HttpRequest, assignment_id: str) -> HttpResponse:
    assignment = own_assignment_or_404(request, assignment_id)
    return _render_assignment(request, assignment)


def _render_assignment(
    request: HttpRequest, assignment: Assignment, *, answer_form=None, error: str = "", status: int = 200
) -> HttpResponse:
    job = assignment.job
    question = task_question(job, assignment.task)
    fields = form_fields_of(job, question)
    if fields is not None and answer_form is None:
        answer_form = answer_forms.AnswerForm(fields, initial=assignment.answer or None)
    frame = frame_for_assignment(assignment)
    is_open = assignment.is_open and assignment.deadline_at > timezone.now()
    # A study is framed only while the task is open: opened again after its end it would start over.
    study_open = is_open and frame is not None and frame.kind == "study"
    context = {
        "assignment": assignment,
        "job": job,
        "task": assignment.task,
        "prompt_html": task_prompt_html(job, question, assignment.task.input),
        "answer_form": answer_form,
        "error": error,
        "frame": frame,
        "frame_url": frame.url if frame else "",
        "study_open": study_open,
        "external_submit_origin": external_studies.site_origin(),
        "is_open": is_open,
        "open_instructions": selectors.is_first_assignment_in_job(assignment=assignment),
        "dispute": selectors.dispute_of_assignment(assignment=assignment),
        "dispute_window_days": settings.DISPUTE_WINDOW_DAYS,
        "can_dispute": disputes.dispute_window_open(assignment, now=timezone.now()),
    }
    response = render(request, "tasks/assignment_detail.html", context, status=status)
    return with_frame_policy(response, frame if study_open else None)


@login_required
def assignment_frame(request: HttpRequest, assignment_id: str) -> HttpResponse:
    assignment = own_assignment_or_404(request, assignment_id)
    return sandboxed_document(assignment.job, assignment.task)


@login_required
@require_POST
def assignment_submit(request: HttpRequest, assignment_id: str) -> HttpResponse:
    assignment = own_assignment_or_404(request, assignment_id)
    job = assignment.job
    take_next = "next" in request.POST
    question = task_question(job, assignment.task)
    frame = frame_for_assignment(assignment)
    if frame is not None and frame.kind == "study":
        # The study's own page ends the task (externalSubmit or a completion link), not this page's form.
        return _render_assignment(
            request, assignment, error="This task ends in the study itself: finish it there.", status=400
        )
    if frame is not None:
        data = _html_answer_from_post(request)
    else:
        data = request.POST
    try:
        services.assignment_submit(assignment=assignment, worker=request.user, data=data)
    except InvalidInput as error:  # the answer itself (AnswerInvalid for a built form): say so on the page
        answer_form = None
        fields = form_fields_of(job, question)
        if fields is not None:
            answer_form = answer_forms.AnswerForm(fields, data=request.POST)
            answer_form.is_valid()
        return _render_assignment(request, assignment, answer_form=answer_form, error=error.message, status=400)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("assignment_detail", assignment_id=assignment.public_id)
    messages.success(request, "Submitted. Thank you!")
    if take_next:
        return _claim_and_open(request, job)
    return redirect("worker_dashboard")


def _html_answer_from_post(request: HttpRequest) -> object:
    """The answer the page's script sent as JSON, or None (refused as empty) if it is not JSON. What JSON allows but
    the database does not (NUL, lone surrogates) is refused by the answer's validation."""
    try:
        return json.loads(request.POST.get("answer_json", ""))
    except (ValueError, RecursionError):  # RecursionError: arrays nested deeper than the parser's stack
        return None


@login_required
@require_POST
def assignment_return(request: HttpRequest, assignment_id: str) -> HttpResponse:
    assignment = own_assignment_or_404(request, assignment_id)
    try:
        services.assignment_return(assignment=assignment, worker=request.user)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("assignment_detail", assignment_id=assignment.public_id)
    messages.info(request, "Assignment returned. The task went back to the pool.")
    return redirect("worker_dashboard")


@login_required
def worker_dashboard(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in AssignmentStatus.values:
        status = ""
    assignments = selectors.assignments_of_worker(worker=request.user, status=status)
    page = Paginator(assignments, 25).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "stats": selectors.worker_stats(worker=request.user),
        "status": status,
        "statuses": AssignmentStatus.choices,
        "query_string": f"status={status}" if status else "",
    }
    return render(request, "tasks/worker_dashboard.html", context)


# Review ---------------------------------------------------------------------------------------------------------


@login_required
@acts_once
def review_queue(request: HttpRequest, job_id: str) -> HttpResponse:
    job = own_job_or_404(request, job_id)
    status = request.GET.get("status", AssignmentStatus.SUBMITTED)
    if status not in {AssignmentStatus.SUBMITTED, AssignmentStatus.APPROVED, AssignmentStatus.REJECTED}:
        status = AssignmentStatus.SUBMITTED
    if request.method == "POST":
        return _review_bulk(request, job)
    worker_id = request.GET.get("worker", "")
    worker_id = worker_id if is_worker_id(worker_id) else ""
    assignments = selectors.review_queue(job=job, status=status, worker_public_id=worker_id)
    page = Paginator(assignments, REVIEW_PAGE_SIZE).get_page(request.GET.get("page"))
    query = urlencode({"status": status, **({"worker": worker_id} if worker_id else {})})
    context = {
        "job": job,
        "page": page,
        "status": status,
        "worker_id": worker_id,
        "query_string": query,
        "answer_fields": job.answer_fields,
        "rejection_reasons": RejectionReason.choices,
    }
    return render(request, "tasks/review_queue.html", context)


def _review_bulk(request: HttpRequest, job: Job) -> HttpResponse:
    # Passed on as sent: one value that names no submission of this job refuses the whole action.
    selected = request.POST.getlist("selected")
    decision = request.POST.get("decision")
    reason = request.POST.get("reason", "").strip()
    if decision not in {"approve", "reject"}:
        messages.error(request, "Choose approve or reject.")
    elif not selected:
        messages.error(request, "Select at least one submission.")
    elif decision == "reject" and not reason:
        messages.error(request, "Give a reason for the rejection: the workers will see it.")
    else:
        try:
            reviewed = services.assignments_review_bulk(
                job=job,
                reviewer=request.user,
                approve_ids=selected if decision == "approve" else [],
                reject=dict.fromkeys(selected, reason) if decision == "reject" else {},
                feedback=reason if decision == "approve" else "",
                rejection_reason=request.POST.get("rejection_reason", ""),
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            verb = "approved" if decision == "approve" else "rejected"
            messages.success(request, f"{len(reviewed)} submission{'s' if len(reviewed) != 1 else ''} {verb}.")
    return redirect("review_queue", job_id=job.public_id)


@login_required
@require_POST
@acts_once
def assignment_review(request: HttpRequest, assignment_id: str) -> HttpResponse:
    """Approve or reject one submission; answers htmx with the updated row, others with a redirect."""
    assignment = found_or_404(selectors.assignment_to_review_get, reviewer=request.user, public_id=assignment_id)
    decision = request.POST.get("decision")
    error = ""
    try:
        if decision not in {"approve", "reject"}:
            error = "Choose approve or reject."
        else:
            assignment = services.assignment_review(
                assignment=assignment,
                reviewer=request.user,
                approve=decision == "approve",
                feedback=request.POST.get("feedback", ""),
                rejection_reason=request.POST.get("rejection_reason", "") if decision == "reject" else "",
            )
    except DomainError as exc:
        error = exc.message
    done = "" if error else f"Submission {assignment.get_status_display().lower()}."
    if request.headers.get("HX-Request"):
        assignment = selectors.review_queue(job=assignment.job, status=assignment.status).get(pk=assignment.pk)
        context = {
            "item": assignment,
            "job": assignment.job,
            "answer_fields": assignment.job.answer_fields,
            "rejection_reasons": RejectionReason.choices,
        }
        return render(request, "tasks/_review_item.html", {**context, "error": error, "done": done})
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done)
    return redirect("review_queue", job_id=assignment.job.public_id)


@login_required
def results_csv(request: HttpRequest, job_id: str) -> StreamingHttpResponse:
    return results_csv_response(job=own_job_or_404(request, job_id))
