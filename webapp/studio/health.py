"""GET /healthz: is the app able to do its work right now? JSON for load balancers and humans."""

import asyncio
import contextvars
import logging
import time

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from webapp.studio.models import Job, WorkerStatus

logger = logging.getLogger("stepwise.health")


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False


async def _round_trip(layer) -> None:
    channel = await layer.new_channel("healthz.")
    await layer.send(channel, {"type": "healthz.ping"})
    await asyncio.wait_for(layer.receive(channel), timeout=3)


async def _channel_layer_ok() -> bool:
    try:
        # A fresh context: a layer may start a long-lived polling task on first receive, and it must not
        # inherit this request's thread executor, which dies with the request.
        task = asyncio.get_running_loop().create_task(_round_trip(get_channel_layer()), context=contextvars.Context())
        await task
        return True
    except Exception:
        logger.warning("Channel layer round trip failed", exc_info=True)
        return False


@require_GET
async def healthz(request):
    # Async: the channel layer's receive is bound to one event loop, the server's.
    started = time.monotonic()
    channel_layer = await _channel_layer_ok()
    body = await sync_to_async(_report)(started, channel_layer)
    return JsonResponse(body, status=200 if body["status"] != "error" else 503)


def _report(started, channel_layer):
    database = _database_ok()
    workers = []
    queue_depth: int | None = None
    running: int | None = None
    if database:
        stale_after = settings.STEPWISE_WORKER_STALE_SECONDS
        now = timezone.now()
        for worker in WorkerStatus.objects.order_by("worker_id"):
            age = (now - worker.last_heartbeat).total_seconds()
            workers.append({
                "id": worker.worker_id,
                "hostname": worker.hostname,
                "pid": worker.pid,
                "device": worker.device,
                "lastHeartbeat": worker.last_heartbeat.isoformat(),
                "secondsSinceHeartbeat": round(age, 1),
                "alive": age <= stale_after,
                "currentJob": str(worker.current_job_id) if worker.current_job_id else None,
                "loadedModels": worker.loaded_models,
                "jobsDone": worker.jobs_done,
            })
        queue_depth = Job.objects.filter(status=Job.Status.QUEUED).count()
        running = Job.objects.filter(status=Job.Status.RUNNING).count()
    alive = [w for w in workers if w["alive"]]
    ok = database and channel_layer
    body = {
        "status": "ok" if ok and alive else ("degraded" if ok else "error"),
        "database": "ok" if database else "unreachable",
        "channelLayer": "ok" if channel_layer else "unreachable",
        "workers": workers,
        "workersAlive": len(alive),
        "queueDepth": queue_depth,
        "running": running,
        "checkedInMs": round((time.monotonic() - started) * 1000, 1),
    }
    return body
