"""The wallet log-in panel, rendered in allauth's log-in and sign-up pages themselves: the QR code and the
`lightning:LNURL1…` link are in the page as it is served, and the page then polls with htmx."""

from django import template
from django.template.loader import render_to_string

from core.errors import DomainError
from lnauth.models import Action
from lnauth.views import panel_context

register = template.Library()


@register.simple_tag(takes_context=True)
def lnauth_panel(context) -> str:
    request = context["request"]
    try:
        return render_to_string("lnauth/panel.html", panel_context(request, Action.LOGIN), request=request)
    except DomainError as error:  # too many codes from this address: say so where the QR would be
        return render_to_string("lnauth/panel_error.html", {"error": error.message}, request=request)
