"""Known answers and training (issue 12, tasks.controls and tasks.training): the requester's page of a task's known
answers, and the worker's training page of a job. Parse, check permission, call one service or selector, render."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from core.errors import DomainError, InvalidInput
from marketplace import answer_forms
from marketplace.models import FormKind, Job
from marketplace.selectors import job_public_get
from tasks import controls, training
from tasks import selectors as task_selectors
from tasks import services as task_services
from tasks.models import TaskKind
from web.framing import sandboxed_frame_response
from web.job_views import own_job_or_404
from web.known_answer_forms import KnownAnswersForm
from web.lookups import found_or_404
from web.once import acts_once

# Known answers (the requester's) ---------------------------------------------------------------------------------


@login_required
@acts_once
def job_task_known_answers(request: HttpRequest, job_id: str, task_id: str) -> HttpResponse:
    """Give a task no worker has taken known answers (a control), change them, or take them away."""
    job = own_job_or_404(request, job_id)
    task = found_or_404(task_selectors.task_of_job_get, job=job, public_id=task_id)
    if not job.has_form:
        messages.error(request, "Add the job's answer form first: known answers are answers to it.")
        return redirect("job_task_edit", job_id=job.public_id, task_id=task.public_id)
    form = KnownAnswersForm(job, task, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            task = task_services.task_known_answers_set(
                job=job, actor=request.user, task_id=task.public_id, gold=form.gold()
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            said = {
                TaskKind.CONTROL: "is a control with these known answers",
                TaskKind.TRAINING: "is a training task with these known answers",
                TaskKind.REGULAR: "is a regular task, without known answers",
            }[task.kind]
            messages.success(request, f"Task {task.position} {said}.")
            return redirect("job_task_edit", job_id=job.public_id, task_id=task.public_id)
    context = {
        "job": job,
        "task": task,
        "form": form,
        "can_change": not task.claimed and job.status in task_services.EDITABLE_JOB_STATUSES,
        "gold_items": controls.gold_display_items(job, task.gold),
    }
    return render(request, "tasks/training_known_answers.html", context)


# Training (the worker's) -----------------------------------------------------------------------------------------


@login_required
@acts_once
def job_training(request: HttpRequest, job_id: str) -> HttpResponse:
    """The job's next training task, answered unpaid; after each answer, the correct one; at the end, the score."""
    job = found_or_404(job_public_get, public_id=job_id, viewer=request.user)
    if job.requester_id == request.user.pk:
        messages.info(request, "This is your own job: workers do its training. Its training tasks are listed here.")
        return redirect("job_tasks", job_id=job.public_id)
    answer_form, error = None, ""
    if request.method == "POST" and "restart" in request.POST:
        try:
            training.training_restart(job=job, worker=request.user)
        except DomainError as refused:
            messages.error(request, refused.message)
        return redirect("job_training", job_id=job.public_id)
    if request.method == "POST":
        task_id = request.POST.get("task", "")
        try:
            data = _answer_data(request, job)
            training.training_answer_submit(job=job, worker=request.user, task_id=task_id, data=data)
        except InvalidInput as invalid:  # the answer itself: say so next to the form
            error = invalid.message
            if job.form_kind == FormKind.BUILDER:
                answer_form = answer_forms.AnswerForm(job.form_fields, data=request.POST)
                answer_form.is_valid()
        except DomainError as refused:
            messages.error(request, refused.message)
            return redirect("job_training", job_id=job.public_id)
        else:
            return redirect(reverse("job_training", args=[job.public_id]) + f"?answered={task_id}")
    return _training_page(request, job, answer_form=answer_form, error=error)


def _training_page(request: HttpRequest, job: Job, *, answer_form, error: str) -> HttpResponse:
    state = training.training_state(job=job, worker=request.user)
    if not state.tasks:
        raise Http404("This job has no training.")
    task = state.next_task
    if task is not None and answer_form is None and job.form_kind == FormKind.BUILDER:
        answer_form = answer_forms.AnswerForm(job.form_fields)
    answered_id = request.GET.get("answered", "")
    answered = training.training_answer_get(job=job, worker=request.user, task_public_id=answered_id)
    context = {
        "job": job,
        "state": state,
        "task": task,
        "answer_form": answer_form,
        "error": error,
        "prompt_html": answer_forms.fill_prompt(job.prompt_html, task.input) if task else "",
        "frame_url": reverse("job_training_frame", args=[job.public_id]) + f"?task={task.public_id}" if task else "",
        "answered": answered,
        "answered_gold": controls.gold_display_items(job, answered.task.gold) if answered else [],
        "may_retake": state.may_retake(timezone.now()),
    }
    return render(request, "tasks/training.html", context, status=400 if error else 200)


def _answer_data(request: HttpRequest, job: Job):
    if job.form_kind == FormKind.BUILDER:
        return request.POST
    try:
        return json.loads(request.POST.get("answer_json", ""))
    except (ValueError, RecursionError):
        return None


@login_required
def job_training_frame(request: HttpRequest, job_id: str) -> HttpResponse:
    """A training task of an HTML template job, in its sandbox (as the task page's frame)."""
    job = found_or_404(job_public_get, public_id=job_id, viewer=request.user)
    if job.form_kind != FormKind.HTML:
        raise Http404("This job has no HTML template.")
    task = next((task for task in training.training_tasks(job=job) if task.public_id == request.GET.get("task")), None)
    if task is None:
        raise Http404("No such training task.")
    rendered = answer_forms.render_html_template(job.html_template, task.input)
    return sandboxed_frame_response(rendered, asset_hosts=job.asset_hosts)
