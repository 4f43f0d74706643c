"""This generation worker process: its identity, its one engine, its shutdown signal, its heartbeat.

A worker (`manage.py generation_worker`) runs one job at a time on one Engine (one pipeline cache),
so pipelines are never shared between threads. Its WorkerStatus row says it is alive; a row whose
heartbeat stops is how other workers notice it died (see webapp/jobs/recovery.py).
"""

import functools
import os
import socket
import threading

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from webapp.studio.models import WorkerStatus

WORKER_ID = os.environ.get("STEPWISE_WORKER_ID") or f"{socket.gethostname()}-{os.getpid()}"
# Set on SIGTERM/SIGINT: the running generation stops at its next step and goes back in the queue.
SHUTDOWN = threading.Event()


@functools.cache
def engine():
    """The process's one Engine, created on first use by the worker's (only) job thread."""
    from generation.engine import Engine  # torch and diffusers: only ever loaded in a worker

    return Engine(device=settings.STEPWISE_DEVICE, cache_size=settings.STEPWISE_PIPELINE_CACHE_SIZE)


def register(*, device: str) -> None:
    WorkerStatus.objects.update_or_create(
        worker_id=WORKER_ID,
        defaults={"hostname": socket.gethostname(), "pid": os.getpid(), "device": device,
                  "last_heartbeat": timezone.now(), "current_job": None},
    )


def heartbeat(*, engine=None) -> None:
    WorkerStatus.objects.filter(worker_id=WORKER_ID).update(
        last_heartbeat=timezone.now(), loaded_models=engine.loaded_models() if engine else []
    )


def unregister() -> None:
    WorkerStatus.objects.filter(worker_id=WORKER_ID).delete()


def job_started(*, job_id) -> None:
    WorkerStatus.objects.filter(worker_id=WORKER_ID).update(current_job_id=job_id)


def job_done() -> None:
    WorkerStatus.objects.filter(worker_id=WORKER_ID).update(current_job=None, jobs_done=F("jobs_done") + 1)
