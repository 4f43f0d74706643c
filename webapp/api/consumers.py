"""WebSocket side of the Runware-compatible API (/v1).

A connection authenticates with an API key and gets a session (`connectionSessionUUID`). Each sync
imageInference task is recorded against that session; its results are pushed as each image is
stored, one message per image. The database is the record: the channel layer only says "look now",
and a slow poll repairs any notification the at-most-once layer dropped. A client that reconnects
with its connectionSessionUUID gets what finished while it was away.
"""

import asyncio
import json
import logging
import time
import uuid

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http.request import split_domain_port, validate_host

from webapp.api import heavy, services
from webapp.api.protocol.authentication import Client, authenticate, not_authenticated_error, public_base_url
from webapp.api.protocol.delivery import mark_delivered, open_watches, pending_deliveries, watch_info
from webapp.api.protocol.dispatch import check_task, parse_tasks, pong, run_task
from webapp.api.protocol.errors import ApiError, error_item
from webapp.studio import events

logger = logging.getLogger("stepwise.api")
# Messages up to this size are parsed on the event loop: a thread hop costs more than the parse.
PARSE_INLINE_BYTES = 256 * 1024


def _setting(name, default):
    return getattr(settings, name, default)


class RunwareConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.client: Client | None = None  # once authenticated
        self.watched = {}  # job id -> watch_info dict
        self.last_activity = time.monotonic()
        self.deliver_lock = asyncio.Lock()
        self.closing = False
        base_url = self._base_url()
        if base_url is None:
            # The same Host check as HTTP: image URLs are built from it.
            await self.close()
            return
        self.base_url: str = base_url
        await self.accept()
        self.ticker = asyncio.create_task(self._tick())

    def _base_url(self) -> str | None:
        headers = dict(self.scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        domain, _ = split_domain_port(host)
        allowed = settings.ALLOWED_HOSTS
        if settings.DEBUG and not allowed:
            allowed = [".localhost", "127.0.0.1", "[::1]"]
        if not domain or not validate_host(domain, allowed):
            return None
        scheme = "https" if self.scope.get("scheme") in ("wss", "https") else "http"
        return public_base_url(scheme, host)

    async def disconnect(self, code):
        ticker = getattr(self, "ticker", None)
        if ticker is not None:
            ticker.cancel()
        for job_id in list(getattr(self, "watched", {})):
            await self.channel_layer.group_discard(events.job_group(job_id), self.channel_name)
        client = getattr(self, "client", None)
        if client is not None and client.session_id:
            await database_sync_to_async(services.session_detach)(
                session_id=client.session_id, channel_name=self.channel_name)

    # Receiving ---------------------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        self.last_activity = time.monotonic()
        body = text_data if text_data is not None else bytes_data
        size = len(body or "")
        if self.client is None and size > settings.STEPWISE_API_UNAUTHENTICATED_BYTES:
            # Before authentication a message holds an authentication task or a ping: a large one is
            # someone making the server parse and answer for free.
            await self.send_json({"errors": [error_item(
                "messageTooLarge", f"Messages before authentication may be at most "
                f"{settings.STEPWISE_API_UNAUTHENTICATED_BYTES} bytes; this one is {size}. Authenticate first.",
                parameter="request")]})
            await self.close(code=1009)
            return
        try:
            if size > PARSE_INLINE_BYTES:
                # A large body is parsed off the event loop, so other sockets are not stalled meanwhile.
                tasks = await heavy.run(parse_tasks, body)
            else:
                tasks = parse_tasks(body)
        except ApiError as exc:
            await self.send_json({"errors": exc.items()})
            return
        for task in tasks:
            if self.closing:
                return
            await self.handle_task(task)

    async def handle_task(self, task):
        try:
            task_type = check_task(task)
        except ApiError as exc:
            await self.send_json({"errors": exc.items(task)})
            return
        if task_type == "ping":
            await self.send_json({"data": [pong(task)]})
            return
        if task_type == "authentication":
            await self.handle_authentication(task)
            return
        if self.client is None:
            await self.send_json({"errors": not_authenticated_error().items(task)})
            return
        if not await database_sync_to_async(services.api_key_still_valid)(self.client.api_key.id):
            await self._end_access(task)
            return
        if task_type in heavy.HEAVY_TASK_TYPES:
            # Image decoding, uploads and fetches: in the bounded pool, not the thread every socket's
            # database work shares.
            outcome = await heavy.run(
                run_task, task, self.client, push=True, on_created=self._join_group_before_commit)
        else:
            outcome = await database_sync_to_async(run_task)(
                task, self.client, push=True, on_created=self._join_group_before_commit)
        reply = {}
        if outcome.data:
            reply["data"] = outcome.data
        if outcome.errors:
            reply["errors"] = outcome.errors
        if reply:
            await self.send_json(reply)
        if outcome.watch is not None:
            info = await database_sync_to_async(watch_info)(outcome.watch)
            self._watch(info)
            await self.deliver(job_ids=[info["job_id"]])

    async def _end_access(self, task=None):
        """The key was revoked or its user deactivated: say so, and close the socket."""
        self.closing = True
        client, self.client = self.client, None
        if client is not None and client.session_id:
            await database_sync_to_async(services.session_detach)(
                session_id=client.session_id, channel_name=self.channel_name)
        await self.send_json({"errors": [error_item(
            "invalidApiKey", "This API key was revoked, or its user deactivated: the session has ended.",
            parameter="apiKey", task=task)]})
        await self.close(code=4401)

    def _watch(self, info):
        info["last_event"] = time.monotonic()
        info["images_stepped"] = 0  # images whose last step event this socket has passed on
        self.watched[info["job_id"]] = info

    def _join_group_before_commit(self, job_id):
        # Runs in the database thread, inside the job's transaction: the job is enqueued only after
        # this connection listens to its group, so even the first step's event reaches it.
        async_to_sync(self.channel_layer.group_add)(events.job_group(job_id), self.channel_name)

    async def handle_authentication(self, task):
        try:
            api_key = await database_sync_to_async(authenticate)(task)
        except ApiError as exc:
            await self.send_json({"errors": exc.items(task)})
            return
        resume_id = None
        raw_session = task.get("connectionSessionUUID")
        if raw_session not in (None, ""):
            try:
                if not isinstance(raw_session, str):
                    raise ValueError
                resume_id = uuid.UUID(raw_session)
            except ValueError:
                # A typo must not quietly start a new session: the client would wait for results
                # that its old session holds.
                error = ApiError("invalidConnectionSessionUUID", "connectionSessionUUID must be the UUID this "
                                 "server sent when the session was opened; leave it out to open a new session.",
                                 parameter="connectionSessionUUID")
                await self.send_json({"errors": error.items(task)})
                return
        if self.client is not None and self.client.session_id:
            # Re-authenticating on an open connection: hand the old session back first.
            await self._drop_watches()
            await database_sync_to_async(services.session_detach)(
                session_id=self.client.session_id, channel_name=self.channel_name)
        session, resumed = await database_sync_to_async(services.session_open)(
            api_key=api_key, channel_name=self.channel_name, resume_id=resume_id)
        self.client = Client(api_key=api_key, base_url=self.base_url, session_id=session.id)
        item = {"taskType": "authentication", "connectionSessionUUID": str(session.id)}
        if isinstance(task.get("taskUUID"), str):
            item["taskUUID"] = task["taskUUID"]
        await self.send_json({"data": [item]})
        if resumed:
            for info in await database_sync_to_async(open_watches)(session.id):
                await self.channel_layer.group_add(events.job_group(info["job_id"]), self.channel_name)
                self._watch(info)
            await self.deliver(force=True)

    async def _drop_watches(self):
        for job_id in list(self.watched):
            await self.channel_layer.group_discard(events.job_group(job_id), self.channel_name)
        self.watched = {}

    # Delivering ----------------------------------------------------------------------------------

    async def deliver(self, job_ids=None, force=False):
        """Send what the session is owed, then record it as sent (sent twice beats never sent).

        The database can be ahead of the events still queued for this socket. A client that asked
        for progress gets an image's result only after that image's last step event, unless `force`
        (the job went quiet: its remaining events were lost, or this socket never saw them).
        """
        if self.client is None or not self.watched:
            return
        limits = None
        if not force:
            limits = {job_id: watch["images_stepped"] for job_id, watch in self.watched.items()
                      if watch["include_progress"]}
        async with self.deliver_lock:
            deliveries = await database_sync_to_async(pending_deliveries)(
                session_id=self.client.session_id, channel_name=self.channel_name, base_url=self.base_url,
                job_ids=job_ids, limits=limits)
            for delivery in deliveries:
                for message in delivery.messages:
                    await self.send_json(message)
                await database_sync_to_async(mark_delivered)(delivery)
                if delivery.closed:
                    self.watched.pop(delivery.job_id, None)
                    await self.channel_layer.group_discard(events.job_group(delivery.job_id), self.channel_name)

    async def _tick(self):
        """Close idle connections (no message either way), poll for results whose notification was
        lost, and keep the session alive."""
        idle_seconds = float(_setting("STEPWISE_API_IDLE_SECONDS", 120))
        poll_seconds = float(_setting("STEPWISE_API_POLL_SECONDS", 2))
        check_seconds = float(settings.STEPWISE_ACCESS_CHECK_SECONDS)
        last_poll = last_touch = last_check = time.monotonic()
        try:
            while True:
                await asyncio.sleep(min(1.0, poll_seconds, check_seconds))
                now = time.monotonic()
                if now - self.last_activity > idle_seconds:
                    await self.close(code=1000)
                    return
                try:
                    if self.client is not None and now - last_check >= check_seconds:
                        last_check = now
                        if not await database_sync_to_async(services.api_key_still_valid)(self.client.api_key.id):
                            await self._end_access()
                            return
                    if self.watched and now - last_poll >= poll_seconds:
                        last_poll = now
                        # Only jobs that went quiet: a job whose events are flowing is delivered by
                        # them, in order, and polling it too could overtake its last step events.
                        quiet = [job_id for job_id, watch in self.watched.items()
                                 if now - watch["last_event"] >= poll_seconds]
                        if quiet:
                            await self.deliver(job_ids=quiet, force=True)
                    if self.client is not None and now - last_touch >= 30:
                        last_touch = now
                        await database_sync_to_async(services.session_touch)(
                            session_id=self.client.session_id, channel_name=self.channel_name)
                except Exception:
                    logger.warning("API delivery poll failed; retrying", exc_info=True)
        except asyncio.CancelledError:
            pass

    # Channel-layer events ------------------------------------------------------------------------

    async def job_update(self, event):
        job_id = event["job"]["id"]
        if job_id in self.watched:
            self.watched[job_id]["last_event"] = time.monotonic()
            await self.deliver(job_ids=[job_id])

    async def job_progress(self, event):
        watch = self.watched.get(event["job"])
        if watch is None:
            return
        watch["last_event"] = time.monotonic()
        if not watch["include_progress"]:
            return
        image_index = event.get("imageIndex", 0)
        # One event carries every step since the last; the client gets one item per step, and the
        # preview (the newest step's) with the last of them.
        items = [{
            "taskType": "imageInferenceProgress",
            "taskUUID": watch["task_uuid"],
            "step": step,
            "totalSteps": watch["total_steps"],
            "imageIndex": image_index,
        } for step in event.get("steps", [event["step"]])]
        if watch["include_previews"] and event.get("previewDataURI"):
            items[-1]["previewDataURI"] = event["previewDataURI"]
        await self.send_json({"data": items})
        if event["step"] >= watch["total_steps"] and image_index + 1 > watch["images_stepped"]:
            # That image's result may follow now, if it is already stored.
            watch["images_stepped"] = image_index + 1
            await self.deliver(job_ids=[event["job"]])

    async def gallery_update(self, event):
        pass

    async def send_json(self, content):
        # Like Runware, a connection is idle when no message went either way.
        self.last_activity = time.monotonic()
        await self.send(text_data=json.dumps(content))
