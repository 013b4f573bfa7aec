"""Work alerts are matched by a background job that the `job.published` handler enqueues after the publication
commits, and told by the notifications app's handler of `alert.matched` after the matching commits. The tests here
run those handlers (`django_capture_on_commit_callbacks(execute=True)`) and background jobs at once, so a job
published inside `published()` has alerted whom it alerts when the block ends."""

import pytest

from alerts.services import saved_search_create
from marketplace import services as job_services
from notifications.models import Notification, NotificationKind
from tests.factories import make_job


@pytest.fixture(autouse=True)
def _background_jobs_run_at_once(background_jobs_run_at_once):
    """The matching job and the email job run in the handler that enqueues them."""


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """`with committed():` runs what the block records as if its transaction committed: the event handlers, and
    the handlers of what those record."""

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run


@pytest.fixture
def publish(committed, requester):
    """publish(**terms): a job of the requester's (a draft made, then published with its handlers run); `rules`
    are job_set_worker_rules's arguments (who may work on it), set before it is published."""

    def run(*, rules: dict | None = None, **terms):
        draft = make_job(requester=terms.pop("requester", requester), publish=False, **terms)
        if rules is not None:
            job_services.job_set_worker_rules(job=draft, actor=draft.requester, **{"requirements": [], **rules})
        with committed():
            job_services.job_publish(job=draft, actor=draft.requester)
        draft.refresh_from_db()
        return draft

    return run


def save_search(worker, **criteria):
    return saved_search_create(worker=worker, **criteria)


def alerts_of(user) -> list[Notification]:
    return list(Notification.objects.filter(user=user, kind=NotificationKind.WORK_ALERT).order_by("pk"))
