import secrets

from django import template
from django.utils.html import format_html

from core.ids import is_public_id, is_worker_id
from core.money import format_number, format_whole_sats, sats_rounded_down, sats_rounded_up, sats_word
from marketplace.answer_fields import answer_display_items
from marketplace.models import FormKind
from web.once import FORM_TOKEN_FIELD

register = template.Library()


@register.filter
def sats(msat: int | None) -> str:
    """Millisatoshis as whole sats someone has, is owed or receives: rounded down (core.money)."""
    return format_whole_sats(msat)


@register.filter
def sats_due(msat: int | None) -> str:
    """Millisatoshis as whole sats someone must pay: rounded up, so the amount shown always covers it."""
    return format_whole_sats(msat, round_up=True)


@register.filter
def sats_unit(msat: int | None, rounding: str = "down") -> str:
    """The word after an amount: "sat" when the whole number shown is one. After `sats_due`, say
    `sats_unit:"up"` (1,500 msat is "1 sat" owed but "2 sats" due)."""
    if msat is None:
        return "sats"
    return sats_word(sats_rounded_up(msat) if rounding == "up" else sats_rounded_down(msat))


@register.filter
def msat(amount_msat: int | None) -> str:
    """An exact amount in millisatoshis, grouped like every number: only where someone asked for precision."""
    return "" if amount_msat is None else format_number(amount_msat)


@register.filter
def number(value: int | None) -> str:
    """A count or a number of whole sats already counted, grouped by commas like every other number."""
    return "" if value is None else format_number(value)


@register.filter
def amount(amount_msat: int | None, exact: bool = False) -> str:
    """A balance someone has: whole sats rounded down, or to the millisatoshi on a page they asked to be exact."""
    return msat(amount_msat) if exact else sats(amount_msat)


# The typographic minus sign, as the statement has always shown it (a hyphen is too short beside digits).
MINUS = "\N{MINUS SIGN}"


@register.filter
def signed_sats(amount_msat: int) -> str:
    """A statement line in whole sats with its sign: money that came in rounded down, money that went out rounded
    up (each line as the rule for whole sats says; the exact amounts are a click away)."""
    if amount_msat < 0:
        return f"{MINUS}{format_whole_sats(-amount_msat, round_up=True)}"
    return f"+{format_whole_sats(amount_msat)}"


@register.filter
def signed_msat(amount_msat: int) -> str:
    """A statement line to the millisatoshi, with its sign."""
    return f"{MINUS}{format_number(-amount_msat)}" if amount_msat < 0 else f"+{format_number(amount_msat)}"


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


@register.filter
def get_item(mapping: dict | None, key):
    """`mapping[key]`, or None, for any key (`lookup` is for a task's input and answers)."""
    return (mapping or {}).get(key)


@register.simple_tag
def answer_items(job, answer: dict | None) -> list[tuple[str, str]]:
    """(name, text) of each of the job's answer fields, in the form's order, as its kind displays the value ("" for
    none): `{% answer_items job assignment.answer as items %}`. A HIT with its own question or an external study has
    no fixed fields: every field of the answer is shown."""
    fields = list(job.answer_fields)
    if job.form_kind in {FormKind.PER_TASK, FormKind.EXTERNAL} and isinstance(answer, dict):
        fields += [name for name in answer if name not in fields]
    return answer_display_items(form_fields=job.form_fields, answer_fields=fields, answer=answer)


@register.filter
def sats_plain(msat: int | None) -> str:
    """Whole sats as plain digits, for form values and URLs."""
    return str(sats_rounded_down(msat or 0))


@register.filter
def basis_points_percent(basis_points: int) -> str:
    """A percentage kept in basis points (1% = 100), for people: 1, 2.5, 0.25."""
    whole, rest = divmod(int(basis_points), 100)
    return f"{whole}.{rest:02d}".rstrip("0").rstrip(".") if rest else str(whole)


@register.simple_tag
def form_token():
    """The hidden field that makes a form act once however often it is sent (web/once.py): new with each render."""
    return format_html('<input type="hidden" name="{}" value="{}">', FORM_TOKEN_FIELD, secrets.token_urlsafe(18))
