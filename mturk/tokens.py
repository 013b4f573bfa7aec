"""UniqueRequestToken: a call that makes something (a HIT, a bonus, more assignments) sent again with the same token
within 24 hours never acts twice; it is refused with a RequestError naming what the first call made, as Mechanical
Turk answers. The token row is written in the same transaction as what it makes, so a call that fails leaves no
token behind and may be retried with it; two calls at once with one token wait on its unique key, and the second is
refused once the first commits.
"""

from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from mturk.models import RequestToken
from mturk.protocol import Caller, RequestError, text

TOKEN_LIFETIME = timedelta(hours=24)
MAX_TOKEN_CHARS = 64


def once_per_token(caller: Caller, params: dict, *, operation: str, act: Callable[[], str], what: str) -> None:
    """Run `act` (which returns the id of what it made) once per UniqueRequestToken, in one transaction with the
    token. Without a token it just runs. `what` words the refusal: "HIT", "bonus"…"""
    token = text(params, "UniqueRequestToken", max_length=MAX_TOKEN_CHARS)
    if not token:
        act()
        return
    now = timezone.now()
    with transaction.atomic():
        RequestToken.objects.filter(
            user=caller.user,
            sandbox=caller.sandbox,
            operation=operation,
            token=token,
            created_at__lt=now - TOKEN_LIFETIME,
        ).delete()
        try:
            with transaction.atomic():
                record = RequestToken.objects.create(
                    user=caller.user, sandbox=caller.sandbox, operation=operation, token=token, created_at=now
                )
        except IntegrityError:
            first = RequestToken.objects.filter(
                user=caller.user, sandbox=caller.sandbox, operation=operation, token=token
            ).first()
            made = first.object_id if first is not None else ""
            raise RequestError(
                f"The request you are trying to make was already processed with UniqueRequestToken {token}: "
                f"the {what} is {made}.",
                code="AWS.MechanicalTurk.DuplicateRequest",
            ) from None
        record.object_id = act()
        record.save(update_fields=["object_id"])


def tokens_delete_expired(*, now=None) -> int:
    now = now or timezone.now()
    deleted, _ = RequestToken.objects.filter(created_at__lt=now - TOKEN_LIFETIME).delete()
    return deleted
