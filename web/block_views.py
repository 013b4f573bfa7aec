"""A requester blocks a worker from their jobs (from the review screen) and lists and lifts their blocks."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from core.errors import DomainError
from marketplace import blocks
from marketplace.models import WorkerBlock


@login_required
@require_POST
def worker_block(request: HttpRequest, worker_id: str) -> HttpResponse:
    try:
        blocks.worker_block(requester=request.user, worker_id=worker_id, reason=request.POST.get("reason", ""))
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Worker {worker_id} is blocked: they no longer see or take your jobs.")
    return _back(request)


@login_required
@require_POST
def worker_unblock(request: HttpRequest, worker_id: str) -> HttpResponse:
    try:
        blocks.worker_unblock(requester=request.user, worker_id=worker_id)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Worker {worker_id} is no longer blocked.")
    return redirect("worker_blocks")


@login_required
def worker_blocks(request: HttpRequest) -> HttpResponse:
    mine = WorkerBlock.objects.filter(requester=request.user).select_related("worker").order_by("-created_at")
    return render(request, "marketplace/worker_blocks.html", {"blocks": mine})


def _back(request: HttpRequest) -> HttpResponse:
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect(back)
    return redirect("worker_blocks")
