"""Wallet pages (balances, statement, deposits, payouts, withdraw) and the public LNURL-withdraw endpoints."""

import hashlib
import json
import re
from urllib.parse import urlsplit

import lnurl
import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError
from core.money import MSAT_PER_SAT, sats_rounded_up, sats_word
from payments import deposits, lnurl_client, selectors, services, withdraw
from payments.errors import InsufficientFunds, WithdrawRefused
from payments.lightning import get_backend, test_wallet_enabled
from payments.models import Deposit, DepositStatus, PayoutSource, PayoutState, WithdrawLink
from tasks import bonuses, statement
from tasks import selectors as task_selectors
from web.adapters import authenticated_within
from web.lookups import found_or_404
from web.once import acts_once
from web.wallet_forms import BonusForm, DepositForm, PaymentStepForm, PayoutDestinationForm

STATEMENT_PAGE_SIZE = 30  # transactions: a reward or a bonus paid makes two lines, with its fee
PAYOUTS_PAGE_SIZE = 25
# A payout card asks for itself again while the payout is in one of these (not while it waits for a moderator).
PAYOUT_STATES_ON_THEIR_WAY = frozenset(
    {PayoutState.CREATED, PayoutState.INVOICE_REQUESTED, PayoutState.INVOICE_VERIFIED, PayoutState.SENDING}
)


def site_url(path: str) -> str:
    """An absolute URL on the public site. Wallets call these, so they come from SITE_URL, not from the request
    (behind a TLS proxy the request says http, and LNURL needs the public https address)."""
    return settings.SITE_URL + path


def qr_svg(text: str) -> str:
    """An inline SVG QR code (no script, no style attribute: fine under the site's CSP)."""
    return mark_safe(segno.make(text, error="m").svg_inline(scale=5, border=2, dark="#111827"))  # noqa: S308 - segno's own SVG


@login_required
def wallet(request: HttpRequest) -> HttpResponse:
    """Balances, escrow by job and the statement, in whole sats; `?exact=1` shows every amount to the millisatoshi."""
    exact = request.GET.get("exact") == "1"
    page = statement.wallet_statement(
        user=request.user, page_number=request.GET.get("page"), page_size=STATEMENT_PAGE_SIZE
    )
    context = {
        "summary": selectors.wallet_summary(user=request.user),
        "escrow_accounts": selectors.escrow_by_job(user=request.user),
        "withdraw_min_msat": settings.WITHDRAW_MIN_MSAT,
        "page": page,
        "exact": exact,
        "query_string": "exact=1" if exact else "",
        "backend_moves_real_money": get_backend().moves_real_money,
    }
    return render(request, "payments/wallet.html", context)


# Deposits ------------------------------------------------------------------------------------------------------


@login_required
@acts_once
def deposit_new(request: HttpRequest) -> HttpResponse:
    form = DepositForm(request.POST or None, initial={"amount_sats": request.GET.get("amount_sats")})
    if request.method == "POST" and form.is_valid():
        try:
            deposit = deposits.deposit_create(
                user=request.user, amount_msat=form.cleaned_data["amount_sats"] * MSAT_PER_SAT
            )
        except DomainError as error:
            form.add_error("amount_sats", error.message)
        else:
            return redirect("deposit_detail", deposit_id=deposit.public_id)
    context = {
        "form": form,
        "minimum_sats": settings.DEPOSIT_MIN_MSAT // MSAT_PER_SAT,
        "maximum_sats": settings.DEPOSIT_MAX_MSAT // MSAT_PER_SAT,
    }
    return render(request, "payments/deposit_new.html", context)


def _own_deposit_or_404(request: HttpRequest, deposit_id: str) -> Deposit:
    return found_or_404(selectors.deposit_of_user_get, user=request.user, public_id=deposit_id)


@login_required
def deposit_detail(request: HttpRequest, deposit_id: str) -> HttpResponse:
    deposit = deposits.deposit_refresh(deposit=_own_deposit_or_404(request, deposit_id))
    return render(request, "payments/deposit_detail.html", _deposit_context(deposit))


