"""Test settings: the real settings, on a throwaway data dir so tests never touch ./var."""

import os
import tempfile

os.environ.setdefault("STEPWISE_DATA_DIR", tempfile.mkdtemp(prefix="stepwise-test-"))

from webapp.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
STEPWISE_HEARTBEAT_SECONDS = 1
# Heavy /v1 work on the shared database thread: most tests roll back a transaction that another
# thread's connection cannot see. tests/api/test_bounds.py turns the pool on, with committed data.
STEPWISE_HEAVY_THREADS = 0
# The test client's login() calls authenticate() without a request, which django-axes' backend
# refuses: tests sign in with the model backend; tests/test_security.py puts axes back.
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
SILENCED_SYSTEM_CHECKS = ["axes.W003"]
