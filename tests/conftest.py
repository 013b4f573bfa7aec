import pytest
from django.core.cache import cache

from tests.factories import make_job, make_user


@pytest.fixture(autouse=True)
def _fresh_cache():
    """allauth's rate limits live in the cache: each test starts with none used."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def requester(db):
    return make_user("requester")


@pytest.fixture
def worker(db):
    return make_user("worker")


@pytest.fixture
def job(requester):
    return make_job(requester=requester, tasks=3)


@pytest.fixture
def stranger(db):
    """A second user who owns nothing of the requester's or the worker's."""
    return make_user("stranger")


@pytest.fixture
def requester_client(client, requester):
    client.force_login(requester)
    return client


@pytest.fixture
def worker_client(client, worker):
    client.force_login(worker)
    return client
