"""Amounts are integers of millisatoshis everywhere (`*_msat`); people see sats."""

MSAT_PER_SAT = 1000


def sats_rounded_up(msat: int) -> int:
    """Whole sats that cover `msat`: what must be added to pay an amount."""
    return -(-int(msat) // MSAT_PER_SAT)


def format_sats(msat: int | None) -> str:
    """Millisatoshis as sats for people: whole sats grouped by commas (as every message writes numbers), fractions
    only when there are any."""
    if msat is None:
        return ""
    whole, rest = divmod(int(msat), MSAT_PER_SAT)
    text = f"{whole:,}"
    if rest:
        text += f".{rest:03d}".rstrip("0")
    return text
