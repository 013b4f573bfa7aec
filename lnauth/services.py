"""LNURL-auth (LUD-04): make a k1 for one browser, accept a wallet's signature of it once, let that browser finish.

A challenge goes: made (a browser shows its QR) → verified (the wallet's callback signed it, once, before it
expired) → finished (the browser that asked POSTs to log in, once). Each step is one conditional UPDATE, so two
callbacks or two finishes racing for one k1 cannot both win.
"""

import hashlib
import re
import secrets
from datetime import timedelta
from urllib.parse import urlencode

import lnurl
from allauth.socialaccount.models import SocialAccount
from coincurve import PublicKey
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from core.errors import DomainError, InvalidInput, InvalidTransition, NotFound
from lnauth.models import Action, AuthChallenge

PROVIDER_ID = "lnurl_auth"
# The session holds a random token naming this browser; challenges store its hash. The session key is no good for
# this: allauth rotates it at log-in, and a k1 made before a log-in (link) must still belong to the same browser.
BROWSER_TOKEN_SESSION_KEY = "lnauth_browser_token"  # noqa: S105 - a session key name
# Expired challenges are deleted when new ones are made, after this long (kept a while to answer "expired").
KEEP_EXPIRED = timedelta(days=1)


class NotYours(DomainError):
    """A link asked for by another account, or one asked for while logged out."""

    code = "forbidden"
    status = 403


_K1 = re.compile(r"[0-9a-f]{64}")
_KEY = re.compile(r"0[23][0-9a-f]{64}")
# A DER ECDSA signature is at most 72 bytes.
_SIG = re.compile(r"(?:[0-9a-f]{2}){8,72}")


def browser_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_browser_token(session) -> str | None:
    """This browser's token if it has made a challenge (reading one makes no session)."""
    token = session.get(BROWSER_TOKEN_SESSION_KEY)
    return token if isinstance(token, str) and token else None


def browser_token(session) -> str:
    """This browser's token, made and stored in its session on first use."""
    token = session.get(BROWSER_TOKEN_SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[BROWSER_TOKEN_SESSION_KEY] = token
    return token


def callback_url(challenge: AuthChallenge) -> str:
    """The URL the wallet calls (the LNURL's content): SITE_URL, since a phone cannot reach what the browser's Host
    header may say."""
    query = urlencode({"tag": "login", "k1": challenge.k1, "action": challenge.action})
    return f"{settings.SITE_URL}{reverse('lnurl_auth_callback')}?{query}"


def challenge_lnurl(challenge: AuthChallenge) -> str:
    """The bech32 LNURL1… of the callback URL, upper case (a QR code of upper case is smaller)."""
    return lnurl.encode(callback_url(challenge)).bech32.upper()


@transaction.atomic
def challenge_create(*, browser_token: str, action: str, user=None, now=None) -> AuthChallenge:
    """A fresh k1 for this browser. "link" needs the logged-in user, whose account the wallet will be linked to.
    Deletes challenges that expired over a day ago (the table holds only recent ones)."""
    now = now or timezone.now()
    if action not in Action.values:
        raise InvalidInput(f"Unknown LNURL-auth action {action!r}: use login or link.")
    if action == Action.LINK and (user is None or not user.is_authenticated):
        raise NotYours("Log in first to link a wallet to your account.")
    AuthChallenge.objects.filter(expires_at__lt=now - KEEP_EXPIRED).delete()
    return AuthChallenge.objects.create(
        k1=secrets.token_hex(32),
        action=action,
        browser_hash=browser_hash(browser_token),
        user=user if action == Action.LINK else None,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.LNURL_AUTH_CHALLENGE_SECONDS),
    )


def signature_valid(*, k1: str, sig: str, key: str) -> bool:
    """Whether `sig` (DER, hex) is an ECDSA signature of the raw 32 bytes of `k1` by the compressed public `key`.
    coincurve raises, not returns False, on a key that is not on the curve or a signature that is not DER."""
    try:
        return PublicKey(bytes.fromhex(key)).verify(bytes.fromhex(sig), bytes.fromhex(k1), hasher=None)
    except (ValueError, TypeError):
        return False


