"""The Celery app: `celery -A marketplace worker` / `celery -A marketplace beat`.

Celery task functions live in `<app>/background.py`: in this code base the bare word "task" is a unit of microwork.
"""

import os

from celery import Celery
from celery.signals import beat_init, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

app = Celery("marketplace")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(related_name="background")


@worker_init.connect
@beat_init.connect
def refuse_unsafe_settings(**kwargs) -> None:
    """Celery runs no Django system checks: stop on the errors that make a public server unsafe."""
    from marketplace.checks import refuse_to_start_on_errors

    refuse_to_start_on_errors()


@app.on_after_configure.connect
def name_the_scheduler_redis_as_redbeat_reads_it(sender, **kwargs) -> None:
    """celery-redbeat reads CELERY_REDBEAT_REDIS_URL through the namespace, but looks for the key without it to decide
    that it is set, and otherwise logs at every start that it fell back to the broker's URL (not true here)."""
    url = sender.conf.get("CELERY_REDBEAT_REDIS_URL")
    if url:
        sender.conf.redbeat_redis_url = url
