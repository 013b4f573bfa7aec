"""Issue 16: Boltwork behind PgBouncer in transaction mode, Debian's PgBouncer (1.18) started by the test.

In transaction mode PgBouncer lends a server connection for one transaction only: the next transaction of the same
client may run on another. Nothing may outlive a transaction then: no server-side cursors, no prepared statements,
no session state. DATABASE_PGBOUNCER=1 turns off Django's server-side cursors (marketplace/settings.py); Django
prepares no statements by default (parameters bound on the client).

- The suite's integration tests of money over LNbits, the background jobs and the racing claims run through it, in a
  pytest of their own whose every connection (the tests', the Celery workers', the migrations') goes through PgBouncer.
- A direct check of what the setting turns off: `.iterator()` outside and inside a transaction, each row fetched
  while another client holds the server connection just used, so the next transaction lands on a different one. With
  the setting it works; without it the next FETCH finds no cursor, so the check can fail.

Its test database is created through PgBouncer (CREATE DATABASE runs in autocommit) and dropped directly on
PostgreSQL once PgBouncer has stopped, as PgBouncer's pooled server connections would hold it open.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

from tests.integration.conftest import ROOT, wait_for
from tests.lnbits_server import free_port

pytestmark = pytest.mark.slow

PGBOUNCER = Path("/usr/sbin/pgbouncer")
SUITE = (
    "tests/integration/test_money_lnbits.py",
    "tests/integration/test_background_jobs.py",
    "tests/tasks/test_claim_concurrency.py",
)
# Enough server connections for the holders of the direct check, each taking one and keeping it.
POOL_SIZE = 20

INI = """\
[databases]
* = host={host} port={port}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen_port}
unix_socket_dir =
auth_type = trust
auth_file = {folder}/users.txt
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 200
logfile = {folder}/pgbouncer.log
"""


@dataclass
class Pgbouncer:
    port: int
    log_path: Path

    def database_url(self, database: str) -> str:
        return f"postgres://{settings.DATABASES['default']['USER']}@127.0.0.1:{self.port}/{database}"


@contextlib.contextmanager
def run_pgbouncer() -> Iterator[Pgbouncer]:
    """A private PgBouncer in transaction mode on a free port, in front of the tests' PostgreSQL, any database."""
    if not PGBOUNCER.exists():
        pytest.fail("PgBouncer is not installed: `make test` installs Debian's package (apt-get install pgbouncer).")
    folder = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    database = settings.DATABASES["default"]
    port = free_port()
    (folder / "pgbouncer.ini").write_text(
        INI.format(host=database["HOST"], port=database["PORT"], listen_port=port, folder=folder, pool_size=POOL_SIZE)
    )
    (folder / "users.txt").write_text(f'"{database["USER"]}" ""\n')
    # PgBouncer refuses to run as root; as root it is told to become the postgres user, who must read its folder.
    as_user = ["-u", "postgres"] if os.geteuid() == 0 else []
    if as_user:
        folder.chmod(0o777)
    process = subprocess.Popen([PGBOUNCER, *as_user, folder / "pgbouncer.ini"], stderr=subprocess.DEVNULL)
    bouncer = Pgbouncer(port=port, log_path=folder / "pgbouncer.log")
    try:
        wait_for(lambda: _listens(port) or process.poll() is not None, timeout=10, message="PgBouncer to listen")
        assert process.poll() is None, f"PgBouncer stopped:\n{_log(bouncer)}"
        yield bouncer
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def _listens(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def _log(bouncer: Pgbouncer) -> str:
    return bouncer.log_path.read_text(errors="replace")[-3000:] if bouncer.log_path.exists() else ""


def drop_database_directly(name: str) -> None:
    """DROP DATABASE on PostgreSQL itself (FORCE ends what still holds it open)."""
    database = settings.DATABASES["default"]
    with psycopg.connect(
        host=database["HOST"], port=database["PORT"], user=database["USER"], dbname="postgres", autocommit=True
    ) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def environment_through(bouncer: Pgbouncer, database: str, *, pgbouncer_setting: str) -> dict[str, str]:
    """This process's environment for a child on `database` through PgBouncer; without pytest-xdist's variables, so
    the child is a pytest of its own."""
    inherited = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
    return {**inherited, "DATABASE_URL": bouncer.database_url(database), "DATABASE_PGBOUNCER": pgbouncer_setting}


# The direct check, run by `manage.py shell -c`. Before each step, another client (a thread with its own connection)
# takes the server connection the last step gave back and keeps it: PgBouncer lends idle server connections last in,
# first out, so the next step runs on a different server connection, as it would on a busy site.
HOLDERS = """
import threading
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction

release = threading.Event()

def hold_a_server_connection(taken):
    with transaction.atomic():
        ContentType.objects.exists()
        taken.set()
        release.wait(30)

def another_client_takes_the_last_server_connection():
    taken = threading.Event()
    threading.Thread(target=hold_a_server_connection, args=(taken,), daemon=True).start()
    assert taken.wait(10)
"""
ITERATOR_CHECK = (
    HOLDERS
    + """
rows = 0
for content_type in ContentType.objects.order_by("pk").iterator(chunk_size=1):
    rows += 1
    if rows <= 3:
        another_client_takes_the_last_server_connection()
with transaction.atomic():
    in_a_transaction = sum(1 for _ in ContentType.objects.order_by("pk").iterator(chunk_size=1))
release.set()
expected = ContentType.objects.count()
assert rows == in_a_transaction == expected, (rows, in_a_transaction, expected)
print("iterated", rows)
"""
)


def run_check(bouncer: Pgbouncer, database: str, *, pgbouncer_setting: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", ITERATOR_CHECK],
        cwd=ROOT,
        env=environment_through(bouncer, database, pgbouncer_setting=pgbouncer_setting),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_integration_tests_pass_through_pgbouncer_in_transaction_mode_and_nothing_outlives_a_transaction():
    # pytest-django names the child's test database test_<name>: unique per xdist worker, as the outer one is.
    database = f"{settings.DATABASES['default']['NAME']}_pgbouncer"
    test_database = f"test_{database}"
    drop_database_directly(test_database)
    started = time.monotonic()
    try:
        with run_pgbouncer() as bouncer:
            # --reuse-db: the database is created (and migrated) through PgBouncer and left for the checks below.
            suite = subprocess.run(
                [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-x", "--reuse-db", *SUITE],
                cwd=ROOT,
                env=environment_through(bouncer, database, pgbouncer_setting="1"),
                capture_output=True,
                text=True,
                timeout=300,
            )
            suite_seconds = time.monotonic() - started
            assert suite.returncode == 0, suite.stdout[-6000:] + suite.stderr[-3000:] + _log(bouncer)
            checks = {setting: run_check(bouncer, test_database, pgbouncer_setting=setting) for setting in ("1", "0")}
            outputs = {setting: check.communicate(timeout=60)[0] for setting, check in checks.items()}
            codes = {setting: check.returncode for setting, check in checks.items()}
    finally:
        drop_database_directly(test_database)

    summary = suite.stdout.strip().splitlines()[-1]
    print(f"\nThrough PgBouncer (transaction mode): {summary} in {suite_seconds:.0f} s")
    assert codes["1"] == 0, outputs["1"][-3000:]
    # Without DATABASE_PGBOUNCER the same steps break: the check sees what the setting is for.
    assert codes["0"] != 0, outputs["0"][-3000:]
    assert "InvalidCursorName" in outputs["0"], outputs["0"][-3000:]
