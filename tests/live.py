"""A real Stepwise, started the way a user starts it: `manage.py serve` in a fresh data dir.

Used by end-to-end, API (official SDK) and browser tests. In the PostgreSQL + Redis configuration
(DATABASE_URL and REDIS_URL set), the live server gets a database of its own, dropped afterwards.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"
HEALTH_TOKEN = "live-test-health-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _admin_connection(database_url):
    import psycopg

    parsed = urlparse(database_url)
    admin_url = urlunparse(parsed._replace(path="/postgres"))
    return psycopg.connect(admin_url, autocommit=True)


class LiveStepwise:
    def __init__(self, data_dir: Path, *, workers: int = 1, extra_env: dict | None = None):
        self.data_dir = Path(data_dir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.workers = workers
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "webapp.settings",
            "STEPWISE_DATA_DIR": str(self.data_dir),
            "STEPWISE_HEARTBEAT_SECONDS": "1",
            "STEPWISE_WORKER_STALE_SECONDS": "6",
            "STEPWISE_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            "STEPWISE_HEALTH_TOKEN": HEALTH_TOKEN,
            **(extra_env or {}),
        }
        self._database = None
        if os.environ.get("DATABASE_URL"):
            self._database = f"stepwise_live_{uuid.uuid4().hex[:10]}"
            with _admin_connection(os.environ["DATABASE_URL"]) as conn:
                conn.execute(f'CREATE DATABASE "{self._database}"')
            parsed = urlparse(os.environ["DATABASE_URL"])
            self.env["DATABASE_URL"] = urlunparse(parsed._replace(path=f"/{self._database}"))
        self.log_path = self.data_dir / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 240):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # serve's output, for as long as it runs: closed in stop(), so not a `with` block.
        self._log = open(self.log_path, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "serve",
             "--port", str(self.port), "--workers", str(self.workers)],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.wait_for_workers(self.workers, timeout=timeout)
        return self

    def health(self) -> dict:
        """/readyz with the details a monitoring token sees."""
        request = urllib.request.Request(self.url + "/readyz", headers={"Authorization": f"Bearer {HEALTH_TOKEN}"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            return json.load(exc)

    def wait_for_workers(self, count: int, timeout: float = 240):
        assert self.process is not None, "start() first"
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                last = self.health()
                if last.get("workersAlive", 0) >= count:
                    return last
            except OSError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"Stepwise did not get {count} live worker(s) in {timeout}s: {last}\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def manage(self, *args, check=True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=self.env, capture_output=True,
            text=True, check=check, timeout=300,
        )

    def create_user(self, username: str, team: str, *, admin: bool = False, staff: bool = False) -> str:
        # One shell per user: the same service `add_to_team` uses, without a second Django start-up.
        code = (
            "from django.contrib.auth.models import User;"
            "from webapp.studio.services import team_add_member;"
            f"u=User.objects.create_user({username!r}, {username + '@example.com'!r}, {PASSWORD!r});"
            f"u.is_staff={staff!r}; u.is_superuser={staff!r}; u.save();"
            f"team_add_member(team_name={team!r}, user=u, admin={admin!r})"
        )
        self.manage("shell", "-c", code)
        return PASSWORD

    def restart(self, *, workers: int, timeout: float = 240):
        """Stop serve and start it again on the same data dir and database, as after a reboot."""
        self.stop(keep_data=True)
        self.workers = workers
        return self.start(timeout=timeout)

    def stop(self, keep_data: bool = False):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if getattr(self, "_log", None):
            self._log.close()
        if self._database and not keep_data:
            with _admin_connection(os.environ["DATABASE_URL"]) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self._database}" WITH (FORCE)')
