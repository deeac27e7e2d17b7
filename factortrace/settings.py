"""FactorTrace settings: every value comes from the environment, with a safe development default.

A bad value raises ImproperlyConfigured naming the variable, at import time, so a misconfigured
process never starts.
"""

from __future__ import annotations

import os
from pathlib import Path
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

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if IS_PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY: required when ENVIRONMENT=production.")
    SECRET_KEY = "dev-only-insecure-key-never-used-in-production"  # noqa: S105
elif IS_PRODUCTION and len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY: must be at least 50 characters in production.")

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
CSRF_TRUSTED_ORIGINS = _env_list(
    "CSRF_TRUSTED_ORIGINS",
    [
        f"{PUBLIC_SCHEME}://{BASE_DOMAIN}:{PUBLIC_PORT}",
        f"{PUBLIC_SCHEME}://*.{BASE_DOMAIN}:{PUBLIC_PORT}",
    ]
    if PUBLIC_PORT
    else [f"{PUBLIC_SCHEME}://{BASE_DOMAIN}", f"{PUBLIC_SCHEME}://*.{BASE_DOMAIN}"],
)
for _origin in CSRF_TRUSTED_ORIGINS:
    if not _origin.startswith(("http://", "https://")):
        raise ImproperlyConfigured(
            f"CSRF_TRUSTED_ORIGINS: {_origin!r} must start with http:// or https://."
        )

SHARED_APPS = [
    "django_tenants",
    "tenants",
    "factors",
    "accounts",
    "factortrace",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "django_rq",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "accounts",
    "emissions",
    "imports",
]
INSTALLED_APPS = list(SHARED_APPS) + [a for a in TENANT_APPS if a not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "factortrace.urls_public"
ROOT_URLCONF = "factortrace.urls_tenant"
SHOW_PUBLIC_IF_NO_TENANT_FOUND = False
AUTH_USER_MODEL = "accounts.User"

MIDDLEWARE = [
    "factortrace.middleware.HealthCheckMiddleware",
    "django_tenants.middleware.main.TenantMainMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "tenants.middleware.TenantLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.TenantSessionGuardMiddleware",
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
STATICFILES_DIRS = [BASE_DIR / "static"]
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
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if IS_PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = 31536000

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
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# ESRS taxonomy packages are read from a folder (EFRAG's licence keeps them out of the repository).
XBRL_TAXONOMY_DIR = os.environ.get("XBRL_TAXONOMY_DIR", "")
if XBRL_TAXONOMY_DIR and not Path(XBRL_TAXONOMY_DIR).is_dir():
    raise ImproperlyConfigured(f"XBRL_TAXONOMY_DIR: {XBRL_TAXONOMY_DIR!r} is not a directory.")

SENTRY_DSN = os.environ.get("SENTRY_DSN", "").strip()
if SENTRY_DSN:
    if not SENTRY_DSN.startswith(("http://", "https://")):
        raise ImproperlyConfigured("SENTRY_DSN: must be an http(s) URL.")
    import sentry_sdk

    sentry_sdk.init(
        dsn=SENTRY_DSN, environment=ENVIRONMENT, release=VERSION, send_default_pii=False
    )

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL: {LOG_LEVEL!r} is not a logging level.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "factortrace.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "INFO"},
        "factortrace.audit": {"level": "INFO"},
    },
}
