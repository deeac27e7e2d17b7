"""FactorTrace settings: every value comes from the environment, with a safe development default.

A bad value raises ImproperlyConfigured naming the variable, at import time, so a misconfigured
process never starts.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def _env(name: str, cast: type, default: object) -> object:
    """Read one variable, turning any parse failure into ImproperlyConfigured naming it."""
    try:
        return env(name, cast=cast, default=default)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"{name}: cannot read {os.environ.get(name)!r} ({exc})") from exc


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}: {raw!r} is not a boolean (use true/false, 1/0, yes/no).")


def _env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def _env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {raw!r} is not an integer.") from exc
    if value < minimum:
        raise ImproperlyConfigured(f"{name}: {value} is below the minimum of {minimum}.")
    return value


ENVIRONMENT = os.environ.get("ENVIRONMENT", "development").strip().lower()
if ENVIRONMENT not in {"development", "test", "production"}:
    raise ImproperlyConfigured(
        f"ENVIRONMENT: {ENVIRONMENT!r} is not one of development, test, production."
    )
IS_PRODUCTION = ENVIRONMENT == "production"

DEV_SECRET_KEY = "dev-only-insecure-key-never-used-in-production"  # noqa: S105
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if IS_PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY: required when ENVIRONMENT=production.")
    SECRET_KEY = DEV_SECRET_KEY
elif IS_PRODUCTION:
    if SECRET_KEY == DEV_SECRET_KEY or SECRET_KEY.startswith("django-insecure"):
        raise ImproperlyConfigured("SECRET_KEY: the development key cannot be used in production.")
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
        raise ImproperlyConfigured(
            "SECRET_KEY: must be at least 50 characters with at least 5 distinct ones in production."
        )

DEBUG = _env_bool("DEBUG", default=not IS_PRODUCTION)
if IS_PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG: must be false when ENVIRONMENT=production.")

VERSION = "0.1.0"

# Tenants live at <slug>.<BASE_DOMAIN>; the public site at BASE_DOMAIN itself.
BASE_DOMAIN = os.environ.get("BASE_DOMAIN", "localhost").strip().lower()
if not BASE_DOMAIN or "/" in BASE_DOMAIN or ":" in BASE_DOMAIN:
    raise ImproperlyConfigured(
        f"BASE_DOMAIN: {BASE_DOMAIN!r} must be a bare host name such as factortrace.eu."
    )
# Port appended to tenant links in development (http://acme.localhost:8000/).
PUBLIC_PORT = _env_int("PUBLIC_PORT", 8000 if not IS_PRODUCTION else 0)
PUBLIC_SCHEME = "https" if IS_PRODUCTION else "http"

ALLOWED_HOSTS = _env_list(
    "ALLOWED_HOSTS", [BASE_DOMAIN, f".{BASE_DOMAIN}", "127.0.0.1", "testserver"]
)
# CSRF: a POST must come from the very host it is sent to (Django compares the Origin with the request's
# own scheme and host). No wildcard over tenants: every tenant host is same-site, so a page on
# bravo.<BASE_DOMAIN> must never be able to post to acme.<BASE_DOMAIN>. Extra exact origins (a separate
# admin host, say) may be listed; wildcards are refused.
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS", [])
for _origin in CSRF_TRUSTED_ORIGINS:
    if not _origin.startswith(("http://", "https://")):
        raise ImproperlyConfigured(
            f"CSRF_TRUSTED_ORIGINS: {_origin!r} must start with http:// or https://."
        )
    if "*" in _origin:
        raise ImproperlyConfigured(
            f"CSRF_TRUSTED_ORIGINS: {_origin!r} is a wildcard; it would let one tenant's pages post "
            "to another's. List exact origins only."
        )
CSRF_FAILURE_VIEW = "factortrace.errors.csrf_failure"

SHARED_APPS = [
    "django_tenants",
    "tenants",
    "factors",
    "accounts",
    "factortrace",
    "billing",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "django_rq",
    "csp",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "accounts",
    "emissions",
    "imports",
    "reporting",
    "api",
]
INSTALLED_APPS = list(SHARED_APPS) + [a for a in TENANT_APPS if a not in SHARED_APPS]

# Reports: the VSME taxonomy dump (EFRAG, MIT); the ESRS packages' folder, XBRL_TAXONOMY_DIR, is
# read below. Empty: reports say the taxonomy is not configured.
VSME_TAXONOMY_JSON = os.environ.get("VSME_TAXONOMY_JSON", "")
# EFRAG's VSME Digital Template that VSME reports fill in (MIT, shipped in data/vsme/ with its
# licence); set to a newer template's path to use it.
VSME_TEMPLATE_XLSX = os.environ.get(
    "VSME_TEMPLATE_XLSX", str(BASE_DIR / "data" / "vsme" / "VSME-Digital-Template-1.3.0.xlsx")
)

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "factortrace.urls_public"
ROOT_URLCONF = "factortrace.urls_tenant"
SHOW_PUBLIC_IF_NO_TENANT_FOUND = False
AUTH_USER_MODEL = "accounts.User"

MIDDLEWARE = [
    "factortrace.observability.RequestContextMiddleware",
    "factortrace.middleware.HealthCheckMiddleware",
    "django_tenants.middleware.main.TenantMainMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "tenants.middleware.TenantLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.TenantSessionGuardMiddleware",
    "accounts.throttle.LoginThrottleMiddleware",
    "factortrace.middleware.NoStoreForSignedInMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

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
                "factortrace.context.site",
            ],
            "builtins": ["factortrace.templatetags.display"],
        },
    }
]

WSGI_APPLICATION = "factortrace.wsgi.application"

DATABASE_URL = os.environ.get("DATABASE_URL", "").strip()
if not DATABASE_URL:
    raise ImproperlyConfigured(
        "DATABASE_URL: not set. `make run` and `make test` start an embedded PostgreSQL and set it; "
        "to run manage.py by hand use `scripts/services.py exec -- python manage.py ...`."
    )
try:
    _db = environ.Env.db_url_config(DATABASE_URL)
except Exception as exc:
    raise ImproperlyConfigured(f"DATABASE_URL: cannot parse {DATABASE_URL!r} ({exc}).") from exc
if urlsplit(DATABASE_URL).scheme not in {"postgres", "postgresql", "pgsql", "psql"}:
    raise ImproperlyConfigured("DATABASE_URL: FactorTrace needs PostgreSQL (postgres://...).")
# A Unix-socket directory arrives percent-encoded in the host part (postgres://u@%2Fpath%2Fto/db).
_db["HOST"] = unquote(str(_db.get("HOST") or ""))
_db["ENGINE"] = "django_tenants.postgresql_backend"
_db["CONN_MAX_AGE"] = _env_int("DB_CONN_MAX_AGE", 0)
_db["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME") or f"test_{_db['NAME']}"}
DATABASES = {"default": _db}
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]

# Queue: REDIS_URL, or jobs run in the web process (no Redis available at all).
REDIS_URL = os.environ.get("REDIS_URL", "").strip()
if REDIS_URL and urlsplit(REDIS_URL).scheme not in {"redis", "rediss", "unix"}:
    raise ImproperlyConfigured(
        f"REDIS_URL: {REDIS_URL!r} must be a redis://, rediss:// or unix:// URL."
    )
JOBS_IN_PROCESS = not REDIS_URL
# Without Redis, factortrace.jobs runs each job in the requesting process once its transaction commits.
JOB_QUEUES = ("default", "imports", "factors")
# A work-horse killed mid-job still runs the job's failure callback (factortrace/worker.py).
RQ = {"WORKER_CLASS": "factortrace.worker.Worker"}
# Run by each worker every minute with rq's maintenance: commits whose job died are failed.
WORKER_MAINTENANCE_TASKS = ["imports.jobs.import_runs_sweep_all"]
# Built by each worker before it forks a work-horse, which inherits them (factortrace/worker.py).
WORKER_WARMUP_TASKS = ["factors.library_index.library_warm"]
RQ_QUEUES = (
    {name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600} for name in JOB_QUEUES} if REDIS_URL else {}
)

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache"
        if REDIS_URL
        else "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": REDIS_URL or "factortrace",
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
    }
}

MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / ".local" / "media"))
MEDIA_URL = "/media/"
MULTITENANT_RELATIVE_MEDIA_ROOT = "%s"
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / ".local" / "staticfiles"
STATICFILES_DIRS: list[Any] = [BASE_DIR / "static"]
# Arelle's iXBRL viewer script (ixbrl-viewer, Apache-2.0), served by us as
# /static/ixbrlviewer/ixbrlviewer.js: the viewer pages of reports load nothing from elsewhere.
_IXBRL_VIEWER = importlib.util.find_spec("iXBRLViewerPlugin")
if _IXBRL_VIEWER is not None and _IXBRL_VIEWER.origin:
    STATICFILES_DIRS.append(("ixbrlviewer", Path(_IXBRL_VIEWER.origin).parent / "viewer" / "dist"))
WHITENOISE_USE_FINDERS = DEBUG
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django_tenants.files.storage.TenantFileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Cookies are host-only (no Domain attribute): a session from one tenant's host is never sent to another.
SESSION_COOKIE_DOMAIN = None
CSRF_COOKIE_DOMAIN = None
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = IS_PRODUCTION
CSRF_COOKIE_SECURE = IS_PRODUCTION
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie; Django's default
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if IS_PRODUCTION:
    # TLS ends at the proxy in front of gunicorn, which must set X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = _env_int("SECURE_HSTS_SECONDS", 31536000, minimum=3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True  # every tenant is a subdomain of BASE_DOMAIN
    SECURE_HSTS_PRELOAD = _env_bool("SECURE_HSTS_PRELOAD", default=True)

# Content-Security-Policy (django-csp): scripts, styles and images from our own origin only; no inline
# script or style anywhere (htmx is configured by the meta tag in base.html not to inject its own).
_TENANT_HOSTS = f"{PUBLIC_SCHEME}://*.{BASE_DOMAIN}" + (f":{PUBLIC_PORT}" if PUBLIC_PORT else "")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        # Sign-up posts on the public site and is redirected to the new tenant's host (browsers
        # apply form-action to redirects): our own hosts only.
        "form-action": ["'self'", _TENANT_HOSTS],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}

# Login and password-reset throttling (accounts/throttle.py), per tenant schema and client address.
LOGIN_FAILURE_LIMIT = _env_int("LOGIN_FAILURE_LIMIT", 10, minimum=1)
PASSWORD_RESET_LIMIT = _env_int("PASSWORD_RESET_LIMIT", 5, minimum=1)
LOGIN_LOCKOUT_MINUTES = _env_int("LOGIN_LOCKOUT_MINUTES", 60, minimum=1)
# The client address is REMOTE_ADDR, or the n-th address from the right of X-Forwarded-For when this
# many trusted proxies stand in front of the app (0: ignore the header, which anyone can forge).
TRUSTED_PROXY_COUNT = _env_int("TRUSTED_PROXY_COUNT", 1 if IS_PRODUCTION else 0)

# The health endpoint tells only ok / 503 on tenant hosts; the full detail (components, version) on the
# public (operator's) host, or anywhere with `Authorization: Bearer <HEALTH_TOKEN>`.
HEALTH_TOKEN = os.environ.get("HEALTH_TOKEN", "").strip()

EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if IS_PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", f"FactorTrace <no-reply@{BASE_DOMAIN}>")

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Imports: the upload limit is checked from Content-Length and while streaming.
IMPORT_MAX_BYTES = _env_int("IMPORT_MAX_BYTES", 50 * 1024 * 1024, minimum=1024)
# Every file is parsed in a child process: the memory it may add (MB), its CPU seconds, and the
# wall-clock seconds after which it is killed (imports/pipeline/isolate.py).
IMPORT_READ_MEMORY_MB = _env_int("IMPORT_READ_MEMORY_MB", 2048, minimum=64)
IMPORT_READ_CPU_SECONDS = _env_int("IMPORT_READ_CPU_SECONDS", 120, minimum=1)
IMPORT_READ_TIMEOUT_SECONDS = _env_int("IMPORT_READ_TIMEOUT_SECONDS", 180, minimum=1)
# Columns a file may have (the mapping page lists them all).
IMPORT_MAX_COLUMNS = _env_int("IMPORT_MAX_COLUMNS", 1000, minimum=10)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# The JSON API (api/): requests per token per minute (429 with Retry-After beyond), and the rows
# one JSON batch may carry (a bigger feed goes as a file, or in several batches).
API_RATE_LIMIT_PER_MINUTE = _env_int("API_RATE_LIMIT_PER_MINUTE", 120, minimum=1)
API_MAX_BATCH_ROWS = _env_int("API_MAX_BATCH_ROWS", 100_000, minimum=1)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# ESRS taxonomy packages are read from a folder (EFRAG's licence keeps them out of the repository):
# the ESRS Set 1 zip and the XII country stub, see ../shared/data/esrs_taxonomy/NOTES.md.
XBRL_TAXONOMY_DIR = os.environ.get("XBRL_TAXONOMY_DIR", "")
if XBRL_TAXONOMY_DIR and not Path(XBRL_TAXONOMY_DIR).is_dir():
    raise ImproperlyConfigured(f"XBRL_TAXONOMY_DIR: {XBRL_TAXONOMY_DIR!r} is not a directory.")
# Arelle validates each report in a child forked from a server that keeps the taxonomy loaded
# (reporting/validate.py); off: every report loads the taxonomy afresh (same verdict, slower).
ARELLE_WARM_SERVER = _env_bool("ARELLE_WARM_SERVER", default=True)

# Credits (billing/): packs sold through Stripe Checkout, the trial credit of a new workspace.
# BILLING_PACKS="key:credits:amount_in_cents,..." replaces the packs; the currency is one for all.
BILLING_CURRENCY = os.environ.get("BILLING_CURRENCY", "eur").strip().lower()
if len(BILLING_CURRENCY) != 3 or not BILLING_CURRENCY.isalpha():
    raise ImproperlyConfigured(f"BILLING_CURRENCY: {BILLING_CURRENCY!r} is not an ISO 4217 code.")
BILLING_TRIAL_CREDITS = _env_int("BILLING_TRIAL_CREDITS", 1)


def _packs(raw: str) -> dict[str, dict[str, int]]:
    packs: dict[str, dict[str, int]] = {}
    for item in raw.split(","):
        try:
            key, credits, amount = (part.strip() for part in item.split(":"))
            packs[key] = {"credits": int(credits), "amount": int(amount)}
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"BILLING_PACKS: {item!r} is not key:credits:amount_in_cents."
            ) from exc
        if not key.isidentifier() or packs[key]["credits"] < 1 or packs[key]["amount"] < 50:
            raise ImproperlyConfigured(f"BILLING_PACKS: {item!r} has a bad key, credits or amount.")
    return packs


# Amounts in cents of BILLING_CURRENCY: 1 credit EUR 350, 5 credits EUR 1,500, 20 credits EUR 5,000.
BILLING_PACKS = _packs(
    os.environ.get("BILLING_PACKS", "") or "one:1:35000,five:5:150000,twenty:20:500000"
)
# Stripe: no secret key -> the Billing page says payments are not configured. STRIPE_API_BASE points
# the real client at another server (the local stand-in, scripts/stripe_standin.py, in development).
STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "").strip()
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "").strip()
STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "").strip().rstrip("/")
# Seconds a webhook's signature timestamp may be off (Stripe's library default).
STRIPE_WEBHOOK_TOLERANCE = _env_int("STRIPE_WEBHOOK_TOLERANCE", 300, minimum=1)
if STRIPE_SECRET_KEY and not STRIPE_WEBHOOK_SECRET:
    raise ImproperlyConfigured(
        "STRIPE_WEBHOOK_SECRET: required with STRIPE_SECRET_KEY (webhooks cannot be verified)."
    )
if STRIPE_API_BASE and not STRIPE_API_BASE.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"STRIPE_API_BASE: {STRIPE_API_BASE!r} is not an http(s) URL.")
if IS_PRODUCTION and STRIPE_API_BASE.startswith("http://"):
    raise ImproperlyConfigured("STRIPE_API_BASE: must be https in production.")
# "Buy" posts to our host, which redirects to the checkout page: browsers apply form-action to that
# redirect, so Stripe's checkout host (or the stand-in's) is allowed as well.
_CHECKOUT_ORIGIN = (
    "{0.scheme}://{0.netloc}".format(urlsplit(STRIPE_API_BASE))
    if STRIPE_API_BASE
    else "https://checkout.stripe.com"
)
CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"].append(_CHECKOUT_ORIGIN)

SENTRY_DSN = os.environ.get("SENTRY_DSN", "").strip()
if SENTRY_DSN:
    if not SENTRY_DSN.startswith(("http://", "https://")):
        raise ImproperlyConfigured("SENTRY_DSN: must be an http(s) URL.")
    import sentry_sdk

    from factortrace.observability import sentry_before_send

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=ENVIRONMENT,
        release=VERSION,
        send_default_pii=False,
        before_send=sentry_before_send,  # type: ignore[arg-type]
        include_local_variables=False,
    )

# Prometheus /metrics: from these networks, or anywhere with `Authorization: Bearer <METRICS_TOKEN>`.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "").strip()
_metrics_networks = _env_list(
    "METRICS_ALLOWED_IPS", [] if IS_PRODUCTION else ["127.0.0.1/32", "::1/128"]
)
try:
    import ipaddress

    METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network(n, strict=False) for n in _metrics_networks]
except ValueError as exc:
    raise ImproperlyConfigured(f"METRICS_ALLOWED_IPS: {exc}") from exc

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL: {LOG_LEVEL!r} is not a logging level.")
# JSON lines (time, level, logger, message, tenant, user, request_id, job_id) in production, text in
# development.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "json" if IS_PRODUCTION else "text").strip().lower()
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"LOG_FORMAT: {LOG_FORMAT!r} is not json or text.")
# One JSON line per request (method, path, status, view, duration) from the web processes.
LOG_REQUESTS = _env_bool("LOG_REQUESTS", default=IS_PRODUCTION)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "factortrace.observability.ContextFilter"}},
    "formatters": {
        "json": {"()": "factortrace.logging.JsonFormatter"},
        "text": {"()": "factortrace.observability.TextFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "INFO"},
        "factortrace.audit": {"level": "INFO"},
    },
}
