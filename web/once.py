"""Forms that move money or create something act once, however often they are sent.

Each such form carries a random token (`{% form_token %}`, rendered anew with every form). The first POST with a
token claims it (an idempotency record, unique per user and key: the database admits one claim) and acts; its
answer, a redirect, is remembered. A double click, a resent POST after going back, or a replay of the same
request gets that redirect again instead of acting twice. A POST whose first sending is still being answered waits
for it, briefly. Tokens are remembered for a day, as API Idempotency-Keys are (the same records and sweeper).

A POST without a token acts as before (old pages still open in a browser, scripts). A form re-shown with errors
releases its token: the corrected form acts.
"""

import functools
import json
import time

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme

from api import services as idempotency
from api.services import IdempotencyConflict, IdempotencyInProgress

FORM_TOKEN_FIELD = "form_token"  # noqa: S105 (a field name, not a secret)
# How long a second sending waits for the first one's answer before saying it is still being done.
WAIT_FOR_FIRST_SECONDS = 10.0
ALREADY_DONE = "That was already done: this is what it did."
STILL_BEING_DONE = "That is still being done; look again in a moment."
OUT_OF_DATE = "This form is out of date: reload the page and send it again."
TOKEN_MAX = 200
REDIRECTS = (301, 302, 303)


def acts_once(view):
    """For a view whose POST moves money or creates something, and answers it with a redirect."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        token = request.POST.get(FORM_TOKEN_FIELD, "") if request.method == "POST" else ""
        if not token or not request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if len(token) > TOKEN_MAX or not token.isascii() or not token.isprintable():
            messages.error(request, OUT_OF_DATE)
            return _back(request)
        record = _claim(request, token)
        if record is None:
            messages.info(request, STILL_BEING_DONE)
            return _back(request)
        if record.answered:
            messages.info(request, ALREADY_DONE)
            return redirect(_location_of(record))
        try:
            response = view(request, *args, **kwargs)
        except BaseException:
            idempotency.idempotency_abandon(record=record)
            raise
        if response.status_code in REDIRECTS:
            location = {"location": response["Location"]}
            idempotency.idempotency_finish(record=record, status=response.status_code, body=location)
        else:
            idempotency.idempotency_abandon(record=record)
        return response

    return wrapper


def _claim(request: HttpRequest, token: str):
    """The token's record: this request's own claim, or the first sending's answer. None when the first sending is
    still being answered after WAIT_FOR_FIRST_SECONDS."""
    key, fingerprint = _key_of(request, token)
    deadline = time.monotonic() + WAIT_FOR_FIRST_SECONDS
    while True:
        try:
            return idempotency.idempotency_begin(user=request.user, key=key, fingerprint=fingerprint)
        except IdempotencyInProgress:
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.1)
        except IdempotencyConflict:
            # The same token on another form: not a sending of this one. Act on it under a key of its own.
            return idempotency.idempotency_begin(
                user=request.user, key=f"{key}:{request.path}", fingerprint=fingerprint
            )


def _key_of(request: HttpRequest, token: str) -> tuple[str, str]:
    # The form is the path: a double click sends the same fields, and a resent form is the same form whatever
    # was typed into it the second time.
    fingerprint = idempotency.request_fingerprint(method="POST", path=request.path, body=b"")
    return f"form:{token}", fingerprint


def _location_of(record) -> str:
    return json.loads(record.response_body)["location"]


def _back(request: HttpRequest) -> HttpResponse:
    """To the page the form was on (this site's only), else the home page."""
    referer = request.headers.get("Referer", "")
    safe = url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return redirect(referer if safe else "/")
