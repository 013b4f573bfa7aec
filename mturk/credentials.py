"""Mechanical Turk credentials: AWS-style access key pairs a requester makes, revokes and signs requests with.

The secret is stored encrypted, not hashed: checking a Signature Version 4 signature needs the secret itself (the
signing key is an HMAC chain over it). It is encrypted with Fernet under keys derived from SECRET_KEY and each of
SECRET_KEY_FALLBACKS, so rotating SECRET_KEY the Django way (the old one moved to the fallbacks) keeps every
credential working: new secrets are encrypted under the new key, old ones still decrypt under a fallback.
The secret is returned once by credential_create and otherwise only by credential_secret, for the signature check;
it is never logged, shown in the admin, or put into an error message.
"""

import base64
import secrets
import string

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import DomainError, InvalidInput, NotFound
from marketplace.models import User
from marketplace.users import BANNED_MESSAGE, AccountBanned
from mturk.models import Currency, MturkCredential

ACCESS_KEY_PREFIX = "AKIA"  # as AWS's long-term access keys begin
ACCESS_KEY_ALPHABET = string.ascii_uppercase + string.digits
ACCESS_KEY_RANDOM_CHARS = 16
SECRET_ALPHABET = string.ascii_letters + string.digits + "/+"
SECRET_CHARS = 40
# Enough for a live and a test pipeline per lab member; more is a sign keys are made and never revoked.
MAX_LIVE_CREDENTIALS = 10
# Labels the derived encryption key, so the same SECRET_KEY never yields the same key for another purpose.
ENCRYPTION_KEY_LABEL = b"boltwork mturk credential secret v1"
CREATE_ATTEMPTS = 3  # a 16-character id colliding even once is astronomically unlikely


class AccountInactive(DomainError):
    code = "account_inactive"
    status = 403


def _fernet_key(secret_key: str) -> bytes:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=ENCRYPTION_KEY_LABEL).derive(
        secret_key.encode()
    )
    return base64.urlsafe_b64encode(derived)


def _fernet() -> MultiFernet:
    """Encrypts under SECRET_KEY; decrypts under it or any of SECRET_KEY_FALLBACKS. Read on each use, so settings
    changed at run time (tests) are honoured; deriving a key costs microseconds."""
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([Fernet(_fernet_key(key)) for key in keys])


def _encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def _new_access_key_id() -> str:
    return ACCESS_KEY_PREFIX + "".join(secrets.choice(ACCESS_KEY_ALPHABET) for _ in range(ACCESS_KEY_RANDOM_CHARS))


def _new_secret() -> str:
    return "".join(secrets.choice(SECRET_ALPHABET) for _ in range(SECRET_CHARS))


def credential_create(*, user: User, currency: str) -> tuple[MturkCredential, str]:
    """Make a new access key pair for `user`, whose amounts are in `currency` ("usd" or "sat"). Returns the row and
    the secret, which is shown this once and never again. Refuses a banned or deactivated account and more than
    MAX_LIVE_CREDENTIALS unrevoked pairs; the user's row is locked so two requests at once cannot pass the cap."""
    if currency not in Currency.values:
        raise InvalidInput(
            f"Unknown currency “{currency}”: choose usd (converted to sats at the site's rate) or sat.",
            details={"currency": currency},
        )
    with transaction.atomic():
        banned_at, is_active = (
            User.objects.select_for_update(no_key=True).filter(pk=user.pk).values_list("banned_at", "is_active").get()
        )
        if banned_at is not None:
            raise AccountBanned(BANNED_MESSAGE)
        if not is_active:
            raise AccountInactive("This account is deactivated: it cannot make Mechanical Turk credentials.")
        live = MturkCredential.objects.filter(user_id=user.pk, revoked_at__isnull=True).count()
        if live >= MAX_LIVE_CREDENTIALS:
            raise InvalidInput(
                f"You already have {MAX_LIVE_CREDENTIALS} Mechanical Turk credentials that work, the most one account "
                "may have: revoke one you no longer use first."
            )
        secret = _new_secret()
        for attempt in range(CREATE_ATTEMPTS):
            try:
                with transaction.atomic():
                    credential = MturkCredential.objects.create(
                        user=user,
                        access_key_id=_new_access_key_id(),
                        secret_encrypted=_encrypt(secret),
                        currency=currency,
                    )
            except IntegrityError:
                if attempt == CREATE_ATTEMPTS - 1:
                    raise
            else:
                break
    return credential, secret


def credential_revoke(*, user: User, access_key_id: str) -> None:
    """Revoke one of the user's credentials: from now on no request signed with it is accepted. Idempotent (a
    revoked credential stays revoked at its first revocation time); NotFound for a key that is not the user's."""
    with transaction.atomic():
        credential = (
            MturkCredential.objects.select_for_update(no_key=True)
            .filter(user=user, access_key_id=access_key_id)
            .first()
        )
        if credential is None:
            raise NotFound("No such Mechanical Turk credential.")
        if credential.revoked_at is None:
            credential.revoked_at = timezone.now()
            credential.save(update_fields=["revoked_at"])


def credential_find(access_key_id: str) -> MturkCredential | None:
    """The unrevoked credential with this access key id, of an active and not banned user (selected with it, in one
    query), or None."""
    if not access_key_id or len(access_key_id) > MturkCredential._meta.get_field("access_key_id").max_length:
        return None
    return (
        MturkCredential.objects.select_related("user")
        .filter(
            access_key_id=access_key_id,
            revoked_at__isnull=True,
            user__is_active=True,
            user__banned_at__isnull=True,
        )
        .first()
    )


def credential_secret(credential: MturkCredential) -> str:
    """The credential's secret, decrypted. Raises cryptography.fernet.InvalidToken when none of SECRET_KEY and
    SECRET_KEY_FALLBACKS encrypted it (SECRET_KEY was changed without keeping the old one as a fallback)."""
    return _fernet().decrypt(credential.secret_encrypted.encode()).decode()


def credentials_of(user: User):
    """The user's credentials for their settings page, newest first (revoked ones too, marked as such)."""
    return MturkCredential.objects.filter(user=user).order_by("-created_at", "-pk")
