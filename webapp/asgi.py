"""ASGI entry point: Django for HTTP, Channels for the websockets."""

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path, re_path  # noqa: E402

from webapp.api.consumers import RunwareConsumer  # noqa: E402
from webapp.body_limit import BodyLimit  # noqa: E402
from webapp.studio.consumers import GalleryConsumer, JobConsumer  # noqa: E402


def ws_path(route: str, app: Any, *, regex: bool = False) -> Any:
    """`path` (or `re_path`) for an ASGI app in a channels `URLRouter`, as channels documents it.

    The stubs cannot type this call: django-stubs only accepts an HTTP view here, and types-channels
    wants a pattern class of its own that `path` never returns.
    """
    return (re_path if regex else path)(route, app)


application = ProtocolTypeRouter(
    {
        "http": BodyLimit(django_asgi_app),
        "websocket": URLRouter(
            [
                # The Runware API authenticates with API keys, not cookies, and is used by
                # non-browser clients without an Origin header: no origin check there.
                ws_path("v1", RunwareConsumer.as_asgi()),
                ws_path("v1/", RunwareConsumer.as_asgi()),
                # A regex (re_path), not path: the origin validator hides the inner URLRouter, so channels
                # would treat path("ws/") as an endpoint and never match /ws/jobs/<id>/.
                ws_path(
                    r"^ws/",
                    AllowedHostsOriginValidator(
                        AuthMiddlewareStack(
                            URLRouter(
                                [
                                    ws_path("jobs/<uuid:job_id>/", JobConsumer.as_asgi()),
                                    ws_path("gallery/", GalleryConsumer.as_asgi()),
                                ]
                            )
                        )
                    ),
                    regex=True,
                ),
            ]
        ),
    }
)
