"""Deployment settings: login throttling, the Content Security Policy, HTTPS and proxy switches, umask.

Before the fix there was no throttling, no CSP and no HTTPS settings, proxy headers were always
trusted (Daphne's --proxy-headers), and the data dir and media were world-readable.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

from django.urls import reverse

from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
AXES_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]


def _login(client, password):
    return client.post(reverse("login"), {"username": "alice", "password": password}, REMOTE_ADDR="203.0.113.9")


def test_logins_are_throttled_per_username_and_address(client, alice, settings):
    settings.AUTHENTICATION_BACKENDS = AXES_BACKENDS
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(2):
        assert _login(client, "wrong").status_code == 200  # the form again, with its error
    assert _login(client, "wrong").status_code == 429  # the third failure locks
    # Locked: even the right password is refused now, from this address.
    response = _login(client, PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    # alice from elsewhere is not locked out by someone guessing her password.
    other = client.post(reverse("login"), {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="198.51.100.7")
    assert other.status_code == 302


def test_every_page_carries_the_content_security_policy(client, alice, builtin_model):
    client.login(username="alice", password=PASSWORD)
    for url in ("/", "/create/text-to-image/", "/gallery/", "/jobs/", "/account/", "/guide/", "/docs/api/"):
        policy = client.get(url)["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy.split("script-src", 1)[1].split(";", 1)[0]


def test_templates_have_no_inline_scripts_or_handlers():
    """script-src 'self' refuses inline code: every script is a file (the browser tests see it run)."""
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag or "application/json" in tag, f"{path.name}: inline script {tag}"
        assert not re.search(r"\son[a-z]+=\"", text), f"{path.name}: inline event handler"


def _settings_in_subprocess(env: dict, code: str) -> str:
    full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings", **env}
    return subprocess.run([sys.executable, "-c", "import django; django.setup(); " + code],
                          cwd=ROOT, env=full_env, capture_output=True, text=True, check=True).stdout


def test_one_variable_turns_on_the_https_settings(tmp_path):
    code = ("from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
            "s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT, s.SECURE_PROXY_SSL_HEADER)")
    off = _settings_in_subprocess({"STEPWISE_DATA_DIR": str(tmp_path)}, code)
    assert off.split() == ["False", "False", "0", "False", "None"]
    on = _settings_in_subprocess({"STEPWISE_DATA_DIR": str(tmp_path), "STEPWISE_HTTPS": "true",
                                  "STEPWISE_TRUST_PROXY": "true"}, code)
    assert on.startswith("True True 31536000 True ('HTTP_X_FORWARDED_PROTO', 'https')")


def test_forwarded_headers_are_honoured_only_when_trusted(settings):
    from webapp.studio.management.commands.serve import web_server_argv

    settings.STEPWISE_TRUST_PROXY = False
    argv = web_server_argv(host="127.0.0.1", port=8000)
    assert "--no-proxy-headers" in argv and "--proxy-headers" not in argv
    assert "uvicorn" in argv  # streams bodies; Daphne buffered them whole
    settings.STEPWISE_TRUST_PROXY = True
    settings.STEPWISE_PROXY_IPS = "10.0.0.5"
    argv = web_server_argv(host="127.0.0.1", port=8000)
    assert argv[argv.index("--forwarded-allow-ips") + 1] == "10.0.0.5"


def test_data_and_media_files_are_private_to_the_service_user(tmp_path):
    code = ("from django.core.files.storage import default_storage; from django.core.files.base import ContentFile;"
            "import os, stat; name = default_storage.save('uploads/x.png', ContentFile(b'x'));"
            "from django.conf import settings as s;"
            "mode = lambda p: oct(stat.S_IMODE(os.stat(p).st_mode));"
            "print(mode(default_storage.path(name)), mode(s.DATA_DIR), mode(s.DATA_DIR / 'secret_key'))")
    data_dir = tmp_path / "data"
    out = _settings_in_subprocess({"STEPWISE_DATA_DIR": str(data_dir)}, code)
    assert out.split() == ["0o600", "0o700", "0o600"]
