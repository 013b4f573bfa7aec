"""Notification pages: the list (mark read, one or all), opening one, and which kinds come in the site or by email."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from notifications import selectors, services
from notifications.kinds import kinds_with_descriptions
from web.lookups import found_or_404
from web.notification_forms import NotificationPreferencesForm

NOTIFICATIONS_PAGE_SIZE = 25


@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.notifications_of_user(user=request.user), NOTIFICATIONS_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "notifications/list.html", {"page": page})


@login_required
@require_GET
def notification_open(request: HttpRequest, notification_id: str) -> HttpResponse:
    """Following a notification marks it read and goes to what it is about."""
    notification = found_or_404(services.notification_mark_read, user=request.user, notification_id=notification_id)
    if not url_has_allowed_host_and_scheme(notification.link, allowed_hosts=None):
        return redirect("notification_list")  # a link is always a path here; anything else goes nowhere
    return redirect(notification.link)


@login_required
@require_POST
def notification_mark_read(request: HttpRequest, notification_id: str) -> HttpResponse:
    found_or_404(services.notification_mark_read, user=request.user, notification_id=notification_id)
    return redirect(_back_to_list(request))


@login_required
@require_POST
def notifications_mark_all_read(request: HttpRequest) -> HttpResponse:
    count = services.notifications_mark_all_read(user=request.user)
    messages.success(request, f"Marked {count:,} notification{'s' if count != 1 else ''} read.")
    return redirect(_back_to_list(request))


@login_required
@require_http_methods(["GET", "POST"])
def notification_settings(request: HttpRequest) -> HttpResponse:
    current = selectors.preferences_of_user(user=request.user)
    form = NotificationPreferencesForm(request.POST or None, current=current)
    if request.method == "POST" and form.is_valid():
        services.notification_preferences_set(user=request.user, choices=form.choices())
        messages.success(request, "Your notification settings are saved.")
        return redirect("notification_settings")
    rows = [
        {"kind": kind, "label": label, "description": description, **form.fields_of(kind)}
        for kind, label, description in kinds_with_descriptions()
    ]
    return render(request, "notifications/settings.html", {"form": form, "rows": rows})


def _back_to_list(request: HttpRequest) -> str:
    """The list page the form was sent from (its page number), or the first."""
    page = request.POST.get("page", "")
    url = reverse("notification_list")
    return f"{url}?page={page}" if page.isdigit() and page != "1" else url
