"""The authentication task: an API key becomes a `Client`, which every other task runs for."""

import uuid
from dataclasses import dataclass

from django.conf import settings

from webapp.api.models import ApiKey
from webapp.api.protocol.errors import ApiError
from webapp.api.services import api_key_for


def authenticate(task) -> ApiKey:
    raw = task.get("apiKey")
    if raw in (None, ""):
        raise ApiError("missingApiKey", "apiKey is required.", parameter="apiKey")
    key = api_key_for(raw)
    if key is None:
        raise ApiError("invalidApiKey", "Invalid API key: it is unknown or was revoked. Create one on your "
                       "account page.", parameter="apiKey")
    return key


def not_authenticated_error() -> ApiError:
    return ApiError("missingApiKey", 'Authenticate first: send [{"taskType": "authentication", "apiKey": "..."}] '
                    "(or, over HTTP, the header Authorization: Bearer <key>).", parameter="apiKey")


@dataclass
class Client:
    api_key: ApiKey
    base_url: str  # scheme://host[:port] for absolute image URLs
    session_id: uuid.UUID | None = None  # websocket session results are pushed to

    @property
    def user(self):
        return self.api_key.user


def public_base_url(scheme: str, host: str) -> str:
    override = getattr(settings, "STEPWISE_PUBLIC_URL", "")
    if override:
        return override.rstrip("/")
    return f"{scheme}://{host}"
