"""Stepwise settings: everything that differs between machines comes from the environment.

The embedded default needs no servers: SQLite in WAL mode, django-tasks-db for the queue, a
SQLite-backed channel layer and files on local disk. Setting DATABASE_URL and REDIS_URL moves the
whole app to PostgreSQL and Redis without a code change.
"""

import os
import secrets
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

DATA_UPLOAD_MAX_MEMORY_SIZE = 40 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 40 * 1024 * 1024

# Stepwise -------------------------------------------------------------------------------------

STEPWISE_DEVICE = os.environ.get("STEPWISE_DEVICE", "auto")
if STEPWISE_DEVICE not in ("auto", "cpu") and not STEPWISE_DEVICE.startswith("cuda"):
    raise ImproperlyConfigured(f"STEPWISE_DEVICE must be auto, cpu or cuda[:N], not {STEPWISE_DEVICE!r}")
STEPWISE_MODELS_DIR = DATA_DIR / "models"
STEPWISE_PIPELINE_CACHE_SIZE = envint("STEPWISE_PIPELINE_CACHE_SIZE", 2)
STEPWISE_MAX_UPLOAD_BYTES = envint("STEPWISE_MAX_UPLOAD_BYTES", 20 * 1024 * 1024)
STEPWISE_MAX_IMAGE_PIXELS = envint("STEPWISE_MAX_IMAGE_PIXELS", 4096 * 4096)
STEPWISE_MAX_QUEUED_PER_USER = envint("STEPWISE_MAX_QUEUED_PER_USER", 100)
STEPWISE_WORKER_STALE_SECONDS = envint("STEPWISE_WORKER_STALE_SECONDS", 30)
STEPWISE_HEARTBEAT_SECONDS = envfloat("STEPWISE_HEARTBEAT_SECONDS", 5)
STEPWISE_GPU_HOUR_PRICE = envfloat("STEPWISE_GPU_HOUR_PRICE", 0.0)
STEPWISE_ALLOW_URL_FETCH = envbool("STEPWISE_ALLOW_URL_FETCH", False)
STEPWISE_SIGNED_URL_SECONDS = envint("STEPWISE_SIGNED_URL_SECONDS", 24 * 3600)
STEPWISE_PUBLIC_URL = os.environ.get("STEPWISE_PUBLIC_URL", "")  # absolute image URLs behind a proxy
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
