"""Users: with a password, a verified email address and (unless told otherwise) money to spend."""

import itertools

from allauth.account.models import EmailAddress

from marketplace.models import User
from tests.factories.money import fund

PASSWORD = "correct horse battery"  # every made user's: the tests that log in through a form type it

_numbers = itertools.count(1)


def unique_number() -> int:
    """A number no factory has used yet in this run: for names and titles that must not collide."""
    return next(_numbers)


def make_user(username: str | None = None, *, funds_sats: int = 1_000_000, **extra) -> User:
    """A user with a password and a verified email address (so they can log in; verification is mandatory) and,
    unless told otherwise, a requester balance as if they had made a deposit."""
    number = unique_number()
    username = username or f"user{number}"
    user = User.objects.create_user(username=username, email=f"{username}@example.com", password=PASSWORD, **extra)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    if funds_sats:
        fund(user, funds_sats * 1000)
    return user
