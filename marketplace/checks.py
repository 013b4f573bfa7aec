"""Boltwork's own system checks: settings that are safe on a laptop and dangerous on a public server.

They run with `manage.py check` (and so before runserver and migrate); `marketplace.wsgi` and `marketplace.celery`
run the errors among them at start-up too, since gunicorn and Celery run no checks of their own.
"""

from django.conf import settings
from django.core.checks import Error, Warning, register

PER_PROCESS_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
    "django.core.cache.backends.filebased.FileBasedCache",
}


@register("boltwork")
def dev_lightning_backend_check(app_configs=None, **kwargs) -> list[Error]:
    if settings.LIGHTNING_BACKEND != "dev" or settings.DEBUG or settings.LIGHTNING_DEV_BACKEND_ALLOWED:
        return []
    return [
        Error(
            "The development Lightning backend is refused with DEBUG off: its test wallet pays any invoice it made, "
            "so anyone could add balance for free.",
            hint="Set LIGHTNING_BACKEND to lnbits, lnd or cln. On a test or demo machine, set "
            "LIGHTNING_DEV_BACKEND_ALLOWED=1 to run it on purpose.",
            id="boltwork.E001",
        )
    ]


@register("boltwork")
def shared_cache_check(app_configs=None, **kwargs) -> list[Warning]:
    if settings.DEBUG:
        return []
    backend = settings.CACHES["default"]["BACKEND"]
    if backend not in PER_PROCESS_CACHES:
        return []
    return [
        Warning(
            f"The cache is {backend.rsplit('.', 1)[-1]}: the rate limits (log-in, sign-up, password resets, the API, "
            "claims, reports, dispute messages) are counted per process, so each web process grants them again.",
            hint="Set CACHE_URL to a shared cache, e.g. rediscache://127.0.0.1:6379/1.",
            id="boltwork.W001",
        )
    ]


def refuse_to_start_on_errors() -> None:
    """For processes that run no system checks (gunicorn, Celery): stop on Boltwork's own errors."""
    from django.core.exceptions import ImproperlyConfigured

    errors = dev_lightning_backend_check()
    if errors:
        raise ImproperlyConfigured(f"{errors[0].msg} {errors[0].hint}")