@never_cache
@login_required
def deposit_status(request: HttpRequest, deposit_id: str) -> HttpResponse:
    """The part of the deposit page htmx polls until the invoice is paid or expired."""
    deposit = deposits.deposit_refresh(deposit=_own_deposit_or_404(request, deposit_id))
    return render(request, "payments/_deposit_status.html", _deposit_context(deposit))


def _deposit_context(deposit: Deposit) -> dict:
    return {
        "deposit": deposit,
        "qr": qr_svg(f"lightning:{deposit.bolt11}".upper()) if deposit.status == DepositStatus.PENDING else "",
        "backend_moves_real_money": get_backend().moves_real_money,
    }


@login_required
@require_POST
@acts_once
def deposit_pay_with_dev_wallet(request: HttpRequest, deposit_id: str) -> HttpResponse:
    """Development backend only: pay the invoice from the built-in test wallet (no real money exists there)."""
    deposit = _own_deposit_or_404(request, deposit_id)
    if not test_wallet_enabled():
        raise Http404("Only the development backend has a test wallet.")
    backend = get_backend()
    result = backend.pay_invoice(bolt11=deposit.bolt11, fee_limit_msat=0)
    deposits.deposit_refresh(deposit=deposit)
    if result.reason:
        messages.info(request, result.reason)
    return redirect("deposit_detail", deposit_id=deposit.public_id)


# Payouts -------------------------------------------------------------------------------------------------------


@login_required
def payouts(request: HttpRequest) -> HttpResponse:
    page = statement.payouts_with_paid_work(
        worker=request.user, page_number=request.GET.get("page"), page_size=PAYOUTS_PAGE_SIZE
    )
    context = {
        "page": page,
        "summary": selectors.wallet_summary(user=request.user),
        "destination": selectors.payout_destination_of(user=request.user),
        "fee_policy": selectors.payout_fee_policy(),
        "polled_states": PAYOUT_STATES_ON_THEIR_WAY,
    }
    return render(request, "payments/payouts.html", context)


@never_cache
@login_required
def payout_card(request: HttpRequest, payout_id: str) -> HttpResponse:
    """One payout's card, which the payouts page asks for again while the payout is on its way."""
    payout = found_or_404(statement.payout_with_paid_work_get, worker=request.user, public_id=payout_id)
    return render(
        request, "payments/_payout_card.html", {"payout": payout, "polled_states": PAYOUT_STATES_ON_THEIR_WAY}
    )


@login_required
def payout_settings(request: HttpRequest) -> HttpResponse:
    """Where a worker is paid. Changing the address asks for the password again: a session left open must not be
    enough to redirect someone's earnings."""
    destination = selectors.payout_destination_of(user=request.user)
    initial = {"auto_payout": True, "minimum_payout_sats": 1}
    if destination is not None:
        initial = {
            "address": destination.address,
            "auto_payout": destination.auto_payout,
            "minimum_payout_sats": destination.minimum_payout_msat // MSAT_PER_SAT,
        }
    current_address = destination.address if destination is not None else ""
    confirmation = _address_change_confirmation(request)
    form = PayoutDestinationForm(
        request.POST or None,
        initial=initial,
        current_address=current_address,
        password_needed=confirmation == CONFIRM_BY_PASSWORD,
    )
    if request.method == "POST" and form.is_valid() and form.address_changes():
        problem = _confirmation_problem(request, form, confirmation)
        if problem:
            form.add_error("password" if confirmation == CONFIRM_BY_PASSWORD else "address", problem)
    if request.method == "POST" and form.is_valid():
        try:
            destination = services.payout_destination_set(
                user=request.user,
                address=form.cleaned_data["address"],
                auto_payout=form.cleaned_data["auto_payout"],
                minimum_payout_msat=form.cleaned_data["minimum_payout_sats"] * MSAT_PER_SAT,
            )
        except DomainError as error:
            form.add_error("address", error.message)
        else:
            if destination.address:
                messages.success(request, f"Saved. Payouts go to {destination.wallet_name or destination.address}.")
            else:
                messages.success(request, "Saved. Withdraw your balance with a QR code whenever you like.")
            return redirect("payouts")
    return render(request, "payments/payout_settings.html", {"form": form, "destination": destination})


