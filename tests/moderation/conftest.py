"""Moderators made as `manage.py make_moderator` makes them (staff in the Moderators group, not superusers)."""

import pytest

from tests.factories import make_moderator, make_user


@pytest.fixture
def moderator(db):
    return make_moderator("moderator")


@pytest.fixture
def moderator_client(client, moderator):
    client.force_login(moderator)
    return client


@pytest.fixture
def superuser(db):
    return make_user("root", is_staff=True, is_superuser=True)
