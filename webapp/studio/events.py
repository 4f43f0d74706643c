"""Notifications over the channel layer. They only notify: the database stays the record of state.

Every send is best effort. A channel-layer hiccup is logged and swallowed, because a missed
notification is repaired by the snapshot a client gets on (re)connect, while an exception here
could kill a running generation.
"""

import asyncio
import base64
import concurrent.futures
import logging
import os
import threading
import time

from asgiref.sync import ThreadSensitiveContext
from channels.layers import get_channel_layer
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from generation.architectures import phase_for_step
from webapp.studio.models import Job, Visibility

logger = logging.getLogger("stepwise.events")


def job_group(job_id) -> str:
    return f"job-{job_id}"


def team_group(team_id) -> str:
    return f"team-{team_id}"


def user_group(user_id) -> str:
    return f"user-{user_id}"


def send(group: str, message: dict) -> bool:
    return send_many([(group, message)])


def send_many(messages: list[tuple[str, dict]]) -> bool:
    """Send (group, message) pairs in order, on this process's sending loop, and wait until sent."""

    async def send_all(layer):
        for group, message in messages:
            await layer.group_send(group, message)

    try:
        _sender().run(send_all(get_channel_layer()))
        return True
    except Exception:
        logger.warning("Could not publish to %s", sorted({group for group, _ in messages}), exc_info=True)
        return False


class _Sender:
    """One event loop, on a daemon thread, for the channel-layer calls of this process's synchronous
    code (the worker's publisher and runner, views' broadcasts).

    `async_to_sync` started a thread and an event loop for every call, and channels_redis keeps its
    connections per loop, so each call also connected to Redis anew: most of what a watched job's
    progress messages cost the worker. The calls run one at a time, in order, inside one
    `ThreadSensitiveContext`, so that the database calls channels_lite makes through
    `sync_to_async` get a thread of their own: never the caller's, which is waiting for them."""

    TIMEOUT = 10.0  # seconds a call may take before it counts as failed

    def __init__(self):
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.inbox: asyncio.Queue = asyncio.Queue()
        threading.Thread(target=self.loop.run_until_complete, args=(self._serve(),),
                         name="channel-layer-calls", daemon=True).start()

    async def _serve(self):
        async with ThreadSensitiveContext():
            while True:
                coroutine, done = await self.inbox.get()
                try:
                    done.set_result(await coroutine)
                except Exception as exc:
                    done.set_exception(exc)

    def run(self, coroutine):
        done: concurrent.futures.Future = concurrent.futures.Future()
        self.loop.call_soon_threadsafe(self.inbox.put_nowait, (coroutine, done))
        return done.result(self.TIMEOUT)


_sender_instance: _Sender | None = None
_sender_lock = threading.Lock()


def _sender() -> _Sender:
    global _sender_instance
    with _sender_lock:
        if _sender_instance is None or _sender_instance.pid != os.getpid():  # none yet, or a forked copy
            _sender_instance = _Sender()
        return _sender_instance


def has_listeners(group: str) -> bool:
    """Is any websocket (a job page, an API connection) in `group` now? Asked by the worker about
    once every half second, so that it encodes and sends step previews only for somebody."""
    return bool(listening([group]))


def listening(groups: list[str]) -> list[str]:
    """Those of `groups` that any websocket is in now, in one question to the channel layer.

    The channel layers have no public API for this, so each layer is asked its own way; a layer this
    does not know, or one that fails to answer, counts as listening to all of them (the messages are
    then built and sent, as they would be without the question)."""
    layer = get_channel_layer()
    try:
        match type(layer).__name__:
            case "SQLiteChannelLayer":  # channels_lite: membership rows in its own database
                from channels_lite.models import GroupMembership

                present = set(GroupMembership.objects.filter(group_name__in=groups, expires_at__gte=timezone.now())
                              .values_list("group_name", flat=True))
                return [group for group in groups if group in present]
            case "RedisChannelLayer":  # channels_redis: a sorted set per group
                sizes = _sender().run(_redis_group_sizes(layer, groups))
                return [group for group, size in zip(groups, sizes, strict=True) if size]
            case "InMemoryChannelLayer":
                return [group for group in groups if layer.groups.get(group)]  # type: ignore[union-attr]
    except Exception:
        logger.warning("Could not ask the channel layer who listens to %s", groups, exc_info=True)
    return list(groups)


async def _redis_group_sizes(layer, groups: list[str]) -> list[int]:
    # channels_redis keeps a group as a sorted set of channel names scored by join time.
    sizes = []
    for group in groups:
        connection = layer.connection(layer.consistent_hash(group))
        sizes.append(await connection.zcount(layer._group_key(group), int(time.time()) - layer.group_expiry, "+inf"))
    return sizes


def queue_position(job) -> int | None:
    if job.status != Job.Status.QUEUED:
        return None
    ahead = Job.objects.filter(status=Job.Status.QUEUED).filter(
        Q(priority__gt=job.priority) | Q(priority=job.priority, queued_at__lt=job.queued_at)
    )
    return ahead.count() + 1


