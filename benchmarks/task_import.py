"""How long creating 10,000 tasks from a CSV takes: parsing, and the database work (bulk inserts, one transaction).

.venv/bin/python -m benchmarks.task_import [rows]
"""

import sys
import time

from benchmarks.common import setup_django


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    setup_django()
    from django.db import connection

    from marketplace import services
    from marketplace.models import User
    from tasks.csv_import import parse_task_csv
    from tasks.services import tasks_add

    requester, _ = User.objects.get_or_create(username="bench-requester")
    job = services.job_create(requester=requester, title="Import benchmark", description="x", reward_msat=1000)
    services.job_set_builder_form(
        job=job,
        actor=requester,
        prompt="{{text}} {{image_url}}",
        fields=[{"name": "label", "kind": "short_text", "label": "Label", "required": True}],
    )
    lines = ["id,text,image_url"] + [
        f'{n},"Sentence number {n}, with a comma",https://example.org/img/{n}.png' for n in range(rows)
    ]
    csv_text = "\n".join(lines)

    start = time.perf_counter()
    parsed = parse_task_csv(csv_text, required_columns=["text", "image_url"], expected_columns=None)
    parse_seconds = time.perf_counter() - start

    queries_before = len(connection.queries)
    start = time.perf_counter()
    created = tasks_add(job=job, actor=requester, columns=parsed.columns, rows=parsed.rows)
    database_seconds = time.perf_counter() - start
    del queries_before

    print(f"CSV of {rows:,} rows, {len(csv_text.encode()) / 1e6:.2f} MB")
    print(f"  parse and validate: {parse_seconds * 1000:.0f} ms")
    print(f"  database (bulk insert of {created:,} tasks in one transaction): {database_seconds * 1000:.0f} ms")
    print(f"  total: {(parse_seconds + database_seconds) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
