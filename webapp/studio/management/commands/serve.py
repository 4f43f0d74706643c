"""One command runs Stepwise: migrations, the built-in model, the web server and N workers.

The web server (uvicorn, which streams request bodies to the app instead of buffering them whole as
Daphne does) and every worker are child processes; this process only supervises. It never
imports torch: the model is provisioned and the workers run in their own processes.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

RESTART_BACKOFF = [1, 2, 5, 10, 30]


def _make_private(folder: Path) -> None:
    """A data or media folder others can read becomes the service user's alone (files written
    before the umask existed stay 0644, but nobody else can reach them through the folder)."""
    if folder.is_dir() and folder.stat().st_uid == os.getuid() and folder.stat().st_mode & 0o077:
        folder.chmod(0o700)


def web_server_argv(*, host: str, port: int) -> list[str]:
    """The uvicorn command line.

    - Websocket messages: API clients send source images inside them (base64, a third larger, a seed
      plus a mask in one task), so the server-wide cap is the request-body limit; until a socket has
      authenticated the API consumer refuses anything above STEPWISE_API_UNAUTHENTICATED_BYTES.
    - Forwarded headers (client address, scheme) only with STEPWISE_TRUST_PROXY, and only from the
      addresses in STEPWISE_PROXY_IPS: otherwise any client could claim to be anyone.
    """
    argv = [sys.executable, "-m", "uvicorn", "webapp.asgi:application", "--host", host, "--port", str(port),
            "--ws-max-size", str(settings.STEPWISE_MAX_REQUEST_BYTES), "--lifespan", "off",
            "--timeout-graceful-shutdown", "10", "--no-server-header"]
    if settings.STEPWISE_TRUST_PROXY:
        argv += ["--proxy-headers", "--forwarded-allow-ips", settings.STEPWISE_PROXY_IPS]
    else:
        argv += ["--no-proxy-headers"]
    return argv


class Command(BaseCommand):
    help = "Apply migrations, provision the built-in model, start the web server and generation workers."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("STEPWISE_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("STEPWISE_PORT", "8000")))
        parser.add_argument("--workers", type=int, default=1, help="Generation worker processes (0 for none).")

    def handle(self, *, host, port, workers, **options):
        """1. Migrate.  2. Provision the built-in model.  3. Start uvicorn and the workers.
        4. Supervise: restart dead workers, stop everything on Ctrl-C or SIGTERM."""
        if workers < 0:
            raise CommandError("--workers must be 0 or more")
        _make_private(settings.DATA_DIR)
        _make_private(Path(settings.MEDIA_ROOT))
        # 1. Database
        for alias in settings.DATABASES:  # the SQLite channel layer keeps its own database
            call_command("migrate", database=alias, interactive=False, verbosity=0)
        # 2. Built-in model: the shipped weights, copied into the data directory when missing or older
        call_command("provision_builtin", verbosity=0)
        # 3. Children
        self.stopping = False
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        web = self._spawn(web_server_argv(host=host, port=port))
        gpus = [g for g in os.environ.get("STEPWISE_GPUS", "").split(",") if g.strip()]
        slots = {}
        for index in range(workers):
            slots[index] = {"process": self._spawn_worker(index, gpus), "failures": 0, "restart_at": None}
        url = f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}/"
        self.stdout.write(self.style.SUCCESS(f"Stepwise is running at {url}  ({workers} worker(s); Ctrl-C to stop)"))
        if not get_user_model().objects.exists():
            self.stdout.write("No user yet. Create the first admin in another terminal:\n"
                              "    .venv/bin/python manage.py createsuperuser")
        # 4. Supervise
        try:
            while not self.stopping:
                time.sleep(0.5)
                if web.poll() is not None:
                    raise CommandError(f"The web server exited with code {web.returncode}")
                for index, slot in slots.items():
                    self._supervise_worker(index, slot, gpus)
        finally:
            self._stop_all([web] + [s["process"] for s in slots.values() if s["process"]])
        self.stdout.write("Stopped.")

    def _request_stop(self, signum, frame):
        self.stopping = True

    def _spawn(self, argv, env=None):
        # Own process group: a Ctrl-C reaches this supervisor, which then stops the children in order.
        return subprocess.Popen(argv, env=env, start_new_session=True)

    def _spawn_worker(self, index, gpus):
        env = dict(os.environ)
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = gpus[index % len(gpus)].strip()
        return self._spawn([sys.executable, str(settings.BASE_DIR / "manage.py"), "generation_worker"], env=env)

    def _supervise_worker(self, index, slot, gpus):
        process = slot["process"]
        now = time.monotonic()
        if process is not None and process.poll() is None:
            return
        if process is not None:
            # It died: restart it, backing off when it keeps dying.
            delay = RESTART_BACKOFF[min(slot["failures"], len(RESTART_BACKOFF) - 1)]
            self.stderr.write(f"Worker {index} exited with code {process.returncode}; restarting in {delay}s")
            slot.update(process=None, failures=slot["failures"] + 1, restart_at=now + delay)
        elif now >= slot["restart_at"]:
            slot["process"] = self._spawn_worker(index, gpus)

    def _stop_all(self, processes, grace=15):
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
