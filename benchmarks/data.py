"""Bulk fixtures for the benchmarks: many users, jobs, tasks and assignments made with set-based SQL in seconds.

Rows made here skip the services on purpose (a million tasks through tasks_add and job_publish would take longer
than the benchmark); they have the shape the services give them, and each benchmark says what it reads. Never used
outside benchmarks: the ledger of a benchmark database does not balance.
"""

import time

from django.db import connection

# The columns of a random public id, as core.ids makes them (30 characters of its alphabet; here hex is enough).
SQL_PUBLIC_ID = "upper(substr(md5(random()::text || clock_timestamp()::text), 1, 30))"


def unique_label(prefix: str) -> str:
    return f"{prefix}-{time.monotonic_ns()}"


def make_users(count: int, prefix: str) -> list[int]:
    """`count` users with usable names; returns their ids."""
    from marketplace.models import User

    label = unique_label(prefix)
    users = User.objects.bulk_create(User(username=f"{label}-{n}") for n in range(count))
    return [user.pk for user in users]


def make_builder_job(
    requester, title: str, *, columns: tuple[str, ...] = ("text", "image_url"), reward_msat: int = 1000
):
    """A draft job with a one-field builder form whose prompt uses `columns`, made through the services."""
    from marketplace import services

    job = services.job_create(requester=requester, title=title, description="x", reward_msat=reward_msat)
    services.job_set_builder_form(
        job=job,
        actor=requester,
        prompt=" ".join(f"{{{{{name}}}}}" for name in columns),
        fields=[{"name": "label", "kind": "short_text", "label": "Label", "required": True}],
    )
    return job


def insert_tasks(job_id: int, count: int, *, slots_open: int = 1) -> None:
    """`count` regular tasks at positions 1..count, with the inputs text and image_url."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO tasks_task (public_id, job_id, position, input, slots_open, kind, gold, created_at)
            SELECT {SQL_PUBLIC_ID}, %s, n,
                   jsonb_build_object('text', 'Sentence number ' || n || ', with a comma',
                                      'image_url', 'https://example.org/img/' || n || '.png'),
                   %s, 'regular', '{{}}'::jsonb, now()
            FROM generate_series(1, %s) AS n
            """,  # noqa: S608 (constants only)
            [job_id, slots_open, count],
        )
        cursor.execute(
            "UPDATE marketplace_job SET input_columns = %s::jsonb, task_count = %s WHERE id = %s",
            ['["text", "image_url"]', count, job_id],
        )


def insert_submitted_assignments(job_id: int, worker_ids: list[int]) -> int:
    """One assignment per task of the job, submitted (half of them approved) with an answer, its worker chosen
    round-robin from `worker_ids`. Returns the number made."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO tasks_assignment (
                public_id, job_id, task_id, worker_id, status, accepted_at, deadline_at, answer, submitted_at,
                reviewed_at, review_source, feedback, rejection_reason, flag_reason, review_rule)
            SELECT {SQL_PUBLIC_ID}, t.job_id, t.id, (%s::bigint[])[1 + t.position %% %s],
                   CASE WHEN t.position %% 2 = 0 THEN 'approved' ELSE 'submitted' END,
                   now() - interval '1 hour', now() + interval '1 hour',
                   jsonb_build_object('label', 'answer ' || t.position), now() - interval '30 minutes',
                   CASE WHEN t.position %% 2 = 0 THEN now() END,
                   CASE WHEN t.position %% 2 = 0 THEN 'requester' ELSE '' END, '', '', '', ''
            FROM tasks_task AS t WHERE t.job_id = %s
            """,  # noqa: S608 (constants only)
            [worker_ids, len(worker_ids), job_id],
        )
        made = cursor.rowcount
        cursor.execute("UPDATE tasks_task SET slots_open = 0 WHERE job_id = %s", [job_id])
        cursor.execute("ANALYZE tasks_task; ANALYZE tasks_assignment;")
    return made
