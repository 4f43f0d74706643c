"""A GPU worker: the django-tasks-db worker for the generation queue, with one warm Engine.

Runs alone on any machine that reaches the database and the channel layer (and the media storage):
    CUDA_VISIBLE_DEVICES=1 python manage.py generation_worker
"""

import logging
import signal
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection
from django_tasks_db.management.commands.db_worker import Worker

from webapp.jobs import cleanup, outbound, recovery, runner, worker
from webapp.studio.models import ModelEntry

logger = logging.getLogger("stepwise.worker")


class GenerationWorker(Worker):
    def shutdown(self, signum, frame):
        # Let the running generation stop at its next step and return to the queue, instead of
        # finishing a long job while the supervisor waits.
        worker.SHUTDOWN.set()
        super().shutdown(signum, frame)


class Command(BaseCommand):
    help = "Run a generation worker: loads models once, keeps them warm, runs one job at a time."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=0.25, help="Seconds between queue polls when idle.")
        parser.add_argument("--no-warmup", action="store_true", help="Don't preload the default model.")
        parser.add_argument("--max-tasks", type=int, default=None, help="Exit after this many jobs.")

    def handle(self, *, interval, no_warmup, max_tasks, verbosity, **options):
        """1. Start the engine on its device.  2. Register and start the heartbeat.
        3. Warm the default model.  4. Claim and run jobs until told to stop."""
        logging.getLogger("stepwise").setLevel(logging.INFO if verbosity else logging.WARNING)
        # 1. Engine
        engine = worker.engine()
        device = engine.describe_device()
        # 2. Heartbeat
        worker.register(device=device)
        stop = threading.Event()
        _start_heartbeat(stop, engine)
        self.stdout.write(f"Worker {worker.WORKER_ID} ready on {device}", self.style.SUCCESS)
        try:
            # 3. Warm-up: the first job should not pay for loading the default model.
            default = ModelEntry.objects.filter(is_default=True, enabled=True, kind=ModelEntry.Kind.CHECKPOINT).first()
            if default and not no_warmup:
                try:
                    seconds = engine.load(runner.model_source(default))
                    self.stdout.write(f"Loaded {default.air} in {seconds:.1f}s")
                    worker.heartbeat(engine=engine)
                except Exception as exc:  # a broken default model must not stop the worker
                    logger.warning("Could not preload %s: %s", default.air, exc)
            # 4. Jobs
            tasks_worker = GenerationWorker(
                queue_names=["generation"], interval=interval, batch=False, backend_name="default",
                startup_delay=False, max_tasks=max_tasks, worker_id=worker.WORKER_ID[:64], excluded_queue_names=[],
            )
            tasks_worker.configure_signals()
            tasks_worker.run()
        finally:
            stop.set()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            # Webhook POSTs already started finish (each is bounded by its timeout and retries).
            try:
                outbound.wait_idle(timeout=120)
            except Exception:
                logger.warning("Some webhook deliveries did not finish before the worker stopped", exc_info=True)
            worker.unregister()


def _start_heartbeat(stop: threading.Event, engine) -> threading.Thread:
    """Refresh this worker's row, recover jobs of workers that stopped beating, and now and then
    delete unreferenced uploads (every STEPWISE_CLEANUP_SECONDS; 0 turns it off)."""

    def loop():
        next_cleanup = time.monotonic() + settings.STEPWISE_CLEANUP_SECONDS
        while not stop.wait(settings.STEPWISE_HEARTBEAT_SECONDS):
            try:
                close_old_connections()
                worker.heartbeat(engine=engine)
                recovery.recover_stale_jobs()
                if settings.STEPWISE_CLEANUP_SECONDS and time.monotonic() >= next_cleanup:
                    next_cleanup = time.monotonic() + settings.STEPWISE_CLEANUP_SECONDS
                    report = cleanup.uploads_cleanup()
                    if report.uploads or report.orphan_files:
                        logger.info("%s", report)
            except Exception:
                logger.warning("Heartbeat failed; retrying", exc_info=True)
        connection.close()

    thread = threading.Thread(target=loop, name="heartbeat", daemon=True)
    thread.start()
    return thread
