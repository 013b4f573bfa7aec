"""Where background jobs run and how long they may take (security issue 7, item 2).

Before, every job shared one queue with no time limit: a wallet server that dripped its answer held both worker
processes for ten minutes, 121 messages queued behind it and every sweeper stalled. Now the jobs that call addresses
users type have queues of their own, apart from the sweepers, and every job has a soft and a hard time limit.
"""

import re
import shlex
from pathlib import Path

import pytest
from django.conf import settings

from marketplace.celery import app

ROOT = Path(__file__).resolve().parents[2]
OUTBOUND_JOBS = {
    "payments.background.advance_payout": "payouts",
    "payments.background.pay_out_worker": "payouts",
    "api.background.deliver_webhook": "webhooks",
}


@pytest.fixture(scope="module")
def jobs() -> dict:
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}


def queue_of(name: str) -> str:
    return app.amqp.router.route({}, name)["queue"].name


def sweepers() -> set[str]:
    return {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}


def test_outbound_jobs_run_on_queues_of_their_own():
    assert {name: queue_of(name) for name in OUTBOUND_JOBS} == OUTBOUND_JOBS


def test_every_job_celery_beat_schedules_runs_on_the_sweepers_queue():
    assert sweepers()
    assert {queue_of(name) for name in sweepers()} == {"sweepers"}


def test_every_job_has_a_soft_and_a_hard_time_limit(jobs):
    for name, task in jobs.items():
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        hard = task.time_limit or app.conf.task_time_limit
        assert soft, f"{name} has no soft time limit"
        assert hard, f"{name} may run for ever"
        assert soft < hard, f"{name}: the soft limit must come first, so the job can stop cleanly"


def test_the_payout_job_has_time_for_its_requests_and_a_slow_lightning_payment(jobs):
    # Up to four LNURL requests, each cut at LNURL_TIMEOUT_SECONDS, and LND's pay call: 60 s plus a 30 s margin.
    payout_job = jobs["payments.background.advance_payout"]
    assert payout_job.soft_time_limit >= 4 * settings.LNURL_TIMEOUT_SECONDS + 90
    assert payout_job.time_limit > payout_job.soft_time_limit


def test_the_webhook_job_has_time_for_its_request(jobs):
    assert jobs["api.background.deliver_webhook"].soft_time_limit > settings.LNURL_TIMEOUT_SECONDS


def dev_run_workers() -> list[set[str]]:
    """The queues of each Celery worker scripts/dev-run.sh (what `make run` starts) runs."""
    script = (ROOT / "scripts/dev-run.sh").read_text().replace("\\\n", " ")
    workers = []
    for line in script.splitlines():
        if re.match(r"\s*start \S+ \"\$BIN/celery\" .* worker ", line):
            words = shlex.split(line)
            workers.append(set(words[words.index("--queues") + 1].split(",")))
    return workers


def test_make_run_consumes_every_queue_and_no_sweep_waits_behind_an_outbound_call():
    workers = dev_run_workers()
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}

    assert set().union(*workers) == routed | {"celery"}
    for queues in workers:
        assert not ("sweepers" in queues and queues & {"payouts", "webhooks"})