# A browser that signed up or logged in this recently may choose where it is paid without the password again.
PAYMENT_STEP_FRESH_LOGIN_SECONDS = 15 * 60
# How a change of where money goes is confirmed: by the password; by a log-in this recent (an account that logs in
# with a Lightning wallet has no password, so its wallet log-in is what confirms); or not yet (it must log in again).
CONFIRM_BY_PASSWORD = "password"  # noqa: S105 (a name of a way to confirm, not a password)
CONFIRMED_BY_FRESH_LOGIN = "fresh-login"
CONFIRM_BY_NEW_LOGIN = "new-login"
WALLET_LOGIN_AGAIN_MESSAGE = (
    "Your account logs in with a Lightning wallet and has no password: log out and log in with your wallet again, "
    "then change where you are paid within 15 minutes."
)


def _address_change_confirmation(request: HttpRequest) -> str:
    if request.user.has_usable_password():
        return CONFIRM_BY_PASSWORD
    if authenticated_within(request, PAYMENT_STEP_FRESH_LOGIN_SECONDS):
        return CONFIRMED_BY_FRESH_LOGIN
    return CONFIRM_BY_NEW_LOGIN


def _confirmation_problem(request: HttpRequest, form, confirmation: str) -> str | None:
    """Why a change of address is not confirmed (None when it is)."""
    if confirmation == CONFIRM_BY_PASSWORD:
        return _password_problem(request, form.cleaned_data["password"])
    if confirmation == CONFIRM_BY_NEW_LOGIN:
        return WALLET_LOGIN_AGAIN_MESSAGE
    return None


@login_required
@acts_once
def payment_step(request: HttpRequest) -> HttpResponse:
    """The "How do you want to be paid?" page, right after sign-up and whenever someone comes back to it: a Lightning
    Address (paid automatically when work is approved) or withdrawing by QR code. Choosing either, or skipping,
    continues to `next` (the job board without one). Changing where money goes asks for the password, as the payout
    settings do, unless this browser has only just signed up or logged in."""
    then = _next_or_board(request)
    destination = selectors.payout_destination_of(user=request.user)
    current_address = destination.address if destination is not None else ""
    confirmation = (
        CONFIRMED_BY_FRESH_LOGIN
        if authenticated_within(request, PAYMENT_STEP_FRESH_LOGIN_SECONDS)
        else _address_change_confirmation(request)
    )
    form = PaymentStepForm(
        request.POST or None,
        initial={"address": current_address},
        current_address=current_address,
        password_needed=confirmation == CONFIRM_BY_PASSWORD,
    )
    if request.method == "POST" and form.is_valid() and form.address_changes():
        problem = _confirmation_problem(request, form, confirmation)
        if problem:
            form.add_error("password" if confirmation == CONFIRM_BY_PASSWORD else "address", problem)
    if request.method == "POST" and form.is_valid():
        try:
            destination = services.payout_destination_set(
                user=request.user,
                address=form.new_address(),
                auto_payout=destination.auto_payout if destination is not None else True,
                minimum_payout_msat=destination.minimum_payout_msat if destination is not None else MSAT_PER_SAT,
            )
        except DomainError as error:
            form.add_error("address", error.message)
        else:
            if destination.address:
                messages.success(request, f"Saved. Payouts go to {destination.wallet_name or destination.address}.")
            else:
                messages.success(request, "Saved. Your earnings collect in your wallet: withdraw them with a QR code.")
            return redirect(then)
    context = {
        "form": form,
        "destination": destination,
        "then": then,
        "test_address": _test_wallet_address(request) if test_wallet_enabled() else "",
    }
    return render(request, "payments/payment_step.html", context)


