"""Work alerts: a worker's saved board searches, listed with delete, and saved from the board or this page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from alerts import selectors, services
from alerts.models import MAX_SAVED_SEARCHES_PER_WORKER
from core.errors import DomainError
from web.alert_forms import SavedSearchForm
from web.once import acts_once


@login_required
@require_http_methods(["GET", "POST"])
@acts_once
def alert_list(request: HttpRequest) -> HttpResponse:
    """The worker's alerts and a form for another; the board's "Save this search as an alert" posts here."""
    form = SavedSearchForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.saved_search_create(worker=request.user, **form.service_arguments())
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, "Alert saved: you will be told when a job matching it is published.")
            return redirect("alert_list")
    searches = list(selectors.saved_searches_of_worker(worker=request.user))
    return render(
        request,
        "alerts/list.html",
        {"form": form, "searches": searches, "max_searches": MAX_SAVED_SEARCHES_PER_WORKER},
    )


@login_required
@require_POST
def alert_delete(request: HttpRequest, alert_id: str) -> HttpResponse:
    try:
        services.saved_search_delete(worker=request.user, saved_search_id=alert_id)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Alert deleted.")
    return redirect("alert_list")
