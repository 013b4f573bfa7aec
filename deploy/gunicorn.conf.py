"""gunicorn settings for Boltwork's web processes: `gunicorn marketplace.wsgi:application -c deploy/gunicorn.conf.py`.

Each value can be overridden on the command line or in GUNICORN_CMD_ARGS. See docs/deployment.md.
"""

import os
import shutil
from pathlib import Path

# GUNICORN_BIND, else every address on $PORT (platforms that read a Procfile set it), else loopback behind a proxy.
bind = os.environ.get("GUNICORN_BIND") or (
    f"0.0.0.0:{os.environ['PORT']}" if os.environ.get("PORT") else "127.0.0.1:8000"
)
# gunicorn reads WEB_CONCURRENCY itself too; one sync worker per core is a good start (docs/PERFORMANCE.md).
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
timeout = 30
# Behind a reverse proxy on the same host or network: keep connections open between its requests.
keepalive = 5
accesslog = "-"
# Trust X-Forwarded-* only from the proxy (its address, or * when only the proxy can reach this port).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def on_starting(server) -> None:
    """/metrics with several worker processes: prometheus_client's multiprocess mode keeps each process's figures
    in files under PROMETHEUS_MULTIPROC_DIR. Files of a previous run would count again: start from an empty folder."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        Path(folder).mkdir(parents=True, exist_ok=True)


def child_exit(server, worker) -> None:
    """A worker process that ended leaves its gauges behind unless told (prometheus_client's multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
