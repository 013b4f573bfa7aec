"""Dispute pages: a rejected worker opens one; the worker, the requester and moderators read and act on it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.errors import DomainError
from marketplace.users import is_moderator
from tasks import disputes, selectors, services
from tasks.models import DisputeRole
from web.lookups import found_or_404
from web.once import acts_once

DISPUTES_PAGE_SIZE = 50


@login_required
@require_POST
@acts_once
def dispute_open(request: HttpRequest, assignment_id: str) -> HttpResponse:
    try:
        dispute = disputes.dispute_open(
            assignment_id=assignment_id, worker=request.user, message=request.POST.get("message", "")
        )
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("assignment_detail", assignment_id=assignment_id)
    messages.success(request, "Dispute opened. The reward is held until it is decided.")
    return redirect("dispute_detail", dispute_id=dispute.public_id)


@login_required
def dispute_detail(request: HttpRequest, dispute_id: str) -> HttpResponse:
    moderator = is_moderator(request.user)
    dispute = found_or_404(selectors.dispute_get_for, user=request.user, public_id=dispute_id, is_moderator=moderator)
    assignment = dispute.assignment
    context = {
        "dispute": dispute,
        "assignment": assignment,
        "job": assignment.job,
        "thread": dispute.messages.select_related("author"),
        "role": disputes.dispute_role_of(dispute, request.user),
        "roles": DisputeRole,
    }
    return render(request, "tasks/dispute_detail.html", context)


@login_required
@require_POST
@acts_once
def dispute_act(request: HttpRequest, dispute_id: str) -> HttpResponse:
    """Every action on a dispute page: the requester's answer or withdrawal, a message, a moderator's decision."""
    action = request.POST.get("action", "")
    text = request.POST.get("text", "")
    try:
        if action == "answer":
            disputes.dispute_answer(dispute_id=dispute_id, requester=request.user, message=text)
            done = "Your answer is sent."
        elif action == "withdraw":
            disputes.dispute_withdraw_rejection(dispute_id=dispute_id, requester=request.user)
            done = "Rejection withdrawn: the work is approved and the worker paid."
        elif action == "message":
            disputes.dispute_message_add(dispute_id=dispute_id, author=request.user, body=text)
            done = "Message sent."
        elif action in {"uphold", "overturn"}:
            disputes.dispute_decide(
                dispute_id=dispute_id, moderator=request.user, overturn=action == "overturn", reason=text
            )
            done = "Rejection overturned: the worker is paid." if action == "overturn" else "Rejection upheld."
        else:
            messages.error(request, "Choose what to do.")
            return redirect("dispute_detail", dispute_id=dispute_id)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return redirect("dispute_detail", dispute_id=dispute_id)


@login_required
def dispute_list(request: HttpRequest) -> HttpResponse:
    """One's own disputes; for moderators, the queue of live ones too."""
    own = Paginator(selectors.disputes_of_user(user=request.user), DISPUTES_PAGE_SIZE).get_page(request.GET.get("page"))
    moderator = is_moderator(request.user)
    context = {
        "page": own,
        "queue": selectors.disputes_for_moderators()[:DISPUTES_PAGE_SIZE] if moderator else None,
        "held": selectors.rejections_held()[:DISPUTES_PAGE_SIZE] if moderator else None,
    }
    return render(request, "tasks/dispute_list.html", context)


@login_required
@require_POST
@acts_once
def rejection_hold_decide(request: HttpRequest, assignment_id: str) -> HttpResponse:
    """A moderator lets a held mass rejection stand, or approves the work instead."""
    decision = request.POST.get("decision")
    if decision not in {"let_stand", "approve"}:
        messages.error(request, "Choose whether the rejection stands.")
        return redirect("dispute_list")
    try:
        services.rejection_hold_decide(
            assignment_id=assignment_id,
            moderator=request.user,
            let_stand=decision == "let_stand",
            note=request.POST.get("note", ""),
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "The rejection stands." if decision == "let_stand" else "Approved and paid instead.")
    return redirect("dispute_list")
