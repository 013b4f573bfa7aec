"""`make run`'s embedded default under the concurrency `make run` itself creates: gunicorn and the two Celery
workers on one SQLite file with the filesystem broker. A requester bulk-approves 50 submissions on the review page;
every payout is paid to the workers' test-wallet addresses, with no "database is locked" anywhere.

Everything runs in processes of its own against files in a temporary VAR_DIR; this test touches neither the test
database nor Redis.
"""

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SUBMISSIONS = 50
PAY_TIMEOUT_SECONDS = 180

SETUP = """
from tasks import services as work
from tests.factories import answer_data, make_job, make_user, set_payout_destination

requester = make_user("requester", funds_sats=100_000)
job = make_job(requester=requester, tasks={submissions}, reward_msat=21_000)
for number in range({submissions}):
    worker = make_user(f"worker{{number}}", funds_sats=0)
    set_payout_destination(worker, f"worker{{number}}@127.0.0.1:{port}")
    assignment = work.assignment_claim(job=job, worker=worker)
    work.assignment_submit(assignment=assignment, worker=worker, data=answer_data())
print("JOB", job.public_id)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def make_run_environment(tmp_path):
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "CACHE_URL", "CELERY_BROKER_URL"}
    }
    env.update(
        VAR_DIR=str(tmp_path),
        DEBUG="1",
        SECRET_KEY="sqlite-make-run-test",
        LIGHTNING_DEV_BACKEND_ALLOWED="1",
        SITE_URL=f"http://127.0.0.1:{port}",
        LNURL_ALLOWED_INSECURE_HOSTS=f"127.0.0.1:{port}",
        ACCOUNT_EMAIL_VERIFICATION="optional",
        PYTHONPATH=str(REPO),
    )
    for folder in ("queue", "processed", "control"):
        (tmp_path / "celery" / folder).mkdir(parents=True)
    return env, port, tmp_path


def manage(env, *args, input_text: str | None = None) -> str:
    done = subprocess.run(
        [str(BIN / "python"), "manage.py", *args],
        cwd=REPO,
        env=env,
        input=input_text,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def start(env, tmp_path: Path, name: str, *command: str) -> tuple[subprocess.Popen, Path]:
    log = tmp_path / f"{name}.log"
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )
    return process, log


def wait_until(condition, timeout: float, what: str, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs)
    pytest.fail(f"Not within {timeout} s: {what}\n{tails}")


def scalar(database: Path, sql: str):
    with sqlite3.connect(database, timeout=20) as connection:
        return connection.execute(sql).fetchone()[0]


def test_make_run_on_sqlite_pays_every_approval_of_a_bulk_review(make_run_environment):
    env, port, var = make_run_environment
    database = var / "db.sqlite3"
    manage(env, "migrate", "--noinput")
    job_id = re.search(r"JOB (\w+)", manage(env, "shell", input_text=SETUP.format(submissions=SUBMISSIONS, port=port)))[
        1
    ]
    assert scalar(database, "select journal_mode from pragma_journal_mode") == "wal"

    processes = [
        start(env, var, "web", str(BIN / "gunicorn"), "marketplace.wsgi:application", "--bind", f"127.0.0.1:{port}",
              "--workers", "2"),
        start(env, var, "sweepers", str(BIN / "celery"), "-A", "marketplace", "worker", "--concurrency", "1",
              "--queues", "sweepers,celery", "--hostname", "sweepers@%h", "--loglevel", "INFO"),
        start(env, var, "outbound", str(BIN / "celery"), "-A", "marketplace", "worker", "--concurrency", "2",
              "--queues", "payouts,webhooks", "--hostname", "outbound@%h", "--loglevel", "INFO"),
    ]  # fmt: skip
    logs = [log for _, log in processes]
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=30) as browser:
            wait_until(lambda: _answers(browser), 30, "the web server answers", logs)
            wait_until(lambda: all(" ready." in log.read_text() for log in logs[1:]), 60, "the workers start", logs)
            login = browser.get("/accounts/login/")
            token = browser.cookies["csrftoken"]
            logged_in = browser.post(
                "/accounts/login/",
                data={"login": "requester", "password": _password(), "csrfmiddlewaretoken": token},
                headers={"Referer": f"{base}/accounts/login/"},
            )
            assert logged_in.status_code == 302, login.text[:500]
            review_url = f"/requester/jobs/{job_id}/review/"
            page = browser.get(review_url)
            assert page.status_code == 200
            selected = re.findall(r'name="selected" value="(\w+)"', page.text)
            assert len(selected) == SUBMISSIONS
            approved = browser.post(
                review_url,
                data={"selected": selected, "decision": "approve", "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
                headers={"Referer": f"{base}{review_url}"},
            )
            assert approved.status_code == 302
            assert "50 submissions approved" in browser.get(approved.headers["Location"]).text

        wait_until(
            lambda: scalar(database, "select count(*) from payments_payout where state = 'succeeded'") == SUBMISSIONS,
            PAY_TIMEOUT_SECONDS,
            "every approval's payout is paid",
            logs,
        )
    finally:
        for process, _ in processes:
            process.terminate()
        for process, _ in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)

    assert scalar(database, "select count(*) from payments_payout where state != 'succeeded'") == 0
    everything_said = "\n".join(log.read_text() for log in logs)
    assert "database is locked" not in everything_said
    assert "Traceback" not in everything_said
    assert "The ledger is sound" in manage(env, "ledger_check")


def _answers(browser: httpx.Client) -> bool:
    try:
        return browser.get("/").status_code == 200
    except httpx.HTTPError:
        return False


def _password() -> str:
    from tests.factories import PASSWORD

    return PASSWORD
