"""The Celery app: `celery -A marketplace worker` / `celery -A marketplace beat`.

Celery task functions live in `<app>/background.py`: in this code base the bare word "task" is a unit of microwork.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

app = Celery("marketplace")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(related_name="background")
