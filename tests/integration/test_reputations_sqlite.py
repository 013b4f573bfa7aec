"""The reputation sweeper and the board's sort by sats per hour on SQLite, `make run`'s embedded database: the window
functions, the upserts and the sort expression are portable SQL. Runs in processes of its own against a temporary
VAR_DIR; touches neither the test database nor Redis."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

SCRIPT = """
import json
from datetime import timedelta
from django.utils import timezone
from marketplace.models import RequesterStats
from marketplace.selectors import board_jobs
from tasks.reputations import reputations_refresh
from tests.factories import make_job, make_user
from tests.factories.reputations import approved_work

start = timezone.now() - timedelta(days=1)
measured = make_job(requester=make_user("measured"), tasks=25, estimated_seconds_per_task=600, title="Measured")
approved_work(measured, 20, seconds=20, accepted_at=start)
make_job(requester=make_user("estimated"), tasks=3, estimated_seconds_per_task=30, title="Estimated")
make_job(requester=make_user("silent"), tasks=3, title="Silent")
first = reputations_refresh()
stats = RequesterStats.objects.get(requester=measured.requester)
print(json.dumps({
    "first": first,
    "stats": [stats.approved_count, stats.approval_percent, stats.effective_sats_per_hour, stats.median_work_seconds],
    "sorted": [job.title for job in board_jobs(sort="sats_per_hour")],
}))
"""


@pytest.mark.slow
def test_reputations_refresh_and_the_sort_on_sqlite(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL", "CACHE_URL"}}
    env.update(VAR_DIR=str(tmp_path), DEBUG="1", SECRET_KEY="sqlite-reputations", LIGHTNING_DEV_BACKEND_ALLOWED="1")
    env.update(REPUTATION_MIN_APPROVED="20", PYTHONPATH=str(REPO))
    for arguments, stdin in ((["migrate", "-v0"], None), (["shell"], SCRIPT)):
        done = subprocess.run(
            [str(BIN / "python"), "manage.py", *arguments],
            cwd=REPO,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # 20 workers, 3 requesters, 1 job measured: 10 sats * 3600 / 20 s.
    assert result["first"] == 24
    assert result["stats"] == [20, 100, 1800, 20]
    # Measured 1,800 sats/hour (its estimate says 60); estimated 1,200; no estimate last.
    assert result["sorted"] == ["Measured", "Estimated", "Silent"]
