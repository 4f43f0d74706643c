"""GET /healthz: is the app able to do its work right now? JSON for load balancers and humans."""

import asyncio
import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from webapp.studio.models import Job, WorkerStatus


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


def _channel_layer_ok() -> bool:
    try:
        async_to_sync(_round_trip)(get_channel_layer())
        return True
    except Exception:
        return False


@require_GET
def healthz(request):
    started = time.monotonic()
    database = _database_ok()
    channel_layer = _channel_layer_ok()
    workers = []
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
    else:
        queue_depth = running = None
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
    return JsonResponse(body, status=200 if ok else 503)
