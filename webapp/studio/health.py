"""Health checks for load balancers, orchestrators and humans.

- `GET /healthz`, liveness: the web process answers. It touches neither the database nor the channel
  layer, so a busy database never gets a healthy server restarted.
- `GET /readyz`, readiness: the database answers and the channel layer accepts a message; 503 when
  either does not, "degraded" (200) when no worker is alive. Everyone gets the status alone; staff,
  or a caller with `Authorization: Bearer $STEPWISE_HEALTH_TOKEN`, also get the workers (hosts,
  pids, loaded models, current jobs) and the queue.

The channel-layer check only sends. It used to send and then receive on a fresh channel within 3 s;
under load the receive waits behind every other consumer of the layer, and a healthy server answered
503 (reproduced after 8 concurrent API jobs on PostgreSQL + Redis). A send proves the layer is reachable
and accepting; the message expires unread.
"""

import asyncio
import contextvars
import hmac
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
CHANNEL_LAYER_TIMEOUT = 5


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False


async def _send_one(layer) -> None:
    channel = await layer.new_channel("healthz.")
    await layer.send(channel, {"type": "healthz.ping"})


async def _channel_layer_ok() -> bool:
    try:
        # A fresh context: a layer may start long-lived tasks on first use, and they must not inherit
        # this request's thread executor, which dies with the request.
        task = asyncio.get_running_loop().create_task(_send_one(get_channel_layer()), context=contextvars.Context())
        await asyncio.wait_for(task, timeout=CHANNEL_LAYER_TIMEOUT)
        return True
    except Exception:
        logger.warning("Channel layer send failed", exc_info=True)
        return False


@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


async def _may_see_details(request) -> bool:
    token = settings.STEPWISE_HEALTH_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip().encode(), token.encode()):
        return True
    user = await request.auser()
    return bool(user.is_authenticated and user.is_staff)


@require_GET
async def readyz(request):
    # Async: the channel layer is bound to one event loop, the server's.
    started = time.monotonic()
    channel_layer = await _channel_layer_ok()
    details = await _may_see_details(request)
    body = await sync_to_async(_report)(started, channel_layer, details=details)
    return JsonResponse(body, status=200 if body["status"] != "error" else 503)


def _report(started, channel_layer, *, details: bool):
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
        if details:
            queue_depth = Job.objects.filter(status=Job.Status.QUEUED).count()
            running = Job.objects.filter(status=Job.Status.RUNNING).count()
    alive = [w for w in workers if w["alive"]]
    ok = database and channel_layer
    status = "ok" if ok and alive else ("degraded" if ok else "error")
    if not details:
        return {"status": status}
    return {
        "status": status,
        "database": "ok" if database else "unreachable",
        "channelLayer": "ok" if channel_layer else "unreachable",
        "workers": workers,
        "workersAlive": len(alive),
        "queueDepth": queue_depth,
        "running": running,
        "checkedInMs": round((time.monotonic() - started) * 1000, 1),
    }
