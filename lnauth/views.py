"""Pages and endpoints of the wallet log-in. The browser: a page with the QR (`login_page`, or `panel` swapped into
allauth's log-in and sign-up pages), polled `status`, then a POST to `finish`. The wallet: `callback`."""

import segno
from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.account.utils import get_next_redirect_url
from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from allauth.socialaccount.helpers import complete_social_login
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from core import ratelimit
from core.errors import DomainError
from lnauth import services
from lnauth.models import Action, AuthChallenge

PROCESS_ACTIONS = {"login": Action.LOGIN, "connect": Action.LINK}


def _qr_svg(text: str) -> str:
    # segno's own SVG: no script and no style attribute, so fine under the site's CSP.
    return mark_safe(segno.make(text, error="m").svg_inline(scale=4, border=2, dark="#111827"))  # noqa: S308


def _client_ip(request: HttpRequest) -> str:
    # allauth's reading of the client address, so these limits count the same address its log-in limits do.
    return get_account_adapter(request).get_client_ip(request)


def panel_context(request: HttpRequest, action: str) -> dict:
    ratelimit.enforce(
        f"lnurl-auth-challenge:{_client_ip(request)}",
        limit=settings.LNURL_AUTH_CHALLENGES_PER_MINUTE,
        period_seconds=60,
        action="wallet log-in codes",
    )
    challenge = services.challenge_create(
        browser_token=services.browser_token(request.session), action=action, user=request.user
    )
    code = services.challenge_lnurl(challenge)
    return {
        "challenge": challenge,
        "lnurl": code,
        "qr_svg": _qr_svg(f"lightning:{code}"),
        "next": get_next_redirect_url(request) or "",
        "state": "waiting",
    }


def _fragment_error(request: HttpRequest, error: DomainError) -> HttpResponse:
    # htmx swaps in only 2xx answers: a refusal it should show (and that ends the polling) is a 200 to it.
    status = 200 if request.headers.get("HX-Request") else error.status
    return render(request, "lnauth/panel_error.html", {"error": error.message}, status=status)


def _action_from_request(request: HttpRequest) -> str:
    return PROCESS_ACTIONS.get(request.GET.get("process", "login"), Action.LOGIN)


@login_not_required
@require_GET
def login_page(request: HttpRequest) -> HttpResponse:
    """The wallet log-in on a page of its own: allauth's provider link, and "Link a wallet" on the connections page
    (`?process=connect`)."""
    action = _action_from_request(request)
    if action == Action.LINK and not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    try:
        context = panel_context(request, action)
    except DomainError as error:
        return render(request, "lnauth/login_page.html", {"error": error.message}, status=error.status)
    return render(request, "lnauth/login_page.html", context)


@login_not_required
@require_GET
def panel(request: HttpRequest) -> HttpResponse:
    """The QR and the polling, for htmx to swap into allauth's log-in and sign-up pages (each load, a fresh k1)."""
    try:
        context = panel_context(request, Action.LOGIN)
    except DomainError as error:
        return _fragment_error(request, error)
    return render(request, "lnauth/panel.html", context)


@login_not_required
@require_GET
def status(request: HttpRequest) -> HttpResponse:
    """'waiting' (and poll again), 'signed' (a form the page submits at once), or 'expired': only to the browser
    that asked for the k1."""
    try:
        challenge = services.challenge_for_browser(
            k1=request.GET.get("k1", ""), browser_token=services.session_browser_token(request.session)
        )
    except DomainError as error:
        return _fragment_error(request, error)
    now = timezone.now()
    if challenge.finished_at is not None:
        state = "finished"
    elif challenge.verified_at is not None:
        state = "signed" if services.finish_deadline(challenge) > now else "expired"
    else:
        state = "waiting" if challenge.expires_at > now else "expired"
    next_url = get_next_redirect_url(request) or ""
    return render(request, "lnauth/status.html", {"challenge": challenge, "state": state, "next": next_url})


@login_not_required
@require_POST
def finish(request: HttpRequest) -> HttpResponse:
    """Complete allauth's social login (or the connection of the wallet, for a link) in the browser that asked."""
    try:
        challenge: AuthChallenge = services.challenge_finish(
            k1=request.POST.get("k1", ""),
            browser_token=services.session_browser_token(request.session),
            user=request.user if request.user.is_authenticated else None,
        )
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("account_login" if not request.user.is_authenticated else "socialaccount_connections")
    provider = get_social_adapter().get_provider(request, services.PROVIDER_ID)
    sociallogin = provider.sociallogin_from_response(request, {"key": challenge.linking_key})
    sociallogin.state = {
        "process": "connect" if challenge.action == Action.LINK else "login",
        "next": get_next_redirect_url(request),
    }
    return complete_social_login(request, sociallogin)


def _wallet_answer(body: dict, status: int = 200) -> JsonResponse:
    response = JsonResponse(body, status=status)
    # Wallets in a browser (a web wallet, a browser extension) call from their own origin.
    response["Access-Control-Allow-Origin"] = "*"
    return response


@csrf_exempt
@login_not_required
@require_GET
def callback(request: HttpRequest) -> JsonResponse:
    """LUD-04's callback: `?tag=login&k1=&action=` (ours) `&sig=&key=` (the wallet's). Answers {"status": "OK"} or
    {"status": "ERROR", "reason": …}; LUD-04 wallets read the body, so errors keep HTTP 200 except the rate limit."""
    if not ratelimit.allow(
        f"lnurl-auth-callback:{_client_ip(request)}",
        limit=settings.LNURL_AUTH_CALLBACKS_PER_MINUTE,
        period_seconds=60,
    ):
        return _wallet_answer({"status": "ERROR", "reason": "Too many log-in attempts: try again in a minute."}, 429)
    if request.GET.get("tag") != "login":
        return _wallet_answer({"status": "ERROR", "reason": "tag must be login."})
    try:
        services.challenge_verify(
            k1=request.GET.get("k1", ""),
            sig=request.GET.get("sig", ""),
            key=request.GET.get("key", ""),
            action=request.GET.get("action", ""),
        )
    except DomainError as error:
        return _wallet_answer({"status": "ERROR", "reason": error.message})
    return _wallet_answer({"status": "OK"})
