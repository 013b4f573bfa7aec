"""How external studies end (issue 13): the study's POST to {turkSubmitTo}/mturk/externalSubmit, the task page's
question "has the study ended?", and completion links {SITE_URL}/complete/<code>. The rules are in tasks.external."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import DomainError, NotFound
from marketplace.external_studies import site_origin
from tasks import external
from tasks.models import AssignmentStatus
from web.work_views import own_assignment_or_404

# An externalSubmit carries a study's summary, not its data (studies keep their trials on their own servers): 64 KB
# is what an answer may hold in all (marketplace.answer_forms.MAX_HTML_ANSWER_BYTES), with room for the encoding.
MAX_EXTERNAL_SUBMIT_BYTES = 64 * 1024
FORM_CONTENT_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
MAX_CODE_CHARS = 64


# Cross-site frames send no cookie of ours (and no CSRF token): the random assignment id is the credential.
@csrf_exempt
@require_POST
def external_submit(request: HttpRequest, *, sandbox: bool) -> HttpResponse:
    """`POST /mturk/externalSubmit` (live) and `/sandbox/mturk/externalSubmit`: `assignmentId` in the query string
    (jsPsych's submitToTurk) or the body (psiTurk); every other field is the answer. Answers inside the study's
    frame: a "Submitted" page that tells the task page to move on, or a plain page saying why not."""
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not (declared.isascii() and declared.isdigit()) or int(declared) > MAX_EXTERNAL_SUBMIT_BYTES:
        return _refused(
            request, f"The answer is larger than {MAX_EXTERNAL_SUBMIT_BYTES // 1024} KB: nothing was submitted.", 413
        )
    if request.content_type not in FORM_CONTENT_TYPES:
        return _refused(request, "Post the answer as form fields: nothing was submitted.", 400)
    if request.FILES:
        return _refused(request, "Files cannot be submitted here: nothing was submitted.", 400)
    assignment_id = request.GET.get("assignmentId") or request.POST.get("assignmentId", "")
    answer = {
        name: values[0] if len(values) == 1 else values
        for name, values in request.POST.lists()
        if name != "assignmentId"
    }
    try:
        external.assignment_submit_external(assignment_id=assignment_id, sandbox=sandbox, answer=answer)
    except NotFound:
        return _refused(request, external.NO_SUCH_OPEN_ASSIGNMENT, 404)
    except DomainError as error:
        return _refused(request, error.message, 400)
    return render(request, "tasks/external_submitted.html", {"parent_origin": site_origin()})


def _refused(request: HttpRequest, message: str, status: int) -> HttpResponse:
    response = render(request, "tasks/external_refused.html", {"message": message}, status=status)
    if status == 413:
        response["Connection"] = "close"  # the body was not read
    return response


@login_required
def assignment_external_status(request: HttpRequest, assignment_id: str) -> HttpResponse:
    """The task page's status fragment while a study is open (htmx asks every few seconds, and at once when the
    frame says the study posted): still open, submitted (the page then takes the next task), or ended otherwise."""
    assignment = own_assignment_or_404(request, assignment_id)
    context = {"assignment": assignment, "external_submit_origin": site_origin(), "ended_reason": ""}
    if assignment.status == AssignmentStatus.ACCEPTED and assignment.deadline_at > timezone.now():
        context["state"] = "open"
    elif assignment.status in {AssignmentStatus.SUBMITTED, AssignmentStatus.APPROVED, AssignmentStatus.REJECTED}:
        context["state"] = "submitted"
        messages.success(request, "Submitted. Thank you!")
    else:
        context["state"] = "ended"
        context["ended_reason"] = (
            "The time limit for this task has passed: the study can no longer submit it."
            if assignment.status == AssignmentStatus.ACCEPTED
            else f"This task was {assignment.get_status_display().lower()}: the study can no longer submit it."
        )
    return render(request, "tasks/_external_status.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def completion(request: HttpRequest, code: str) -> HttpResponse:
    """{SITE_URL}/complete/<code>, where a study sends its participants at the end (Prolific style). A GET only asks
    (a redirect lands on a GET, and a GET changes nothing); the POST of its button submits the worker's open task
    on the study with that code, and approves it at once when the requester set the code so."""
    code = code[:MAX_CODE_CHARS]
    if request.method == "POST":
        try:
            done = external.assignment_complete_with_code(worker=request.user, code=code)
        except NotFound:
            return _no_such_code(request)
        except DomainError as error:
            messages.error(request, error.message)
            return redirect("worker_dashboard")
        if done.action == "approve":
            messages.success(request, "Submitted and approved: the reward is in your earnings.")
        else:
            messages.success(request, "Submitted. Thank you! The requester reviews it.")
        return redirect("assignment_detail", assignment_id=done.assignment.public_id)
    target = external.completion_target(worker=request.user, code=code)
    if target is None:
        return _no_such_code(request)
    return render(request, "tasks/completion_confirm.html", {"target": target, "job": target.assignment.job})


def _no_such_code(request: HttpRequest) -> HttpResponse:
    return render(request, "tasks/completion_not_found.html", status=404)