@transaction.atomic
def challenge_verify(*, k1: str, sig: str, key: str, action: str, now=None) -> AuthChallenge:
    """The wallet's callback: accept the signature of an unexpired, unused k1 of this action, once. Anything else
    raises (InvalidInput, NotFound, InvalidTransition) with the reason the wallet shows, and changes nothing."""
    now = now or timezone.now()
    k1, sig, key = k1.lower(), sig.lower(), key.lower()
    if not _K1.fullmatch(k1):
        raise InvalidInput("k1 must be 32 bytes in hex.")
    if not _KEY.fullmatch(key):
        raise InvalidInput("key must be a compressed secp256k1 public key (33 bytes in hex).")
    if not _SIG.fullmatch(sig):
        raise InvalidInput("sig must be a DER-encoded signature in hex.")
    if action not in Action.values:
        raise InvalidInput("action must be login or link.")
    challenge = AuthChallenge.objects.filter(k1=k1).first()
    if challenge is None:
        raise NotFound("Unknown k1: scan the QR code again.")
    if challenge.action != action:
        raise InvalidInput(f"This k1 is for {challenge.action}, not {action}.")
    if not signature_valid(k1=k1, sig=sig, key=key):
        raise InvalidInput("The signature does not match this key and k1.")
    if action == Action.LINK and (
        SocialAccount.objects.filter(provider=PROVIDER_ID, uid=key).exclude(user_id=challenge.user_id).exists()
    ):
        raise InvalidInput("This wallet is already linked to another Boltwork account.")
    updated = AuthChallenge.objects.filter(
        pk=challenge.pk, action=action, verified_at__isnull=True, expires_at__gt=now
    ).update(verified_at=now, linking_key=key)
    if not updated:
        if challenge.expires_at <= now:
            raise InvalidTransition("This k1 has expired: scan the QR code again.")
        raise InvalidTransition("This k1 was already used.")
    challenge.refresh_from_db()
    return challenge


def challenge_for_browser(*, k1: str, browser_token: str | None) -> AuthChallenge:
    """The challenge `k1` if this browser made it; NotFound for any other (another browser's k1 is nobody's)."""
    challenge = (
        AuthChallenge.objects.filter(k1=str(k1).lower()[:64], browser_hash=browser_hash(browser_token)).first()
        if browser_token
        else None
    )
    if challenge is None:
        raise NotFound("This log-in request was not made in this browser.")
    return challenge


def finish_deadline(challenge: AuthChallenge):
    """A signed challenge may be finished until this: as long after the signature as a k1 lives."""
    return challenge.verified_at + timedelta(seconds=settings.LNURL_AUTH_CHALLENGE_SECONDS)


@transaction.atomic
def challenge_finish(*, k1: str, browser_token: str | None, user=None, now=None) -> AuthChallenge:
    """The browser that asked takes the signed k1, once: returns the challenge with its linking key, for the view to
    complete allauth's social login (or connection, for "link", only as the user who asked for it)."""
    now = now or timezone.now()
    challenge = challenge_for_browser(k1=k1, browser_token=browser_token)
    if challenge.verified_at is None:
        raise InvalidTransition("No wallet has signed this log-in request yet.")
    if challenge.action == Action.LINK and (user is None or user.pk != challenge.user_id):
        raise NotYours("This wallet link was asked for by another account: log in as it and try again.")
    if finish_deadline(challenge) <= now:
        raise InvalidTransition("This log-in request has expired: scan the QR code again.")
    updated = AuthChallenge.objects.filter(pk=challenge.pk, finished_at__isnull=True).update(finished_at=now)
    if not updated:
        raise InvalidTransition("This log-in request was already used.")
    challenge.refresh_from_db()
    return challenge
