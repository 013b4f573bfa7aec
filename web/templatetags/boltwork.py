import secrets

from django import template
from django.utils.html import format_html

from core.ids import is_public_id, is_worker_id
from core.money import MSAT_PER_SAT, format_sats, sats_rounded_up
from marketplace.answer_fields import answer_kinds
from web.once import FORM_TOKEN_FIELD

register = template.Library()


@register.filter
def sats(msat: int | None) -> str:
    """Millisatoshis as sats for people (core.money.format_sats)."""
    return format_sats(msat)


@register.filter
def sats_unit(msat: int | None) -> str:
    """The word after an amount of sats: "sat" for exactly one, "sats" otherwise (1.5 sats, 0 sats)."""
    return "sat" if msat == MSAT_PER_SAT else "sats"


@register.filter
def number(value: int | None) -> str:
    """A count or a number of whole sats already counted, grouped by commas like every other number."""
    return "" if value is None else f"{int(value):,}"


@register.filter
def percent_of(part: int, whole: int) -> float:
    """An SVG width: `part` as a percentage of `whole`, 0 when there is nothing."""
    if not whole:
        return 0
    return round(100 * part / whole, 2)


@register.filter
def duration(seconds: int) -> str:
    seconds = int(seconds)
    if seconds % 86400 == 0 and seconds:
        days = seconds // 86400
        return f"{days} day{'s' if days != 1 else ''}"
    if seconds % 3600 == 0 and seconds:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    minutes, rest = divmod(seconds, 60)
    if minutes == 0:
        return f"{rest} second{'s' if rest != 1 else ''}"
    if rest and minutes < 10:
        # A micro task's estimate: "1 minute 30 seconds", not "1 minute".
        return f"{minutes} minute{'s' if minutes != 1 else ''} {rest} second{'s' if rest != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


@register.filter
def public_id_or_blank(value: str) -> str:
    """An event's subject as people may see it: events recorded before public ids existed name theirs by primary
    key, which pages never show."""
    return value if is_public_id(value) or is_worker_id(value) else ""


@register.filter
def values_for(mapping: dict, keys: list[str]) -> list:
    """The values of `mapping` in the order of `keys` (JSON objects in PostgreSQL do not keep key order)."""
    mapping = mapping or {}
    return [mapping.get(key, "") for key in keys]


@register.filter
def lookup(mapping: dict | None, key: str):
    """`mapping[key]` for templates (a task's input); lists are joined for display. Answers: `answer_items`."""
    value = (mapping or {}).get(key, "")
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return value


@register.simple_tag
def answer_items(job, answer: dict | None) -> list[tuple[str, str]]:
    """(name, text) of each of the job's answer fields, in the form's order, as its kind displays the value ("" for
    none): `{% answer_items job assignment.answer as items %}`."""
    answer = answer or {}
    kinds = answer_kinds(form_fields=job.form_fields, answer_fields=job.answer_fields)
    return [(name, kind.display(answer.get(name))) for name, kind in kinds.items()]


@register.filter
def sats_abs(msat: int | None) -> str:
    return sats(abs(msat)) if msat is not None else ""


@register.filter
def sats_plain(msat: int | None) -> str:
    """Whole sats as plain digits, for form values and URLs."""
    return str(int(msat or 0) // MSAT_PER_SAT)


@register.filter
def sats_ceil(msat: int | None) -> int:
    """Millisatoshis rounded up to whole sats: what must be added to cover an amount."""
    return sats_rounded_up(msat or 0)


@register.filter
def basis_points_percent(basis_points: int) -> str:
    """A percentage kept in basis points (1% = 100), for people: 1, 2.5, 0.25."""
    whole, rest = divmod(int(basis_points), 100)
    return f"{whole}.{rest:02d}".rstrip("0").rstrip(".") if rest else str(whole)


@register.simple_tag
def form_token():
    """The hidden field that makes a form act once however often it is sent (web/once.py): new with each render."""
    return format_html('<input type="hidden" name="{}" value="{}">', FORM_TOKEN_FIELD, secrets.token_urlsafe(18))
