"""A bare Django for the per-request floor (benchmarks/work_loop.py): no app, no middleware, no database, one view.

Served by the same gunicorn set-up as Boltwork, so what separates the two is Boltwork's own stack. Never used
outside benchmarks.
"""

SECRET_KEY = "benchmark-bare-django"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "benchmarks.bare_urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
DATABASES: dict = {}
USE_TZ = True
