"""WebSocket side of the Runware-compatible API (/v1)."""

from channels.generic.websocket import AsyncJsonWebsocketConsumer


class RunwareConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        await self.close()
