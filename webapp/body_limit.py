"""An ASGI wrapper that bounds request bodies before anything buffers them.

Django checks DATA_UPLOAD_MAX_MEMORY_SIZE only once the server has read the body: an attacker's
200 MB POST was read in full before its 413. This wrapper, around the HTTP app:
- answers 413 at once when Content-Length is over STEPWISE_MAX_REQUEST_BYTES, reading nothing;
- counts the bytes of a body without a length (chunked) and, at the limit, tells Django the client
  went away (so it stops reading) and answers 413 itself.
With a server that streams bodies (uvicorn), memory then stays bounded whatever a client sends.
"""

import json

from django.conf import settings


async def _refuse(send, limit):
    body = json.dumps({"errors": [{
        "code": "requestTooLarge", "parameter": "request",
        "message": f"The request body is larger than this server's limit of {limit} bytes.",
    }]}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers") or []:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimit:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = settings.STEPWISE_MAX_REQUEST_BYTES
        length = _content_length(scope)
        if length is not None and length > limit:
            await _refuse(send, limit)
            return
        seen = 0
        cut = False
        started = False

        async def limited_receive():
            nonlocal seen, cut
            if cut:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    cut = True
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, tracked_send)
        if cut and not started:
            await _refuse(send, limit)
