"""Public ids: what pages, the APIs, webhooks and exports call jobs, tasks, assignments, payouts, deposits, bonuses,
withdraw links and workers.

They are random and unguessable, shaped like Mechanical Turk's (30 characters of upper-case letters and digits;
workers 14, starting with `A`), because an assignment id is handed to external studies and will be a capability
there. The sequential primary keys stay inside: foreign keys, ordering and the admin use them.
"""

import base64
import secrets
import string

from django.db import models

ALPHABET = string.ascii_uppercase + string.digits
PUBLIC_ID_LENGTH = 30
WORKER_ID_LENGTH = 14
WORKER_ID_PREFIX = "A"
PUBLIC_ID_PATTERN = rf"[0-9A-Z]{{{PUBLIC_ID_LENGTH}}}"
WORKER_ID_PATTERN = rf"{WORKER_ID_PREFIX}[0-9A-Z]{{{WORKER_ID_LENGTH - 1}}}"


def _random_text(length: int) -> str:
    """`length` random characters of base 32 (A–Z, 2–7: 5 bits each). One call to the system's random source, so a
    10,000-row task import spends milliseconds on ids, not the third of a second per-character choices cost."""
    return base64.b32encode(secrets.token_bytes(length * 5 // 8 + 1)).decode()[:length]


def new_public_id() -> str:
    """30 random characters: 150 bits, so a guess never finds one."""
    return _random_text(PUBLIC_ID_LENGTH)


def new_worker_id() -> str:
    """`A` and 13 random characters (65 bits), as Mechanical Turk's worker ids look."""
    return WORKER_ID_PREFIX + _random_text(WORKER_ID_LENGTH - 1)


def is_public_id(value: object) -> bool:
    return isinstance(value, str) and len(value) == PUBLIC_ID_LENGTH and all(c in ALPHABET for c in value)


def is_worker_id(value: object) -> bool:
    return (
        isinstance(value, str)
        and len(value) == WORKER_ID_LENGTH
        and value.startswith(WORKER_ID_PREFIX)
        and all(c in ALPHABET for c in value)
    )


def public_id_field() -> models.CharField:
    return models.CharField(max_length=PUBLIC_ID_LENGTH, unique=True, default=new_public_id, editable=False)


def worker_id_field() -> models.CharField:
    return models.CharField(max_length=WORKER_ID_LENGTH, unique=True, default=new_worker_id, editable=False)


class PublicIdConverter:
    """`<public_id:job_id>` in a URL pattern: anything else is a 404 before a view runs."""

    regex = PUBLIC_ID_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
