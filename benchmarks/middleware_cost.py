"""What each middleware costs a request, in CPU time inside one process (no HTTP, no gunicorn).

.venv/bin/python -m benchmarks.middleware_cost [--requests 400]

Over HTTP on a shared 2-core machine a middleware's share (a fraction of a millisecond) drowns in the scheduler's
noise (benchmarks/work_loop.py --overhead shows it). Here Django's test client sends the same request through
Boltwork's handler with the whole stack, with no middleware, and with each middleware removed in turn, and the
process's own CPU time (time.process_time, which other processes do not inflate as they do wall time) is divided by
the requests. The request: a logged-in GET of a plain view (benchmarks/bench_urls.py), and GET /api/v1/me with a
bearer key. Production settings and the Redis cache; figures beside the no-middleware floor. Never assertions.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")

from benchmarks import suite  # reads BENCH_REDIS_URL when imported

SCRIPT = "middleware_cost"
# allauth refuses to start without its middleware (its AppConfig checks), so it is never removed here.
REQUIRED = {"allauth.account.middleware.AccountMiddleware"}


def cpu_ms_per_request(client, path: str, requests: int, **headers) -> float:
    for _ in range(20):  # first requests: imports, connections, caches
        client.get(path, **headers)
    started = time.process_time()
    for _ in range(requests):
        response = client.get(path, **headers)
    assert response.status_code == 200, response.status_code  # a broken set-up, not a timing
    return (time.process_time() - started) * 1000 / requests


def measure(middleware: list[str], session_cookie: dict[str, str], api_key: str, requests: int) -> tuple[float, float]:
    from django.test import Client, override_settings

    with override_settings(MIDDLEWARE=middleware, ROOT_URLCONF="benchmarks.bench_urls", ALLOWED_HOSTS=["*"]):
        client = Client()
        client.cookies.load(session_cookie)
        page = cpu_ms_per_request(client, "/bench/plain/", requests)
        api = cpu_ms_per_request(Client(), "/api/v1/me", requests, HTTP_AUTHORIZATION=f"Bearer {api_key}")
    return page, api


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400)
    requests = parser.parse_args().requests
    suite.bench_database("work_loop")  # the work loop's database: its users are there
    os.environ.update({"REDIS_URL": suite.REDIS_URL, "CACHE_URL": suite.REDIS_URL.replace("redis://", "rediscache://")})
    os.environ.update({"DEBUG": "0", "LIGHTNING_DEV_BACKEND_ALLOWED": "1", "API_RATE_LIMIT_PER_MINUTE": "10000000"})
    from benchmarks.common import setup_django

    setup_django()
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    from api.models import ApiScope
    from api.services import api_key_create
    from marketplace.models import User

    user, _ = User.objects.get_or_create(username="bench-middleware-user")
    _, api_key = api_key_create(user=user, name="middleware cost", scopes=[ApiScope.READ])
    cookie = suite.session_cookies(user)
    stack = list(settings.MIDDLEWARE)
    report = suite.Report(SCRIPT)
    bare_page, _ = measure([m for m in stack if m in REQUIRED], cookie, api_key, requests)
    whole_page, whole_api = measure(stack, cookie, api_key, requests)
    report.add(
        suite.Figure(
            name="logged-in plain view, whole stack",
            value=whole_page,
            unit="ms CPU",
            floor_name="no middleware (but allauth's)",
            floor_value=bare_page,
            target="<= 1.5x",
            met=whole_page <= 1.5 * bare_page,
        )
    )
    report.add(
        suite.Figure(
            name="GET /api/v1/me, whole stack",
            value=whole_api,
            unit="ms CPU",
            floor_name="plain view, no middleware",
            floor_value=bare_page,
            target="<= 1.5x",
            met=whole_api <= 1.5 * bare_page,
        )
    )
    for middleware in stack:
        if middleware in REQUIRED:
            continue
        try:
            page, _ = measure([m for m in stack if m != middleware], cookie, api_key, requests)
        except (ImproperlyConfigured, AssertionError) as error:
            print(f"  {middleware} cannot be removed alone: {error}"[:200])
            continue
        report.add(
            suite.Figure(
                name=f"cost of {middleware.rsplit('.', 1)[1]}",
                value=whole_page - page,
                unit="ms CPU",
                floor_name="whole stack",
                floor_value=whole_page,
                note="the logged-in plain view's CPU time with it, less without it",
            )
        )
    report.finish()


if __name__ == "__main__":
    main()
