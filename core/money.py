"""Amounts are integers of millisatoshis everywhere (`*_msat`); people see sats."""

MSAT_PER_SAT = 1000


def sats_rounded_up(msat: int) -> int:
    """Whole sats that cover `msat`: what must be added to pay an amount."""
    return -(-int(msat) // MSAT_PER_SAT)
