"""Amounts are integers of millisatoshis everywhere (`*_msat`); people see whole sats.

How a page rounds an amount to whole sats depends on whose it is: what someone has, is owed or receives is rounded
down (never promise a millisatoshi that is not there); what they must pay is rounded up (never ask for less than it
takes). The exact amount, to the millisatoshi, is shown only where someone asks for it (the statement's "exact
amounts"); moderators see fractions of a sat in the admin (`format_sats`).
"""

MSAT_PER_SAT = 1000


def sats_rounded_down(msat: int) -> int:
    """Whole sats someone has or is owed: the millisatoshis beyond the last whole sat are not shown."""
    return int(msat) // MSAT_PER_SAT


def sats_rounded_up(msat: int) -> int:
    """Whole sats that cover `msat`: what must be added to pay an amount."""
    return -(-int(msat) // MSAT_PER_SAT)


def format_number(number: int) -> str:
    """One number format for every page and message: thousands grouped by commas."""
    return f"{int(number):,}"


def format_whole_sats(msat: int | None, *, round_up: bool = False) -> str:
    """Millisatoshis as whole sats for people, rounded down (what they have) or up (what they must pay)."""
    if msat is None:
        return ""
    return format_number(sats_rounded_up(msat) if round_up else sats_rounded_down(msat))


def sats_word(whole_sats: int) -> str:
    """The word after a number of whole sats: "sat" for exactly one."""
    return "sat" if whole_sats == 1 else "sats"


def format_sats(msat: int | None) -> str:
    """Millisatoshis as sats with their fraction, for moderators (the admin): whole sats grouped by commas, fractions
    only when there are any."""
    if msat is None:
        return ""
    whole, rest = divmod(int(msat), MSAT_PER_SAT)
    text = f"{whole:,}"
    if rest:
        text += f".{rest:03d}".rstrip("0")
    return text
