"""Websockets for the browser: check access, join the group, send a snapshot, then stream."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from webapp.studio import access, events
from webapp.studio.models import Job


class JobConsumer(AsyncJsonWebsocketConsumer):
    """`/ws/jobs/<id>/`: one job's progress, for whoever may view the job."""

    async def connect(self):
        user = self.scope["user"]
        self.group = None
        job_id = self.scope["url_route"]["kwargs"]["job_id"]
        snapshot = await self._snapshot_if_allowed(user, job_id)
        if snapshot is None:
            await self.close(code=4403)
            return
        self.group = events.job_group(job_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        # The snapshot comes after joining, so nothing between the read and the join is missed.
        await self.send_json({"type": "status", "job": await self._snapshot_if_allowed(user, job_id)})

    @database_sync_to_async
    def _snapshot_if_allowed(self, user, job_id):
        if not user.is_authenticated:
            return None
        job = Job.objects.filter(id=job_id).first()
        if job is None or not access.can_view_job(user, job):
            return None
        return events.job_snapshot(job)

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        # Clients may ask for a fresh snapshot at any time (e.g. after a tab wakes up).
        if content.get("type") == "snapshot":
            snapshot = await self._snapshot_if_allowed(self.scope["user"], self.scope["url_route"]["kwargs"]["job_id"])
            if snapshot is not None:
                await self.send_json({"type": "status", "job": snapshot})

    async def job_update(self, event):
        await self.send_json({"type": "status", "job": event["job"]})

    async def job_progress(self, event):
        await self.send_json({k: v for k, v in event.items() if k != "type"} | {"type": "progress"})


class GalleryConsumer(AsyncJsonWebsocketConsumer):
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
        await self.send_json({"type": "hello"})

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def gallery_update(self, event):
        await self.send_json({"type": "gallery", "job": event["job"]})

    async def job_update(self, event):
        await self.send_json({"type": "status", "job": event["job"]})

    async def job_progress(self, event):
        pass  # per-step events go to the job's own group only