def _next_or_board(request: HttpRequest) -> str:
    """Where the payment step continues: `next` when it is a page of this site, else the job board."""
    then = request.GET.get("next", "")
    safe = url_has_allowed_host_and_scheme(then, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return then if safe else reverse("board")


def _test_wallet_address(request: HttpRequest) -> str:
    """This user's Lightning Address at the development test wallet, which this site serves itself: a LUD-16 name
    (lowercase letters, digits, `.`, `_`, `-`) at a host the LNURL client may reach over plain http, the one this
    page was asked at (`make run`'s 127.0.0.1:<port>) or else SITE_URL's. Any name works; theirs reads best."""
    name = re.sub(r"[^a-z0-9._-]", "", request.user.get_username().lower()).strip(".") or "worker"
    hosts = [host for host in (request.get_host(), urlsplit(settings.SITE_URL).netloc) if host]
    host = next((host for host in hosts if lnurl_client.insecure_scheme_if_allowed(host) == "http"), hosts[0])
    return f"{name}@{host}"


PAYOUT_PASSWORD_FAILURES_ALLOWED = 5
PAYOUT_PASSWORD_WINDOW_SECONDS = 15 * 60


def _password_problem(request: HttpRequest, password: str) -> str | None:
    """Why the password does not confirm a change of payout address, or None when it does.

    Wrong passwords are counted per user in the cache (a fixed window, like the API's rate limit); past the limit
    no password is checked at all, so this form cannot be used to guess the password of a session left open."""
    key = f"payout-password-failures:{request.user.pk}"
    if cache.get(key, 0) >= PAYOUT_PASSWORD_FAILURES_ALLOWED:
        minutes = PAYOUT_PASSWORD_WINDOW_SECONDS // 60
        return f"Too many wrong passwords: wait {minutes} minutes, then try again."
    if request.user.check_password(password):
        return None
    cache.add(key, 0, timeout=PAYOUT_PASSWORD_WINDOW_SECONDS)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=PAYOUT_PASSWORD_WINDOW_SECONDS)
    return "That is not your password."


WITHDRAW_SOURCES = {"earnings": PayoutSource.EARNINGS, "balance": PayoutSource.BALANCE}


@login_required
def withdraw_page(request: HttpRequest) -> HttpResponse:
    """Show an LNURL-withdraw QR for the whole of a balance: earnings (`?from=earnings`, the default) or a
    requester's unspent balance (`?from=balance`). The open link is shown again until it is used or runs out."""
    source_name = request.GET.get("from", "earnings")
    source = WITHDRAW_SOURCES.get(source_name, PayoutSource.EARNINGS)
    back = "wallet" if source == PayoutSource.BALANCE else "payouts"
    try:
        link = withdraw.withdraw_link_create(worker=request.user, source=source)
    except DomainError as error:
        messages.info(request, error.message)
        return redirect(back)
    url = site_url(reverse("lnurl_withdraw_request", args=[link.k1]))
    encoded = lnurl.encode(url).bech32
    context = {
        "link": link,
        "lnurl": encoded,
        "qr": qr_svg(f"lightning:{encoded}".upper()),
        "back": back,
        "fee_policy": selectors.payout_fee_policy(),
    }
    return render(request, "payments/withdraw.html", context)


@never_cache
@login_required
def withdraw_status(request: HttpRequest, link_id: str) -> HttpResponse:
    link = WithdrawLink.objects.select_related("payout").filter(public_id=link_id, worker=request.user).first()
    if link is None:
        raise Http404("No such withdraw link.")
    return render(request, "payments/_withdraw_status.html", {"link": link})


# Bonuses -------------------------------------------------------------------------------------------------------


