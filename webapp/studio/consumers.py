"""Websockets for the browser: check access, join the group, send a snapshot, then stream.

Access is checked again while a socket is open: every STEPWISE_ACCESS_CHECK_SECONDS (a deactivated
user's sockets close with 4401) and on each job update (a job that became private closes with 4403).
"""

import asyncio

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from webapp.studio import access, events
from webapp.studio.models import Job, Visibility


def _for_viewer(snapshot: dict, *, is_owner: bool) -> dict:
    """The snapshot as this viewer may see it: teammates do not see the owner's private images."""
    if is_owner:
        return snapshot
    return {**snapshot, "images": [i for i in snapshot.get("images", []) if i.get("visibility") == Visibility.TEAM]}


class AccessWatch:
    """Closes the socket, within STEPWISE_ACCESS_CHECK_SECONDS, once its user is no longer active."""

    watch_task: asyncio.Task | None = None

    def start_access_watch(self, user_id):
        self.watch_task = asyncio.create_task(self._watch_access(user_id))

    def stop_access_watch(self):
        if self.watch_task is not None:
            self.watch_task.cancel()

    async def _watch_access(self, user_id):
        interval = float(settings.STEPWISE_ACCESS_CHECK_SECONDS)
        try:
            while True:
                await asyncio.sleep(interval)
                if not await database_sync_to_async(access.still_active)(user_id):
                    await self.close(code=4401)  # type: ignore[attr-defined]
                    return
        except asyncio.CancelledError:
            pass


class JobConsumer(AccessWatch, AsyncJsonWebsocketConsumer):
    """`/ws/jobs/<id>/`: one job's progress, for whoever may view the job."""

    async def connect(self):
        user = self.scope["user"]
        self.group = None
        self.is_owner = False
        job_id = self.scope["url_route"]["kwargs"]["job_id"]
        snapshot = await self._snapshot_if_allowed(user, job_id)
        if snapshot is None:
            await self.close(code=4403)
            return
        self.group = events.job_group(job_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        assert user is not None, "a snapshot means a signed-in user"
        self.start_access_watch(user.pk)
        # The snapshot comes after joining, so nothing between the read and the join is missed.
        await self.send_json({"type": "status", "job": await self._snapshot_if_allowed(user, job_id)})

    @database_sync_to_async
    def _snapshot_if_allowed(self, user, job_id):
        """The job's snapshot for this user, or None when they may not (or no longer) see it."""
        if not user.is_authenticated:
            return None
        # A user deactivated since the socket opened sees nothing more.
        if not access.still_active(user.id):
            return None
        job = Job.objects.filter(id=job_id).first()
        if job is None or not access.can_view_job(user, job):
            return None
        self.is_owner = job.owner_id == user.id
        return _for_viewer(events.job_snapshot(job), is_owner=self.is_owner)

    async def disconnect(self, code):
        self.stop_access_watch()
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        # Clients may ask for a fresh snapshot at any time (e.g. after a tab wakes up).
        if content.get("type") == "snapshot":
            snapshot = await self._snapshot_if_allowed(self.scope["user"], self.scope["url_route"]["kwargs"]["job_id"])
            if snapshot is not None:
                await self.send_json({"type": "status", "job": snapshot})

    async def job_update(self, event):
        # Status changes are rare: re-check access on each, so a job whose images all became private
        # (or a user who was deactivated) stops streaming to teammates.
        if not await self._may_view(self.scope["user"], self.scope["url_route"]["kwargs"]["job_id"]):
            await self.close(code=4403)
            return
        await self.send_json({"type": "status", "job": _for_viewer(event["job"], is_owner=self.is_owner)})

    @database_sync_to_async
    def _may_view(self, user, job_id) -> bool:
        if not access.still_active(user.id):
            return False
        job = Job.objects.filter(id=job_id).first()
        return job is not None and access.can_view_job(user, job)

    async def job_progress(self, event):
        await self.send_json({k: v for k, v in event.items() if k != "type"} | {"type": "progress"})


class GalleryConsumer(AccessWatch, AsyncJsonWebsocketConsumer):
    """`/ws/gallery/`: new images from the user's teams, and the user's own job updates."""

    async def connect(self):
        user = self.scope["user"]  # None only outside AuthMiddlewareStack: then nobody is signed in
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        team_ids = await database_sync_to_async(access.team_ids)(user)
        self.groups_joined = [events.team_group(t) for t in team_ids] + [events.user_group(user.id)]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self.start_access_watch(user.id)
        await self.send_json({"type": "hello"})

    async def disconnect(self, code):
        self.stop_access_watch()
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def gallery_update(self, event):
        await self.send_json({"type": "gallery", "job": event["job"]})

    async def job_update(self, event):
        await self.send_json({"type": "status", "job": event["job"]})

    async def job_progress(self, event):
        pass  # per-step events go to the job's own group only
