"""Boltwork settings.

Every setting is read from the environment here, in one place, and documented in `.env.example`.
With nothing configured the project runs on embedded defaults: SQLite and a filesystem Celery broker under
`var/`, and the console email backend.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# The `.env` that `make run` writes for development; the environment wins over it. `make test` turns it off, so
# the tests (and the processes they start) see only what they set.
if env.bool("BOLTWORK_DOTENV", default=True):
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Where the embedded defaults keep their files (the SQLite database, the filesystem broker, beat's schedule).
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

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
    "allauth.socialaccount",
    # Log in with a Lightning wallet (LNURL-auth, issue 14): an allauth provider of our own.
    "lnauth",
    "core",
    "marketplace",
    "tasks",
    "payments",
    "moderation",
    "alerts",
    "api",
    "notifications",
    "mturk",
    "web",
    "ninja",
]

MIDDLEWARE = [
    # /health/live, /health/ready and /metrics, answered before the rest (web/operations.py says why).
    "web.operations.OperationsEndpointsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "web.middleware.ContentSecurityPolicyMiddleware",
    "web.middleware.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "web.middleware.BrowserTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

# Prometheus metrics at /metrics (web/metrics.py): off unless a scraper's bearer token is set. Only then are request
# and database metrics recorded, since each costs a little on every request and query.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
if METRICS_TOKEN:
    # Latency by view and responses by status: one lean middleware around everything but the health and metrics
    # endpoints (probes and scrapes are not traffic), instead of django-prometheus's two (docs/deployment.md).
    MIDDLEWARE.insert(1, "web.metrics.RequestMetricsMiddleware")
# Readiness (/health/ready) waits this long for the Lightning backend's answer.
HEALTH_LIGHTNING_TIMEOUT_SECONDS = env.float("HEALTH_LIGHTNING_TIMEOUT_SECONDS", default=3.0)

ROOT_URLCONF = "web.urls"
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
                "web.context_processors.lightning",
                "web.context_processors.notifications",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and two Celery workers write at once in `make run`. WAL lets readers go on beside the one
    # writer; IMMEDIATE takes the write lock when a transaction begins, so two writers queue for it (within the
    # busy timeout) instead of one failing with "database is locked" when a read-then-write transaction upgrades.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
        }
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Behind PgBouncer in transaction mode each transaction may run on a different server connection, so nothing may
# outlive one. Server-side cursors would (`.iterator()` would FETCH from a cursor another connection declared): this
# turns them off. Prepared statements would too, and PgBouncer 1.18 cannot follow them, but Django binds parameters
# on the client and asks psycopg for none (keep OPTIONS server_side_binding off). A setting, not guessed from the URL:
# PgBouncer looks like PostgreSQL to a client. The code keeps no session state (SET is only SET TRANSACTION, locks are
# row locks; no LISTEN, temporary tables or session advisory locks); CONN_MAX_AGE keeps the connection to PgBouncer,
# which is cheap, and PgBouncer pools the server connections.
DATABASE_PGBOUNCER = env.bool("DATABASE_PGBOUNCER", default=False)
if DATABASE_PGBOUNCER:
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
if METRICS_TOKEN and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The same PostgreSQL backend, counting queries, their durations and errors for /metrics.
    DATABASES["default"]["ENGINE"] = "django_prometheus.db.backends.postgresql"
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
ACCOUNT_ADAPTER = "web.adapters.AccountAdapter"
ACCOUNT_FORMS = {"signup": "web.forms.SignupForm"}
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
# "mandatory" blocks log in until the address is verified; "optional" sends the mail but lets people in. Only
# "mandatory" lets sign-up answer the same whether or not an address already has an account (with unique emails,
# allauth prevents enumeration only then): both get "check your email", and the owner of a taken address is mailed
# that someone tried to sign up with it. "optional" and "none" say "already registered" on the sign-up form.
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="mandatory")
ACCOUNT_PREVENT_ENUMERATION = True
# Following the link in the browser that signed up logs the new user in (allauth checks the session for that).
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
# Confirmation links carry a stored random key, not a signed email-address row id (a sequential number).
ACCOUNT_EMAIL_CONFIRMATION_HMAC = False
ACCOUNT_ALLOW_SIGNUPS = env.bool("ACCOUNT_ALLOW_SIGNUPS", default=True)
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if SITE_URL.startswith("https://") else "http"
# allauth's rate limits, explicit so they are ours to read and change (its names and format: "<count>/<period>/<per>",
# periods s, m, h, d; per ip, key or user; several separated by commas). Log-in, sign-up and password reset past their
# limit answer templates/429.html, which asks to wait a minute (so keep those per minute); too many failed log-ins
# for one account are refused on the log-in form itself.
# Counted in the cache: use Redis (CACHE_URL) when several web processes serve the site.
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    # Per address and per account: a guessing attack on one account stops after 5 tries in 5 minutes.
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
}
# Third-party logins: only our own Lightning wallet provider (lnauth). A wallet gives no email, so a wallet sign-up
# asks for none and verifies none: the new account lands logged in (then on the payment step), with no usable
# password; an email can be added later. allauth refuses to unlink the wallet while it is the only way in.
SOCIALACCOUNT_ADAPTER = "lnauth.adapter.SocialAccountAdapter"
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_REQUIRED = False
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_QUERY_EMAIL = False
SOCIALACCOUNT_STORE_TOKENS = False

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

# The largest request body read at all: anything declaring more is answered 413 before a byte of it is read
# (web.middleware.RequestSizeLimitMiddleware). A task CSV upload is the largest legitimate request.
MAX_REQUEST_BYTES = env.int("MAX_REQUEST_BYTES", default=TASK_CSV_MAX_BYTES + 1024 * 1024)

# Quotas on work that costs nothing until it is paid for.
MAX_DRAFT_JOBS_PER_USER = env.int("MAX_DRAFT_JOBS_PER_USER", default=1_000)
MAX_DRAFT_TASKS_PER_USER = env.int("MAX_DRAFT_TASKS_PER_USER", default=200_000)

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = SITE_URL.startswith("https://")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# SAMEORIGIN, not DENY: the task page frames the sandboxed HTML template from this same site.
X_FRAME_OPTIONS = "SAMEORIGIN"
SILENCED_SYSTEM_CHECKS = ["security.W019"]
# Behind a TLS-terminating proxy: which header says the original request was https, e.g.
# `SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https`. Only set it when the proxy always sets (or strips) it.
_proxy_ssl_header = env.list("SECURE_PROXY_SSL_HEADER", default=[])
if _proxy_ssl_header and len(_proxy_ssl_header) != 2:
    raise ImproperlyConfigured("SECURE_PROXY_SSL_HEADER must be two comma-separated values: header,value.")
SECURE_PROXY_SSL_HEADER = tuple(_proxy_ssl_header) or None
# With an https SITE_URL these default to a redirect to https and a year of HSTS; each can be overridden.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=SESSION_COOKIE_SECURE)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if SESSION_COOKIE_SECURE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)

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
# Exactly one scheduler (docs/deployment.md): with Redis, celery-redbeat keeps the schedule in Redis and sends nothing
# until it holds a lock there, so a second `celery beat` (started by mistake, or for failover) only waits. The lock
# outlives a beat that died holding it by BEAT_LOCK_TIMEOUT_SECONDS; a running beat renews it at least every
# BEAT_MAX_LOOP_SECONDS. Without Redis (`make run`'s filesystem broker, one machine) beat keeps its file.
if REDIS_URL:
    CELERY_BEAT_SCHEDULER = "redbeat.RedBeatScheduler"
    CELERY_REDBEAT_REDIS_URL = REDIS_URL
    CELERY_REDBEAT_KEY_PREFIX = env.str("BEAT_KEY_PREFIX", default="redbeat:")
    CELERY_REDBEAT_LOCK_TIMEOUT = env.int("BEAT_LOCK_TIMEOUT_SECONDS", default=30)
CELERY_BEAT_MAX_LOOP_INTERVAL = env.int("BEAT_MAX_LOOP_SECONDS", default=5)
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
    "escalate-due-disputes": {
        "task": "tasks.background.escalate_due_disputes",
        "schedule": env.float("SWEEP_DISPUTES_SECONDS", default=300.0),
    },
    "close-expired-jobs": {
        "task": "marketplace.background.close_expired_jobs",
        "schedule": env.float("SWEEP_CLOSE_JOBS_SECONDS", default=300.0),
    },
    # Reputations (issue 11): requesters' and workers' figures and jobs' measured sats per hour, recomputed for
    # what changed since the last run (tasks/reputations.py).
    "refresh-reputations": {
        "task": "tasks.background.refresh_reputations",
        "schedule": env.float("SWEEP_REPUTATIONS_SECONDS", default=300.0),
    },
    # Quality control (issue 12): submissions whose quality pipeline (review rules) did not run on commit, a
    # minute after they were submitted (tasks/quality.py).
    "check-missed-submissions": {
        "task": "tasks.background.check_missed_submissions",
        "schedule": env.float("SWEEP_QUALITY_SECONDS", default=60.0),
    },
    # HITs (Mechanical Turk API) past their own expiry: the escrow of the slots nobody filled goes back.
    "expire-due-hits": {
        "task": "tasks.background.expire_due_hits",
        "schedule": env.float("SWEEP_EXPIRE_HITS_SECONDS", default=60.0),
    },
    # Housekeeping: forget Idempotency-Keys older than a day, delete finished webhook deliveries older than 30
    # days. Hourly rather than daily, so each run deletes an hour's worth and a beat restarted more often than
    # once a day (with its schedule file lost) still runs them.
    "prune-idempotency-records": {
        "task": "api.background.prune_idempotency_records",
        "schedule": env.float("SWEEP_PRUNE_IDEMPOTENCY_SECONDS", default=3600.0),
    },
    "prune-mturk-request-tokens": {
        "task": "mturk.background.prune_request_tokens",
        "schedule": env.float("SWEEP_PRUNE_IDEMPOTENCY_SECONDS", default=3600.0),
    },
    "prune-webhook-deliveries": {
        "task": "api.background.prune_webhook_deliveries",
        "schedule": env.float("SWEEP_PRUNE_WEBHOOKS_SECONDS", default=3600.0),
    },
    # Notification emails still pending: a lost job, or a mail server that refused them for a while.
    "send-due-notification-emails": {
        "task": "notifications.background.send_due_notification_emails",
        "schedule": 300.0,
    },
    # Jobs published recently whose matching against the work alerts never ran (a lost message).
    "match-unmatched-jobs-to-alerts": {
        "task": "alerts.background.match_unmatched_jobs_to_alerts",
        "schedule": 300.0,
    },
}
# Queues. Jobs that call addresses users type run apart from the sweepers, so a slow wallet or webhook server
# delays neither the sweepers nor each other: payouts on `payouts`, webhooks on `webhooks`, every job Celery
# beat schedules on `sweepers`, anything else on Celery's default `celery`. Every queue needs a worker consuming
# it (docs/operations.md, scripts/dev-run.sh).
CELERY_TASK_ROUTES = {
    "payments.background.advance_payout": {"queue": "payouts"},
    "payments.background.pay_out_worker": {"queue": "payouts"},
    "api.background.deliver_webhook": {"queue": "webhooks"},
    **{entry["task"]: {"queue": "sweepers"} for entry in CELERY_BEAT_SCHEDULE.values()},
}
# Every job has a time limit, so nothing holds a worker process for ever. The soft limit raises
# SoftTimeLimitExceeded inside the job (every state is committed before the step it guards, so the sweepers
# pick up where it stopped); the hard limit kills the process. Jobs that call out have tighter limits of their
# own (payments/background.py, api/background.py).
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)


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
# The development backend has a test wallet that pays any invoice it made: with DEBUG off it would hand out free
# balance. It is refused (system check boltwork.E001: runserver, migrate and check stop; gunicorn and Celery
# refuse to start) unless this says it is a test or demo machine on purpose. `make test` sets it.
LIGHTNING_DEV_BACKEND_ALLOWED = env.bool("LIGHTNING_DEV_BACKEND_ALLOWED", default=DEBUG)
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
# The routing fee of a payout is paid by the platform, up to max(floor, percentage of the amount) but never more
# than PAYOUT_FEE_LIMIT_MAX_PERCENT of the amount: whoever controls the last hop cannot make a tiny payout expensive.
PAYOUT_FEE_LIMIT_FLOOR_MSAT = env.int("PAYOUT_FEE_LIMIT_FLOOR_MSAT", default=10_000)
PAYOUT_FEE_LIMIT_BASIS_POINTS = percent_to_basis_points("PAYOUT_FEE_LIMIT_PERCENT", "1")
PAYOUT_FEE_LIMIT_MAX_BASIS_POINTS = percent_to_basis_points("PAYOUT_FEE_LIMIT_MAX_PERCENT", "5")
if PAYOUT_FEE_LIMIT_MAX_BASIS_POINTS > 10_000:
    raise ImproperlyConfigured("PAYOUT_FEE_LIMIT_MAX_PERCENT must be at most 100.")
# The smallest amount sent to a Lightning Address, and the smallest withdrawal. Whole sats.
PAYOUT_MIN_MSAT = env.int("PAYOUT_MIN_MSAT", default=10_000)
WITHDRAW_MIN_MSAT = env.int("WITHDRAW_MIN_MSAT", default=10_000)
if PAYOUT_MIN_MSAT < 1_000 or PAYOUT_MIN_MSAT % 1_000 or WITHDRAW_MIN_MSAT < 1_000 or WITHDRAW_MIN_MSAT % 1_000:
    raise ImproperlyConfigured("PAYOUT_MIN_MSAT and WITHDRAW_MIN_MSAT must be whole sats: multiples of 1000.")
PAYOUT_MAX_ATTEMPTS = env.int("PAYOUT_MAX_ATTEMPTS", default=6)
DEPOSIT_MIN_MSAT = env.int("DEPOSIT_MIN_MSAT", default=1_000)
DEPOSIT_MAX_MSAT = env.int("DEPOSIT_MAX_MSAT", default=10_000_000_000)
DEPOSIT_EXPIRY_SECONDS = env.int("DEPOSIT_EXPIRY_SECONDS", default=3600)
# Unpaid invoices one user may hold at once, and how long one deposit sweep may spend before it stops for the next.
DEPOSIT_MAX_PENDING_PER_USER = env.int("DEPOSIT_MAX_PENDING_PER_USER", default=10)
DEPOSIT_SYNC_TIME_BUDGET_SECONDS = env.float("DEPOSIT_SYNC_TIME_BUDGET_SECONDS", default=20.0)
WITHDRAW_LINK_EXPIRY_SECONDS = env.int("WITHDRAW_LINK_EXPIRY_SECONDS", default=600)
# `host:port` pairs that outbound LNURL requests may reach over plain http and on loopback or private addresses:
# development and tests only. Empty in production.
LNURL_ALLOWED_INSECURE_HOSTS = env.list("LNURL_ALLOWED_INSECURE_HOSTS", default=[])
# Outbound requests to addresses users type (LNURL and webhooks): one overall deadline per request, from the DNS
# lookup to the last byte, redirects included, however the server paces its answer.
LNURL_TIMEOUT_SECONDS = env.float("LNURL_TIMEOUT_SECONDS", default=10.0)
LNURL_MAX_RESPONSE_BYTES = env.int("LNURL_MAX_RESPONSE_BYTES", default=256 * 1024)
# The deadline when a worker saves a payout address: a person and a web process wait for that answer.
LNURL_DESTINATION_CHECK_SECONDS = env.float("LNURL_DESTINATION_CHECK_SECONDS", default=5.0)
# Outbound requests in flight at once per destination host, across every process (held in Redis; payouts and
# webhooks counted apart), so one slow host can hold at most this many outbound worker processes. A job that finds
# its host busy is tried again this many seconds later, spending none of its attempts: a slot is held for one
# payout's two requests to the wallet, a fraction of a second when the wallet answers (docs/PERFORMANCE.md, "Payouts").
LNURL_HOST_CONCURRENCY = env.int("LNURL_HOST_CONCURRENCY", default=1)
LNURL_HOST_BUSY_RETRY_SECONDS = env.float("LNURL_HOST_BUSY_RETRY_SECONDS", default=1.0)

# The JSON API: requests per API key owner per minute (0 turns the limit off).
API_RATE_LIMIT_PER_MINUTE = env.int("API_RATE_LIMIT_PER_MINUTE", default=600)
# Actions people repeat, per user (core/ratelimit.py; 0 turns a limit off): claims of tasks, on the web and in the
# API alike; reports of jobs and users; messages in dispute threads.
CLAIMS_PER_MINUTE = env.int("CLAIMS_PER_MINUTE", default=30)
REPORTS_PER_HOUR = env.int("REPORTS_PER_HOUR", default=10)
DISPUTE_MESSAGES_PER_HOUR = env.int("DISPUTE_MESSAGES_PER_HOUR", default=20)
# The largest JSON body an API endpoint parses (task imports, up to TASK_CSV_MAX_BYTES, are checked apart).
API_MAX_JSON_BODY_BYTES = env.int("API_MAX_JSON_BODY_BYTES", default=2 * 1024 * 1024)
# An Idempotency-Key whose first request has not answered after this long was left by a crash (a killed web
# process), and a repeat acts again. It must exceed the longest a request can run: gunicorn kills a worker silent
# for 30 s by default, and no endpoint waits on more than a few outbound deadlines (LNURL_TIMEOUT_SECONDS).
IDEMPOTENCY_IN_PROGRESS_TIMEOUT_SECONDS = env.int("IDEMPOTENCY_IN_PROGRESS_TIMEOUT_SECONDS", default=600)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# Disputes (issue 10): a rejected worker may dispute for this many days; the requester has this many days to withdraw
# the rejection before the dispute goes to the moderators.
DISPUTE_WINDOW_DAYS = env.int("DISPUTE_WINDOW_DAYS", default=7)
DISPUTE_REQUESTER_DAYS = env.int("DISPUTE_REQUESTER_DAYS", default=3)

# Moderation (issue 10): the moderators' front page flags a requester who rejected at least this share of the work
# reviewed in their jobs over the last MODERATION_FLAG_WINDOW_DAYS, once at least MODERATION_FLAG_MIN_REVIEWS were.
MODERATION_FLAG_REJECTION_RATE = env.float("MODERATION_FLAG_REJECTION_RATE", default=0.3)
MODERATION_FLAG_MIN_REVIEWS = env.int("MODERATION_FLAG_MIN_REVIEWS", default=20)
MODERATION_FLAG_WINDOW_DAYS = env.int("MODERATION_FLAG_WINDOW_DAYS", default=30)
# A mass rejection is held for a moderator before it takes effect: more than this share of a worker's submissions to
# one job rejected within an hour, counting at least this many rejections.
MASS_REJECTION_SHARE = env.float("MASS_REJECTION_SHARE", default=0.5)
MASS_REJECTION_MIN_COUNT = env.int("MASS_REJECTION_MIN_COUNT", default=3)

# Reputations (issue 11): a requester is "new" (not rated), and a job's or a requester's sats per hour is the
# requester's estimate rather than measured, until at least this many of their assignments were approved.
REPUTATION_MIN_APPROVED = env.int("REPUTATION_MIN_APPROVED", default=20)
# ... and approved work by at least this many different workers, so that a requester's own second account cannot
# make up a measured rate with a few instant "tasks".
REPUTATION_MIN_WORKERS = env.int("REPUTATION_MIN_WORKERS", default=5)
if REPUTATION_MIN_APPROVED < 1 or REPUTATION_MIN_WORKERS < 1:
    raise ImproperlyConfigured("REPUTATION_MIN_APPROVED and REPUTATION_MIN_WORKERS must be at least 1.")

# The Mechanical Turk requester API (issue 13). Credentials in USD have their amounts converted at this many sats
# per dollar; the rate in force when a HIT is made is fixed on it. The operator keeps it current.
MTURK_SATS_PER_USD = env.int("MTURK_SATS_PER_USD", default=1_000)
if MTURK_SATS_PER_USD < 1:
    raise ImproperlyConfigured("MTURK_SATS_PER_USD must be at least 1.")
# The sandbox's play money: what a requester's sandbox balance is topped up to on request, in USD (converted at the
# rate above for the sats shown to credentials in sats).
SANDBOX_BALANCE_USD = env.int("SANDBOX_BALANCE_USD", default=10_000)
# How far a SigV4 request's X-Amz-Date may be from the server's clock, as AWS allows.
MTURK_SIGNATURE_MAX_SKEW_SECONDS = env.int("MTURK_SIGNATURE_MAX_SKEW_SECONDS", default=300)

# Log in with a Lightning wallet (LNURL-auth, LUD-04; issue 14). A k1 shown to a browser can be signed for this many
# seconds (and the signed log-in finished for as long again); the wallet's callback and the making of k1s are
# limited per client address and minute (0: no limit).
LNURL_AUTH_CHALLENGE_SECONDS = env.int("LNURL_AUTH_CHALLENGE_SECONDS", default=300)
if LNURL_AUTH_CHALLENGE_SECONDS < 1:
    raise ImproperlyConfigured("LNURL_AUTH_CHALLENGE_SECONDS must be at least 1.")
LNURL_AUTH_CALLBACKS_PER_MINUTE = env.int("LNURL_AUTH_CALLBACKS_PER_MINUTE", default=60)
LNURL_AUTH_CHALLENGES_PER_MINUTE = env.int("LNURL_AUTH_CHALLENGES_PER_MINUTE", default=60)
