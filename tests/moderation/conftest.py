"""Moderators made as `manage.py make_moderator` makes them (staff in the Moderators group, not superusers)."""

import pytest

from marketplace.users import user_make_moderator

# The browser tests' fixtures (a Chromium, pages on the live server, axe's CSP-free pages, screenshots).
from tests.browser.conftest import chromium, new_page, screenshot  # noqa: F401
from tests.browser.test_accessibility import axe_page  # noqa: F401
from tests.factories import make_user


@pytest.fixture
def moderator(db):
    user = make_user("moderator")
    user_make_moderator(username=user.username)
    user.refresh_from_db()
    return user


@pytest.fixture
def moderator_client(client, moderator):
    client.force_login(moderator)
    return client


@pytest.fixture
def superuser(db):
    return make_user("root", is_staff=True, is_superuser=True)
