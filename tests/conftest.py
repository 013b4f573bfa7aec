import os
import time

import pytest
from django.conf import settings
from django.core.cache import cache

from tests.factories import make_job, make_user
from tests.factories.money import forget_queued_payout_starts
from tests.factories.users import MODERATOR_PERMISSIONS
from tests.integration.lnbits_fixture import lnbits  # noqa: F401 - the session's real LNbits wallet server

# pytest-django's live server (the browser tests' site, the development test wallet's LNURL endpoints, what LNbits
# calls back) listens on loopback only, at an address the LNURL client can allowlist as an exact host:port. Set
# before the session-scoped live server starts.
os.environ.setdefault("DJANGO_LIVE_TEST_SERVER_ADDRESS", "127.0.0.1")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """After every test that used the database, while its data is still there: all accounts sum to zero, every
    cached balance equals its entries, and no owed-money account is negative."""
    result = yield
    uses_database = item.get_closest_marker("django_db") or {"db", "transactional_db"} & set(item.fixturenames)
    if uses_database:
        from payments.ledger import ledger_check

        problems = ledger_check()
        assert problems == [], "The ledger is not sound after this test:\n" + "\n".join(problems)
    return result


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Remember the Moderators group's permissions as the migrations made them: a transactional test's flush empties
    the group table (Django recreates permissions after a flush, not groups), and tests.factories.make_moderator
    puts the group back as it was."""
    from django.contrib.auth.models import Group

    from core.migration_operations import MODERATORS_GROUP

    with django_db_blocker.unblock():
        group = Group.objects.get(name=MODERATORS_GROUP)
        MODERATOR_PERMISSIONS[:] = group.permissions.values_list("content_type__app_label", "codename")


@pytest.fixture(autouse=True)
def _no_claim_limit(settings):
    """Tests build their data by claiming many tasks a second; the claim limit has tests of its own, which set it."""
    settings.CLAIMS_PER_MINUTE = 0


class _ClockFromStartOfDay:
    """`time` for core.ratelimit: the real clock moved back to the start of the current UTC day, which also starts a
    minute and an hour. A test's calls then share one window of each length (its first 60 seconds of minute windows),
    so a limit is never reset halfway through a test that happened to start just before a window ended."""

    def __init__(self) -> None:
        started = time.time()
        self.offset = started - started // 86_400 * 86_400 - 1

    def time(self) -> float:
        return time.time() - self.offset


@pytest.fixture(autouse=True)
def _rate_limit_windows_from_the_test_start(monkeypatch):
    monkeypatch.setattr("core.ratelimit.time", _ClockFromStartOfDay())


@pytest.fixture(autouse=True)
def _fresh_cache():
    """allauth's rate limits live in the cache: each test starts with none used."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _no_queued_payout_starts():
    """A payout start that an earlier test queued and never ran must not hold back this test's (payments.background
    enqueues one per worker at a time, marked in Redis)."""
    if settings.REDIS_URL:
        forget_queued_payout_starts(settings.REDIS_URL)


@pytest.fixture
def background_jobs_run_at_once():
    """No Celery worker runs in the tests: a background job enqueued on commit runs at once, in the process (and
    the request) that enqueues it."""
    from marketplace.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


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


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """make_user hashes a password for every user; the default hasher's 1M rounds would dominate the run."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def _empty_static_root(tmp_path_factory):
    return tmp_path_factory.mktemp("staticfiles")


@pytest.fixture(autouse=True)
def _static_files_without_manifest(settings, _empty_static_root):
    """Pages render `{% static %}`; with DEBUG off the manifest storage would need `collectstatic` first, and the
    browser tests' live server serves static files from the source folders by their plain names."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.STATIC_ROOT = _empty_static_root  # WhiteNoise warns on every request when it is missing
