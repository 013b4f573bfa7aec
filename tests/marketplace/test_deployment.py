"""Deployment defaults (security issue: `check --deploy` warned about HSTS, the https redirect and the proxy header,
for which there were no settings; with DEBUG=0 the development Lightning backend was still the default and its
"Pay with the test wallet" button was live; rate limits were counted per process).

Settings are read once per process, so each case runs `manage.py` (or an import) in a child process with the
environment it describes.
"""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from payments.models import Deposit
from tests.factories import make_user

ROOT = Path(__file__).resolve().parents[2]


def production_environment(**overrides: str) -> dict[str, str]:
    """What docs/operations.md asks a production host to set."""
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SITE_URL": "https://boltwork.example",
        "ALLOWED_HOSTS": "boltwork.example",
        "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/boltwork"),
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "CACHE_URL": "rediscache://127.0.0.1:6379/1",
        "LIGHTNING_BACKEND": "lnbits",
        "LNBITS_URL": "https://lnbits.boltwork.example",
        "LNBITS_ADMIN_KEY": "0123456789abcdef",
        "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
        "SECURE_HSTS_PRELOAD": "1",
    }
    environment.update(overrides)
    return {name: value for name, value in environment.items() if value is not None}


def run(arguments: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *arguments], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def manage(*arguments: str, **overrides: str) -> subprocess.CompletedProcess:
    return run(["manage.py", *arguments], production_environment(**overrides))


def test_check_deploy_is_silent_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_an_https_site_gets_the_redirect_hsts_and_secure_cookies_by_default():
    script = (
        "import django, json; django.setup(); from django.conf import settings as s; print(json.dumps("
        "[s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "list(s.SECURE_PROXY_SSL_HEADER)]))"
    )
    environment = production_environment(DJANGO_SETTINGS_MODULE="marketplace.settings")

    result = run(["-c", script], environment)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '[true, 31536000, true, true, ["HTTP_X_FORWARDED_PROTO", "https"]]'


def test_the_development_backend_is_refused_with_debug_off():
    result = manage("check", LIGHTNING_BACKEND=None, LNBITS_URL=None, LNBITS_ADMIN_KEY=None)

    assert result.returncode != 0
    assert "boltwork.E001" in result.stderr
    assert "LIGHTNING_DEV_BACKEND_ALLOWED" in result.stderr


def test_the_development_backend_runs_with_debug_off_only_when_allowed_on_purpose():
    result = manage("check", LIGHTNING_BACKEND="dev", LIGHTNING_DEV_BACKEND_ALLOWED="1")

    assert result.returncode == 0, result.stderr


def test_the_web_server_refuses_to_start_on_the_development_backend_with_debug_off():
    environment = production_environment(
        LIGHTNING_BACKEND=None, LNBITS_URL=None, LNBITS_ADMIN_KEY=None, DJANGO_SETTINGS_MODULE="marketplace.settings"
    )

    result = run(["-c", "import marketplace.wsgi"], environment)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "development Lightning backend is refused" in result.stderr


def test_a_per_process_cache_is_reported_when_debug_is_off():
    result = manage("check", CACHE_URL=None)

    assert "boltwork.W001" in result.stderr
    assert "per process" in result.stderr


@pytest.mark.django_db
def test_the_test_wallet_is_not_live_unless_allowed(settings, client):
    settings.DEBUG = False
    settings.LIGHTNING_BACKEND = "dev"
    settings.LIGHTNING_DEV_BACKEND_ALLOWED = False
    payer = make_user("payer", funds_sats=0)
    client.force_login(payer)
    from payments.deposits import deposit_create

    deposit = deposit_create(user=payer, amount_msat=21_000)

    page = client.get(reverse("deposit_detail", args=[deposit.public_id])).content.decode()
    assert "Pay with the test wallet" not in page
    response = client.post(reverse("deposit_pay_with_dev_wallet", args=[deposit.public_id]))
    assert response.status_code == 404
    assert Deposit.objects.get().status == "pending"
    assert client.get(reverse("dev_wallet_pay_request", args=["payer"])).status_code == 404
