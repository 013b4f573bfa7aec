"""Users: with a password, a verified email address and (unless told otherwise) money to spend."""

import itertools

from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group, Permission

from core.migration_operations import MODERATORS_GROUP
from marketplace.models import User
from marketplace.users import user_make_moderator
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


# (app label, codename) of the Moderators group's permissions after the migrations (tests/conftest.py fills it).
MODERATOR_PERMISSIONS: list[tuple[str, str]] = []


def make_moderator(username: str | None = None, **extra) -> User:
    """A user made a moderator as `manage.py make_moderator` makes one (staff in the Moderators group, with the
    group's permissions as the migrations grant them, put back if a transactional test's flush removed the group)."""
    group, created = Group.objects.get_or_create(name=MODERATORS_GROUP)
    if created:
        for app_label, codename in MODERATOR_PERMISSIONS:
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    user = make_user(username, funds_sats=0, **extra)
    user_make_moderator(username=user.username)
    user.refresh_from_db()
    return user