def image_summary(image) -> dict:
    return {
        "id": str(image.id),
        "url": reverse("image_file", args=[image.id]),
        "thumbUrl": reverse("image_thumb", args=[image.id]),
        "pageUrl": reverse("image_detail", args=[image.id]),
        "downloadUrl": reverse("image_download", args=[image.id]),
        "seed": image.seed,
        "width": image.width,
        "height": image.height,
        "index": image.index,
        "visibility": image.visibility,
    }


def phase(job, step: int) -> dict:
    """The product document's phase for this step, by its place in the full schedule of its pass
    (the job's step counter runs across the passes of a refiner or hires-fix job)."""
    from webapp.studio.schema import stored_job_plan

    plan, _spec = stored_job_plan(job)
    if plan is None:
        requested = job.params.get("steps", job.total_steps)
        name, description = phase_for_step(requested - job.total_steps + max(step, 1), requested)
        return {"name": name, "description": description}
    step_pass, position = plan.locate(step)
    name, description = phase_for_step(position, step_pass.plan.requested)
    result = {"name": name, "description": description}
    if len(plan.passes) > 1:
        result["pass"] = step_pass.name
    return result


def job_timings(job, images) -> list[dict]:
    """What the job page lists under "Run" once there is something to time: queue wait, run time,
    GPU time (only when a GPU ran it), and seconds per step."""
    timings = []
    if job.started_at and job.queued_at:
        timings.append({"label": "Waited in queue",
                        "seconds": max(0.0, (job.started_at - job.queued_at).total_seconds())})
    if job.started_at and job.finished_at:
        timings.append({"label": "Ran for", "seconds": (job.finished_at - job.started_at).total_seconds()})
    if job.gpu_seconds and job.device.startswith("cuda"):
        timings.append({"label": "GPU time", "seconds": job.gpu_seconds})
    if images and job.total_steps:
        per_image = sum(i.seconds for i in images) / len(images)
        if per_image:
            timings.append({"label": "Per step", "seconds": per_image / job.total_steps})
    return timings


def job_snapshot(job) -> dict:
    preview = None
    if job.preview and not job.is_finished:
        preview = "data:image/jpeg;base64," + base64.b64encode(bytes(job.preview)).decode()
    images = list(job.images.all().order_by("index"))
    return {
        "id": str(job.id),
        "status": job.status,
        "taskType": job.task_type,
        "step": job.step,
        "totalSteps": job.total_steps,
        "requestedSteps": job.params.get("steps"),
        "imagesDone": job.images_done,
        "numberResults": job.number_results,
        "queuePosition": queue_position(job),
        "phase": phase(job, job.step),
        "error": job.error,
        "cancelRequested": job.cancel_requested,
        "queuedAt": job.queued_at.isoformat() if job.queued_at else None,
        "startedAt": job.started_at.isoformat() if job.started_at else None,
        "finishedAt": job.finished_at.isoformat() if job.finished_at else None,
        "previewDataURI": preview,
        "images": [image_summary(image) for image in images],
        "timings": job_timings(job, images) if job.is_finished else [],
    }


def broadcast_job(job_id) -> None:
    """Tell a job's watchers its new state; tell its team's galleries about new images."""
    job = Job.objects.select_related("model").filter(id=job_id).first()
    if job is None:
        return
    gallery = None
    if job.status == Job.Status.SUCCEEDED and job.team_id and job.visibility == Visibility.TEAM:
        gallery = team_group(job.team_id)
    groups = [job_group(job.id), user_group(job.owner_id)] + ([gallery] if gallery else [])
    # Only to groups somebody is in (a job page, an API connection, an open gallery), and no snapshot
    # to build for nobody: that saved a 256x256 job on 2 cores about 1 %. Whoever connects later
    # reads the snapshot from the database, which already holds this state (the caller changed it
    # before asking who listens).
    messages: list[tuple[str, dict]] = []
    snapshot = None
    for group in listening(groups):
        if group == gallery:
            messages.append((group, {"type": "gallery.update", "job": str(job.id)}))
        else:
            snapshot = snapshot or job_snapshot(job)
            messages.append((group, {"type": "job.update", "job": snapshot}))
    if messages:
        send_many(messages)


def progress_message(job_id, *, steps: list[int], total_steps, image_index, images_done, phase_info,
                     preview_data_uri):
    """One delivery's steps of one image, oldest first, in one message: `step` is the newest (the
    phase and the preview are its), `steps` every step count since the last message. Each message
    costs channels_lite a database write per listener; one per step made up most of a watched
    256x256 job's overhead on 2 cores."""
    return {
        "type": "job.progress",
        "job": str(job_id),
        "step": steps[-1],
        "steps": steps,
        "totalSteps": total_steps,
        "imageIndex": image_index,
        "imagesDone": images_done,
        "phase": phase_info,
        "previewDataURI": preview_data_uri,
    }
