"""Amounts on the Mechanical Turk API: strings such as "0.05" in the credential's currency.

USD credentials are converted at the site's rate (settings.MTURK_SATS_PER_USD), fixed on each HIT type when it is
made (`Job.sats_per_usd`), so a HIT's reward and its answers always agree; SAT credentials speak whole sats ("21"
is 21 sats; a fraction of a sat is refused). Inside, every amount is an integer of millisatoshis.
"""

import re
from decimal import ROUND_DOWN, Decimal

from django.conf import settings

from core.money import MSAT_PER_SAT
from mturk.models import Currency
from mturk.protocol import RequestError

AMOUNT_RE = re.compile(r"[0-9]+(\.[0-9]{0,2})?")
MAX_AMOUNT_CHARS = 20


def current_sats_per_usd() -> int:
    return settings.MTURK_SATS_PER_USD


def to_msat(amount: object, *, currency: str, sats_per_usd: int | None, name: str = "Reward") -> int:
    """An amount the caller sent, in millisatoshis. Refuses anything but a non-negative decimal string with at most
    two decimals, and (in sats) any fraction."""
    if not isinstance(amount, str) or len(amount) > MAX_AMOUNT_CHARS or not AMOUNT_RE.fullmatch(amount):
        raise RequestError(f'{name} must be an amount such as "0.05" (a string with at most two decimals).')
    value = Decimal(amount)
    if currency == Currency.SAT:
        if value != value.to_integral_value():
            raise RequestError(f"{name} is in sats with these credentials: {amount!r} is not a whole number of sats.")
        return int(value) * MSAT_PER_SAT
    msat = value * Decimal(sats_per_usd or current_sats_per_usd()) * MSAT_PER_SAT
    return int(msat.to_integral_value(rounding=ROUND_DOWN))


def from_msat(msat: int, *, currency: str, sats_per_usd: int | None) -> str:
    """An amount as the caller reads it: whole sats, or dollars with two decimals (rounded down: never more than
    what there is)."""
    if currency == Currency.SAT:
        return str(msat // MSAT_PER_SAT)
    usd = Decimal(msat) / (Decimal(sats_per_usd or current_sats_per_usd()) * MSAT_PER_SAT)
    return str(usd.quantize(Decimal("0.01"), rounding=ROUND_DOWN))
