"""Boltwork settings.

Every setting is read from the environment here, in one place, and documented in `.env.example`.
With nothing configured the project runs on embedded defaults: SQLite and a filesystem Celery broker under
`var/`, and the console email backend.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-never-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "marketplace",
    "tasks",
    "payments",
    "api",
    "ninja",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "marketplace.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "marketplace.urls"
WSGI_APPLICATION = "marketplace.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "payments.context_processors.lightning",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and Celery write at once in `make run`: wait for the lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "marketplace.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "board"

# django-allauth
ACCOUNT_ADAPTER = "marketplace.adapters.AccountAdapter"
ACCOUNT_FORMS = {"signup": "marketplace.forms.SignupForm"}
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
# "mandatory" blocks log in until the address is verified; "optional" sends the mail but lets people in.
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="optional")
ACCOUNT_ALLOW_SIGNUPS = env.bool("ACCOUNT_ALLOW_SIGNUPS", default=True)
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if SITE_URL.startswith("https://") else "http"

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = EMAIL_CONFIG["EMAIL_BACKEND"]
EMAIL_HOST = EMAIL_CONFIG.get("EMAIL_HOST", "")
EMAIL_PORT = EMAIL_CONFIG.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = EMAIL_CONFIG.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = EMAIL_CONFIG.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = EMAIL_CONFIG.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = EMAIL_CONFIG.get("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Boltwork <no-reply@boltwork.invalid>")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Uploads: a task CSV may be up to 20 MB, pasted or as a file; the form gives the clear message, this cap only
# stops a request far beyond it.
TASK_CSV_MAX_BYTES = 20 * 1024 * 1024
TASK_CSV_MAX_ROWS = 100_000
DATA_UPLOAD_MAX_MEMORY_SIZE = 24 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = SITE_URL.startswith("https://")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "SAMEORIGIN"

# allauth's rate-limit counters live here; use Redis (`rediscache://…`) when several
# web processes serve the site, so they share one count.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

# Celery. The database is the queue of record; a lost message only delays work until a sweeper runs.
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_FILESYSTEM_DIR = VAR_DIR / "celery"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_FILESYSTEM_DIR / "queue"),
        "data_folder_out": str(CELERY_FILESYSTEM_DIR / "queue"),
        "processed_folder": str(CELERY_FILESYSTEM_DIR / "processed"),
        "control_folder": str(CELERY_FILESYSTEM_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "expire-overdue-assignments": {
        "task": "tasks.background.expire_overdue_assignments",
        "schedule": env.float("SWEEP_EXPIRE_SECONDS", default=30.0),
    },
    "auto-approve-due-submissions": {
        "task": "tasks.background.auto_approve_due_submissions",
        "schedule": env.float("SWEEP_AUTO_APPROVE_SECONDS", default=60.0),
    },
    "advance-due-payouts": {
        "task": "payments.background.advance_due_payouts",
        "schedule": env.float("SWEEP_PAYOUTS_SECONDS", default=30.0),
    },
    "sync-pending-deposits": {
        "task": "payments.background.sync_pending_deposits",
        "schedule": env.float("SWEEP_DEPOSITS_SECONDS", default=30.0),
    },
    "deliver-due-webhooks": {
        "task": "api.background.deliver_due_webhooks",
        "schedule": env.float("SWEEP_WEBHOOKS_SECONDS", default=30.0),
    },
    "close-expired-jobs": {
        "task": "marketplace.background.close_expired_jobs",
        "schedule": env.float("SWEEP_CLOSE_JOBS_SECONDS", default=300.0),
    },
}


# Money. Amounts are integers of millisatoshis; percentages are read as basis points (1% = 100) so no float or
# Decimal ever touches an amount.
def percent_to_basis_points(name: str, default: str) -> int:
    text = env.str(name, default=default).strip()
    whole, _, fraction = text.partition(".")
    if not whole.isdigit() or (fraction and not fraction.isdigit()) or len(fraction) > 2:
        raise ImproperlyConfigured(f"{name} must be a percentage with at most two decimals, e.g. 2.5")
    return int(whole) * 100 + int((fraction + "00")[:2])


LIGHTNING_BACKEND = env.str("LIGHTNING_BACKEND", default="dev")
if LIGHTNING_BACKEND not in {"dev", "lnbits", "lnd", "cln"}:
    raise ImproperlyConfigured("LIGHTNING_BACKEND must be one of dev, lnbits, lnd, cln.")
LNBITS_URL = env.str("LNBITS_URL", default="").rstrip("/")
LNBITS_ADMIN_KEY = env.str("LNBITS_ADMIN_KEY", default="")
LND_REST_URL = env.str("LND_REST_URL", default="").rstrip("/")
LND_MACAROON_HEX = env.str("LND_MACAROON_HEX", default="")
LND_TLS_CERT_PATH = env.str("LND_TLS_CERT_PATH", default="")
CLN_REST_URL = env.str("CLN_REST_URL", default="").rstrip("/")
CLN_RUNE = env.str("CLN_RUNE", default="")
BITCOIN_NETWORK = env.str("BITCOIN_NETWORK", default="mainnet")
if BITCOIN_NETWORK not in {"mainnet", "testnet", "signet", "regtest"}:
    raise ImproperlyConfigured("BITCOIN_NETWORK must be one of mainnet, testnet, signet, regtest.")
PLATFORM_FEE_BASIS_POINTS = percent_to_basis_points("PLATFORM_FEE_PERCENT", "10")
PAYOUT_FEE_LIMIT_FLOOR_MSAT = env.int("PAYOUT_FEE_LIMIT_FLOOR_MSAT", default=10_000)
PAYOUT_FEE_LIMIT_BASIS_POINTS = percent_to_basis_points("PAYOUT_FEE_LIMIT_PERCENT", "1")
PAYOUT_MAX_ATTEMPTS = env.int("PAYOUT_MAX_ATTEMPTS", default=6)
DEPOSIT_MIN_MSAT = env.int("DEPOSIT_MIN_MSAT", default=1_000)
DEPOSIT_MAX_MSAT = env.int("DEPOSIT_MAX_MSAT", default=10_000_000_000)
DEPOSIT_EXPIRY_SECONDS = env.int("DEPOSIT_EXPIRY_SECONDS", default=3600)
WITHDRAW_LINK_EXPIRY_SECONDS = env.int("WITHDRAW_LINK_EXPIRY_SECONDS", default=600)
# `host:port` pairs that outbound LNURL requests may reach over plain http and on loopback or private addresses:
# development and tests only. Empty in production.
LNURL_ALLOWED_INSECURE_HOSTS = env.list("LNURL_ALLOWED_INSECURE_HOSTS", default=[])
LNURL_TIMEOUT_SECONDS = env.float("LNURL_TIMEOUT_SECONDS", default=10.0)
LNURL_MAX_RESPONSE_BYTES = env.int("LNURL_MAX_RESPONSE_BYTES", default=256 * 1024)

# The JSON API: requests per API key owner per minute (0 turns the limit off).
API_RATE_LIMIT_PER_MINUTE = env.int("API_RATE_LIMIT_PER_MINUTE", default=600)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