@login_required
@require_POST
@acts_once
def bonus_create(request: HttpRequest, assignment_id: str) -> HttpResponse:
    """A requester pays a bonus to the worker of one of their job's assignments."""
    assignment = found_or_404(task_selectors.assignment_to_review_get, reviewer=request.user, public_id=assignment_id)
    form = BonusForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the bonus in whole sats (at least 1) and say what it is for.")
    else:
        try:
            bonuses.bonus_pay(
                requester=request.user,
                worker_id=assignment.worker.public_id,
                amount_msat=form.cleaned_data["amount_sats"] * MSAT_PER_SAT,
                reason=form.cleaned_data["reason"],
                assignment_id=assignment.public_id,
            )
        except InsufficientFunds as error:
            missing_sats = sats_rounded_up(error.details["missing_msat"])
            messages.error(
                request,
                f"Your balance is {missing_sats:,} {sats_word(missing_sats)} short of this bonus. Add funds first.",
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            bonus_sats = form.cleaned_data["amount_sats"]
            messages.success(request, f"Bonus of {bonus_sats:,} {sats_word(bonus_sats)} sent.")
    return redirect(f"{reverse('review_queue', args=[assignment.job.public_id])}?status={assignment.status}")


# LNURL-withdraw endpoints, called by wallets (no session, no CSRF: the k1 is the credential) -------------------


@never_cache
@require_GET
def lnurl_withdraw_request(request: HttpRequest, k1: str) -> JsonResponse:
    try:
        link = withdraw.withdraw_link_usable(k1=k1)
    except WithdrawRefused as error:
        return _lnurl_error(error.message)
    response = lnurl.LnurlWithdrawResponse(
        callback=site_url(reverse("lnurl_withdraw_callback")),
        k1=link.k1,
        minWithdrawable=link.min_withdrawable_msat,
        maxWithdrawable=link.max_withdrawable_msat,
        defaultDescription="Boltwork earnings",
    )
    return JsonResponse(response.model_dump(by_alias=True, exclude_none=True, mode="json"))


@never_cache
@require_GET
def lnurl_withdraw_callback(request: HttpRequest) -> JsonResponse:
    """Answer at once; the payment is made by a Celery worker (LUD-03)."""
    k1 = request.GET.get("k1", "")
    invoice = request.GET.get("pr", "")
    if not k1 or not invoice:
        return _lnurl_error("Both k1 and pr are required.")
    try:
        withdraw.withdraw_claim(k1=k1, invoice=invoice)
    except WithdrawRefused as error:
        return _lnurl_error(error.message)
    return JsonResponse({"status": "OK"})


def _lnurl_error(reason: str) -> JsonResponse:
    return JsonResponse({"status": "ERROR", "reason": reason})


# The development test wallet: a Lightning Address for every user, served only with the development backend, so
# `make run` can show payouts over LNURL-pay end to end with no node. It is "the outside world" of the dev setup.


def _dev_wallet_metadata(username: str) -> str:
    return json.dumps([["text/plain", f"Test wallet of {username} (development, no real money)"]])


@never_cache
@require_GET
def dev_wallet_pay_request(request: HttpRequest, username: str) -> JsonResponse:
    if not test_wallet_enabled():
        raise Http404("The test wallet exists only with the development backend.")
    return JsonResponse(
        {
            "tag": "payRequest",
            # Development only: the callback lives wherever the caller reached this wallet.
            "callback": request.build_absolute_uri(reverse("dev_wallet_invoice", args=[username])),
            "minSendable": MSAT_PER_SAT,
            "maxSendable": 100_000_000 * MSAT_PER_SAT,
            "metadata": _dev_wallet_metadata(username),
            "commentAllowed": 140,
        }
    )


@never_cache
@require_GET
def dev_wallet_invoice(request: HttpRequest, username: str) -> JsonResponse:
    if not test_wallet_enabled():
        raise Http404("The test wallet exists only with the development backend.")
    backend = get_backend()
    amount = request.GET.get("amount", "")
    if not (amount.isascii() and amount.isdigit() and len(amount) <= 15) or int(amount) < MSAT_PER_SAT:
        return _lnurl_error("amount must be a number of millisatoshis, at least 1000")
    invoice = backend.create_invoice(
        amount_msat=int(amount),
        description_hash=hashlib.sha256(_dev_wallet_metadata(username).encode()).digest(),
    )
    success = {"tag": "message", "message": f"Received by the test wallet of {username}."}
    return JsonResponse({"pr": invoice.bolt11, "routes": [], "successAction": success})


@login_required
@require_POST
@acts_once
def withdraw_with_dev_wallet(request: HttpRequest, link_id: str) -> HttpResponse:
    """Development backend only: the test wallet claims the withdraw link, as a scanning wallet would."""
    if not test_wallet_enabled():
        raise Http404("The test wallet exists only with the development backend.")
    backend = get_backend()
    link = WithdrawLink.objects.filter(public_id=link_id, worker=request.user).first()
    if link is None:
        raise Http404("No such withdraw link.")
    invoice = backend.create_invoice(amount_msat=link.max_withdrawable_msat, memo="Boltwork withdrawal (test wallet)")
    try:
        payout = withdraw.withdraw_claim(k1=link.k1, invoice=invoice.bolt11)
    except WithdrawRefused as error:
        messages.error(request, error.message)
        return redirect("payouts")
    asked_sats = payout.amount_msat // MSAT_PER_SAT
    messages.success(request, f"The test wallet asked for {asked_sats:,} {sats_word(asked_sats)}; paying now.")
    return redirect("payouts")
