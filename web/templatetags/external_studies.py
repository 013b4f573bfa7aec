from django import template

from marketplace.external_studies import host_of

register = template.Library()


@register.filter
def url_host(url: str) -> str:
    """The host of a study's URL, which workers are shown before they start: where their work will go."""
    return host_of(str(url or ""))
