"""The settings page for API keys and webhooks."""

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from api import services, webhooks
from api.models import ApiKey, WebhookDelivery, WebhookEndpoint
from core.errors import DomainError
from mturk import credentials as mturk_credentials
from web.api_forms import ApiKeyForm, MturkCredentialForm, WebhookEndpointForm


@login_required
def api_settings(request: HttpRequest) -> HttpResponse:
    key_form = ApiKeyForm(prefix="key")
    webhook_form = WebhookEndpointForm(prefix="webhook", user=request.user)
    mturk_form = MturkCredentialForm(prefix="mturk")
    shown_once = {}
    if request.method == "POST" and "create_key" in request.POST:
        key_form = ApiKeyForm(request.POST, prefix="key")
        if key_form.is_valid():
            days = key_form.cleaned_data["expires_in_days"]
            try:
                api_key, secret = services.api_key_create(
                    user=request.user,
                    name=key_form.cleaned_data["name"],
                    scopes=key_form.cleaned_data["scopes"],
                    expires_at=timezone.now() + timedelta(days=days) if days else None,
                )
            except DomainError as error:
                key_form.add_error(None, error.message)
            else:
                shown_once = {"label": f"API key “{api_key.name}”", "secret": secret}
                key_form = ApiKeyForm(prefix="key")
    elif request.method == "POST" and "create_webhook" in request.POST:
        webhook_form = WebhookEndpointForm(request.POST, prefix="webhook", user=request.user)
        if webhook_form.is_valid():
            try:
                endpoint = webhooks.webhook_endpoint_create(
                    user=request.user, url=webhook_form.cleaned_data["url"], job=webhook_form.cleaned_data["job"]
                )
            except DomainError as error:
                webhook_form.add_error("url", error.message)
            else:
                shown_once = {"label": f"Signing secret of {endpoint.url}", "secret": endpoint.secret}
                webhook_form = WebhookEndpointForm(prefix="webhook", user=request.user)
    elif request.method == "POST" and "create_mturk_credential" in request.POST:
        mturk_form = MturkCredentialForm(request.POST, prefix="mturk")
        if mturk_form.is_valid():
            try:
                credential, secret = mturk_credentials.credential_create(
                    user=request.user, currency=mturk_form.cleaned_data["currency"]
                )
            except DomainError as error:
                mturk_form.add_error(None, error.message)
            else:
                shown_once = {
                    "label": f"Secret access key of {credential.access_key_id}",
                    "secret": secret,
                    "access_key_id": credential.access_key_id,
                }
                mturk_form = MturkCredentialForm(prefix="mturk")
    context = {
        "keys": ApiKey.objects.filter(user=request.user).order_by("-created_at"),
        "key_form": key_form,
        "endpoints": WebhookEndpoint.objects.filter(user=request.user, deleted_at__isnull=True).select_related("job"),
        "deliveries": WebhookDelivery.objects.filter(endpoint__user=request.user)
        .select_related("endpoint", "event")
        .order_by("-created_at")[:50],
        "webhook_form": webhook_form,
        "mturk_credentials": mturk_credentials.credentials_of(request.user),
        "mturk_form": mturk_form,
        "mturk_live_url": f"{settings.SITE_URL}/mturk",
        "mturk_sandbox_url": f"{settings.SITE_URL}/sandbox/mturk",
        "mturk_sats_per_usd": settings.MTURK_SATS_PER_USD,
        "shown_once": shown_once,
        "now": timezone.now(),
    }
    return render(request, "api/settings.html", context)


@login_required
@require_POST
def api_key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    try:
        api_key = services.api_key_revoke(user=request.user, key_id=key_id)
    except DomainError:
        raise Http404("No such key.") from None
    messages.success(request, f"Key “{api_key.name}” revoked: it no longer works.")
    return redirect("api_settings")


@login_required
@require_POST
def webhook_endpoint_delete(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    try:
        webhooks.webhook_endpoint_delete(user=request.user, endpoint_id=endpoint_id)
    except DomainError:
        raise Http404("No such webhook endpoint.") from None
    messages.success(request, "Webhook endpoint removed.")
    return redirect("api_settings")


@login_required
@require_POST
def mturk_credential_revoke(request: HttpRequest, access_key_id: str) -> HttpResponse:
    try:
        mturk_credentials.credential_revoke(user=request.user, access_key_id=access_key_id)
    except DomainError:
        raise Http404("No such credential.") from None
    messages.success(request, f"Mechanical Turk credential {access_key_id} revoked: calls signed with it are refused.")
    return redirect("api_settings")
