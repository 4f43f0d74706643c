"""Stepwise settings: everything that differs between machines comes from the environment.

The embedded default needs no servers: SQLite in WAL mode, django-tasks-db for the queue, a
SQLite-backed channel layer and files on local disk. Setting DATABASE_URL and REDIS_URL moves the
whole app to PostgreSQL and Redis without a code change.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def envint(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def envfloat(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from None


# Files this service writes (the database, media, the secret key) are for the service user alone:
# a umask of 077 unless STEPWISE_UMASK (octal) says otherwise. `manage.py serve` also tightens a data
# dir and media dir that an older version left open.
try:
    STEPWISE_UMASK = int(os.environ.get("STEPWISE_UMASK") or "077", 8)
except ValueError:
    value = os.environ["STEPWISE_UMASK"]
    raise ImproperlyConfigured(f"STEPWISE_UMASK must be octal, such as 077, not {value!r}") from None
os.umask(STEPWISE_UMASK)

DATA_DIR = Path(os.environ.get("STEPWISE_DATA_DIR") or BASE_DIR / "var").resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key():
    # A generated key kept in the data dir: no default secret ships, and restarts keep sessions.
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = envbool("DEBUG", False)
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h.strip()
]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "django_tasks",
    "django_tasks_db",
    "webapp.studio",
    "webapp.jobs",
    "webapp.api",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "webapp.security.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "webapp.urls"
ASGI_APPLICATION = "webapp.asgi.application"

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
                "webapp.studio.context_processors.studio",
            ],
        },
    },
]

# Databases ------------------------------------------------------------------------------------

SQLITE_OPTIONS = {
    # WAL lets the web server read while a worker writes; IMMEDIATE avoids lock-upgrade deadlocks
    # between the web process and the workers.
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
}

DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "stepwise.sqlite3"),
            "OPTIONS": SQLITE_OPTIONS,
            "TEST": {"NAME": DATA_DIR / "test-stepwise.sqlite3"},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Channel layer: Redis when configured, else a SQLite file that every process on this machine
# shares (the in-memory layer would not reach across the web/worker process boundary).
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # channels_redis blocks up to 5 s per receive; redis-py's default 5 s socket timeout would
            # race it and kill the websocket, so reads may take longer.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": 30, "socket_connect_timeout": 5}],
                "capacity": 1000,
                "expiry": 60,
            },
        }
    }
else:
    INSTALLED_APPS.append("channels_lite")
    DATABASES["channels"] = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(DATA_DIR / "channels.sqlite3"),
        "OPTIONS": SQLITE_OPTIONS,
        "TEST": {"NAME": DATA_DIR / "test-channels.sqlite3"},
    }
    DATABASE_ROUTERS = ["channels_lite.router.ChannelsRouter"]
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_lite.layers.core.SQLiteChannelLayer",
            "CONFIG": {"database": "channels", "capacity": 1000, "expiry": 60, "polling_interval": 0.05},
        }
    }

# Queue: django-tasks with the database backend; the GPU work has a queue of its own.
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", "generation"],
    }
}

# Auth -----------------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Login throttling (django-axes): after STEPWISE_LOGIN_FAILURES failed logins for one username from
# one address, that pair is refused for STEPWISE_LOGIN_COOLOFF_MINUTES. Keyed on the pair so that an
# attacker cannot lock a user out from everywhere; the address is the client's, or the proxy's
# X-Forwarded-For where STEPWISE_TRUST_PROXY says it can be believed (uvicorn rewrites it).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = envint("STEPWISE_LOGIN_FAILURES", 5)
AXES_COOLOFF_TIME = timedelta(minutes=envint("STEPWISE_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Static and media -----------------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# Media is never served from a public URL: it goes through views that check access.
MEDIA_ROOT = Path(os.environ.get("STEPWISE_MEDIA_DIR") or DATA_DIR / "media").resolve()
MEDIA_URL = "/media-not-served/"
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
if os.environ.get("STEPWISE_S3_BUCKET"):
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": os.environ["STEPWISE_S3_BUCKET"],
            "endpoint_url": os.environ.get("STEPWISE_S3_ENDPOINT_URL") or None,
            "default_acl": None,
            "querystring_auth": True,
        },
    }
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG


# Deployment: HTTPS, proxies, headers -----------------------------------------------------------

# Behind a reverse proxy: honour X-Forwarded-For/-Proto (uvicorn --proxy-headers) only when this is
# on, and only from STEPWISE_PROXY_IPS (comma-separated addresses or networks; "*" trusts any).
STEPWISE_TRUST_PROXY = envbool("STEPWISE_TRUST_PROXY", False)
STEPWISE_PROXY_IPS = os.environ.get("STEPWISE_PROXY_IPS", "127.0.0.1")
# Served over HTTPS (directly or by the proxy): one switch for Secure cookies, HSTS, the redirect to
# https and, with a trusted proxy, its X-Forwarded-Proto header.
STEPWISE_HTTPS = envbool("STEPWISE_HTTPS", False)
if STEPWISE_HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = envint("STEPWISE_HSTS_SECONDS", 365 * 24 * 3600)
    SECURE_SSL_REDIRECT = envbool("STEPWISE_SSL_REDIRECT", True)
    # Load balancers probe over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    if STEPWISE_TRUST_PROXY:
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# No inline scripts, nothing from other origins; previews are data: URIs, masks blob: URLs.
STEPWISE_CSP = os.environ.get("STEPWISE_CSP") or (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)

# Stepwise -------------------------------------------------------------------------------------

STEPWISE_DEVICE = os.environ.get("STEPWISE_DEVICE", "auto")
if STEPWISE_DEVICE not in ("auto", "cpu") and not STEPWISE_DEVICE.startswith("cuda"):
    raise ImproperlyConfigured(f"STEPWISE_DEVICE must be auto, cpu or cuda[:N], not {STEPWISE_DEVICE!r}")
STEPWISE_MODELS_DIR = DATA_DIR / "models"
STEPWISE_PIPELINE_CACHE_SIZE = envint("STEPWISE_PIPELINE_CACHE_SIZE", 2)
STEPWISE_MAX_UPLOAD_BYTES = envint("STEPWISE_MAX_UPLOAD_BYTES", 20 * 1024 * 1024)
# Whole request bodies (webapp/body_limit.py refuses larger ones before reading them): room for a seed
# and a mask image as base64 in one /v1 body, or as two files in one form.
STEPWISE_MAX_REQUEST_BYTES = envint("STEPWISE_MAX_REQUEST_BYTES", STEPWISE_MAX_UPLOAD_BYTES * 3 + 1024 * 1024)
# Django's own check (request.body, form fields) at the same figure; uploaded files above 2.5 MB are
# spooled to disk by Django rather than held in memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = STEPWISE_MAX_REQUEST_BYTES
# None: media files and folders get the umask's modes (Django's default would be 0644 whatever the umask).
FILE_UPLOAD_PERMISSIONS = None
FILE_UPLOAD_DIRECTORY_PERMISSIONS = None
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
STEPWISE_MAX_IMAGE_PIXELS = envint("STEPWISE_MAX_IMAGE_PIXELS", 4096 * 4096)
# Uploaded source images per user (admins can set another figure per user); unreferenced uploads
# older than the retention are deleted by `manage.py cleanup` and, every CLEANUP_SECONDS, the worker.
STEPWISE_UPLOAD_QUOTA_MB = envint("STEPWISE_UPLOAD_QUOTA_MB", 500)
STEPWISE_UPLOAD_RETENTION_HOURS = envint("STEPWISE_UPLOAD_RETENTION_HOURS", 24)
STEPWISE_CLEANUP_SECONDS = envint("STEPWISE_CLEANUP_SECONDS", 3600)
STEPWISE_MAX_QUEUED_PER_USER = envint("STEPWISE_MAX_QUEUED_PER_USER", 100)
STEPWISE_WORKER_STALE_SECONDS = envint("STEPWISE_WORKER_STALE_SECONDS", 30)
STEPWISE_HEARTBEAT_SECONDS = envfloat("STEPWISE_HEARTBEAT_SECONDS", 5)
STEPWISE_GPU_HOUR_PRICE = envfloat("STEPWISE_GPU_HOUR_PRICE", 0.0)
# Per-step previews kept for the replay scrubber: how many days (0: keep none).
STEPWISE_STEP_PREVIEW_DAYS = envint("STEPWISE_STEP_PREVIEW_DAYS", 30)
STEPWISE_ALLOW_URL_FETCH = envbool("STEPWISE_ALLOW_URL_FETCH", False)
STEPWISE_SIGNED_URL_SECONDS = envint("STEPWISE_SIGNED_URL_SECONDS", 24 * 3600)
STEPWISE_PUBLIC_URL = os.environ.get("STEPWISE_PUBLIC_URL", "")  # absolute image URLs behind a proxy
# Open websockets re-check that their user (and API key) still has access this often.
STEPWISE_ACCESS_CHECK_SECONDS = envfloat("STEPWISE_ACCESS_CHECK_SECONDS", 5)
# /v1 bounds: tasks in one message or body; websocket messages before authentication; threads for
# heavy work (large JSON, image decoding, uploads, URL fetches), apart from the one every socket's
# database work shares.
STEPWISE_API_MAX_TASKS = envint("STEPWISE_API_MAX_TASKS", 50)
STEPWISE_API_UNAUTHENTICATED_BYTES = envint("STEPWISE_API_UNAUTHENTICATED_BYTES", 16 * 1024)
STEPWISE_HEAVY_THREADS = envint("STEPWISE_HEAVY_THREADS", 4)
# /readyz shows workers, hosts and jobs to staff and to callers with this bearer token (monitoring).
STEPWISE_HEALTH_TOKEN = os.environ.get("STEPWISE_HEALTH_TOKEN", "")
STEPWISE_API_SESSION_SECONDS = envint("STEPWISE_API_SESSION_SECONDS", 300)
STEPWISE_API_IDLE_SECONDS = envint("STEPWISE_API_IDLE_SECONDS", 120)
STEPWISE_API_SYNC_TIMEOUT = envint("STEPWISE_API_SYNC_TIMEOUT", 600)
STEPWISE_API_POLL_SECONDS = envfloat("STEPWISE_API_POLL_SECONDS", 2)
STEPWISE_URL_FETCH_TIMEOUT = envfloat("STEPWISE_URL_FETCH_TIMEOUT", 15)
STEPWISE_URL_FETCH_ALLOW_PRIVATE = envbool("STEPWISE_URL_FETCH_ALLOW_PRIVATE", False)
# Webhook POSTs and uploadEndpoint PUTs (webapp/studio/outbound.py): each attempt's timeout, the
# retries after a failed one, and the first wait between attempts (doubled each time).
STEPWISE_OUTBOUND_TIMEOUT = envfloat("STEPWISE_OUTBOUND_TIMEOUT", 10)
STEPWISE_OUTBOUND_RETRIES = envint("STEPWISE_OUTBOUND_RETRIES", 3)
STEPWISE_OUTBOUND_BACKOFF = envfloat("STEPWISE_OUTBOUND_BACKOFF", 1.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "stepwise": {"level": os.environ.get("STEPWISE_LOG_LEVEL", "INFO"), "propagate": True},
    },
}
