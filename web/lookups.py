"""Pages find what a URL names through the domain's selectors. What a selector does not find, or finds to be
someone else's, is the 404 page, in the selector's words."""

from collections.abc import Callable
from typing import TypeVar

from django.http import Http404

from core.errors import NotFound

Found = TypeVar("Found")


def found_or_404(selector: Callable[..., Found], **lookup) -> Found:
    try:
        return selector(**lookup)
    except NotFound as error:
        raise Http404(error.message) from None
