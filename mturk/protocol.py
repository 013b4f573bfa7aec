"""Mechanical Turk's requester protocol, as botocore's `mturk` service model (2017-01-17) describes it: AWS JSON 1.1,
one POST per call naming its operation in `X-Amz-Target`, answers shaped as the model says (timestamps as epoch
seconds, `NextToken` pagination, `MaxResults` 1–100), errors as `{"__type": "RequestError" | "ServiceFault",
"Message": …}` with HTTP 400 / 500, which boto3 raises as `client.exceptions.RequestError`.

This module holds what every operation shares: the caller, the errors, reading parameters, pagination tokens.
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.core import signing

from marketplace.answer_forms import UNSTORABLE_CHARACTER_RE
from marketplace.models import User
from mturk.models import MturkCredential

TARGET_PREFIX = "MTurkRequesterServiceV20170117."
CONTENT_TYPE = "application/x-amz-json-1.1"
ENTITY_ID_RE = re.compile(r"^[A-Z0-9]{1,64}$")
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
NEXT_TOKEN_SALT = "mturk.next-token"  # noqa: S105 (a signing salt, not a secret)


class RequestError(Exception):
    """The call was wrong: HTTP 400, boto3's `RequestError`. Nothing changed."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class Caller:
    """Who is calling, where and in which money: the credential's currency, and live or sandbox by the endpoint."""

    user: User
    credential: MturkCredential
    sandbox: bool

    @property
    def currency(self) -> str:
        return self.credential.currency


Operation = Callable[[Caller, dict], dict]


# Reading parameters --------------------------------------------------------------------------------------------
# Every client is not boto3 (which checks types before sending): each parameter is checked here too, and a wrong
# one is a RequestError naming it.


def text(params: dict, name: str, *, required: bool = False, max_length: int | None = None, default: str = "") -> str:
    value = params.get(name)
    if value is None:
        if required:
            raise RequestError(f"Value null at '{name}' failed to satisfy constraint: Member must not be null")
        return default
    if not isinstance(value, str):
        raise RequestError(f"{name} must be a string.")
    if required and not value:
        raise RequestError(f"{name} must not be empty.")
    if max_length is not None and len(value) > max_length:
        raise RequestError(f"{name} must be at most {max_length:,} characters long.")
    if UNSTORABLE_CHARACTER_RE.search(value):
        raise RequestError(f"{name} contains a character that cannot be stored (NUL, or half of a surrogate pair).")
    return value


def whole(params: dict, name: str, *, required: bool = False, default: int | None = None) -> int | None:
    value = params.get(name)
    if value is None:
        if required:
            raise RequestError(f"Value null at '{name}' failed to satisfy constraint: Member must not be null")
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(f"{name} must be a whole number.")
    return value


def flag(params: dict, name: str, *, default: bool = False) -> bool:
    value = params.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise RequestError(f"{name} must be true or false.")
    return value


def entity_id(params: dict, name: str, *, required: bool = True) -> str:
    """An id such as a HITId or an AssignmentId: upper-case letters and digits."""
    value = text(params, name, required=required, max_length=64)
    if value and not ENTITY_ID_RE.match(value):
        raise RequestError(f"{name} {value!r} is not a valid id.")
    return value


def timestamp(params: dict, name: str, *, required: bool = False) -> datetime | None:
    """Timestamps travel as epoch seconds (boto3 sends a number for a datetime)."""
    value = params.get(name)
    if value is None:
        if required:
            raise RequestError(f"Value null at '{name}' failed to satisfy constraint: Member must not be null")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RequestError(f"{name} must be a time in seconds since the epoch.")
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise RequestError(f"{name} is not a time Boltwork can keep.") from None


def epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def without_nones(shape: dict) -> dict:
    """Members with no value are left out of an answer, as AWS leaves them out."""
    return {name: value for name, value in shape.items() if value is not None}


# Pagination ----------------------------------------------------------------------------------------------------
# A NextToken is the last row's key, signed (so a client cannot forge one for rows it may not see) and bound to
# the operation and its filters.


def page_size(params: dict) -> int:
    size = whole(params, "MaxResults", default=DEFAULT_PAGE_SIZE)
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise RequestError(f"MaxResults must be from 1 to {MAX_PAGE_SIZE}.")
    return size


def after_key(params: dict, *, scope: str) -> int | None:
    """The key the page starts after, from NextToken; None for the first page."""
    token = text(params, "NextToken", max_length=255)
    if not token:
        return None
    try:
        found = signing.loads(token, salt=NEXT_TOKEN_SALT)
    except signing.BadSignature:
        raise RequestError("The NextToken is not valid.") from None
    if not isinstance(found, dict) or found.get("scope") != scope or not isinstance(found.get("after"), int):
        raise RequestError("The NextToken belongs to another listing.")
    return found["after"]


def page(rows: Iterable, *, size: int, scope: str, key: Callable[[object], int]) -> tuple[list, str | None]:
    """Split `size + 1` fetched rows into the page and the NextToken of the next one (None at the end)."""
    rows = list(rows)
    if len(rows) <= size:
        return rows, None
    rows = rows[:size]
    token = signing.dumps({"scope": scope, "after": key(rows[-1])}, salt=NEXT_TOKEN_SALT, compress=True)
    return rows, token


def listing(items: list[dict], *, name: str, next_token: str | None) -> dict:
    return without_nones({"NextToken": next_token, "NumResults": len(items), name: items})
