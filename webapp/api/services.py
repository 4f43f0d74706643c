"""Writes for API keys and websocket sessions, as keyword-only service functions."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from webapp.api.models import PREFIX_LENGTH, ApiKey, ApiSession, hash_key

# How often last_used_at is written: every request would turn each API call into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def session_seconds() -> int:
    # Runware keeps undelivered results for 120 s; we keep a resumable session at least that long.
    return max(120, int(getattr(settings, "STEPWISE_API_SESSION_SECONDS", 300)))


def api_key_create(*, user, name: str = "") -> tuple[ApiKey, str]:
    """A new key for `user`. Returns the row and the raw key, which is not stored and shown only once."""
    raw = ApiKey.generate()
    key = ApiKey.objects.create(user=user, name=name.strip()[:100], prefix=raw[:PREFIX_LENGTH],
                                secret_hash=hash_key(raw))
    return key, raw


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        # A revoked key's sessions cannot be resumed any more.
        ApiSession.objects.filter(api_key=key).delete()
    return key


def api_key_still_valid(key_id) -> bool:
    """Whether an authenticated key may still be used: not revoked, and its user still active.

    Open websockets ask before each task and on a timer: they authenticated once, and revoking a
    key or deactivating a user must end what is already open.
    """
    return ApiKey.objects.filter(id=key_id, revoked_at__isnull=True, user__is_active=True).exists()


def api_key_for(raw_key) -> ApiKey | None:
    """The active key matching `raw_key`, or None. Compares hashes in constant time."""
    if not isinstance(raw_key, str) or len(raw_key) < PREFIX_LENGTH or len(raw_key) > 200:
        return None
    if not raw_key.isascii() or not raw_key.isprintable():
        return None  # keys are printable ASCII; PostgreSQL would refuse a NUL in the prefix query
    raw_key = raw_key.strip()
    found = None
    for key in ApiKey.objects.filter(prefix=raw_key[:PREFIX_LENGTH]).select_related("user"):
        if key.matches(raw_key):
            found = key
    if found is None or found.revoked_at is not None or not found.user.is_active:
        return None
    now = timezone.now()
    if found.last_used_at is None or now - found.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(id=found.id).update(last_used_at=now)
        found.last_used_at = now
    return found


def session_open(*, api_key: ApiKey, channel_name: str, resume_id=None) -> tuple[ApiSession, bool]:
    """Resume the session `resume_id` if it is this user's and still kept, else start a new one.

    The connection that opens or resumes a session becomes the one that delivers its results.
    Returns (session, resumed).
    """
    now = timezone.now()
    # Sessions nobody came back for in time are forgotten; their jobs stay (gallery, getResponse).
    ApiSession.objects.filter(last_seen_at__lt=now - timedelta(seconds=session_seconds())).delete()
    if resume_id is not None:
        session = ApiSession.objects.filter(id=resume_id, api_key__user_id=api_key.user_id).first()
        if session is not None:
            session.channel_name = channel_name
            session.last_seen_at = now
            session.api_key = api_key
            session.save(update_fields=["channel_name", "last_seen_at", "api_key"])
            return session, True
    return ApiSession.objects.create(api_key=api_key, channel_name=channel_name, last_seen_at=now), False


def session_touch(*, session_id, channel_name: str) -> bool:
    """Keep a session alive while its connection is open. False when another connection took it over."""
    return bool(ApiSession.objects.filter(id=session_id, channel_name=channel_name).update(last_seen_at=timezone.now()))


def session_detach(*, session_id, channel_name: str) -> None:
    """The connection went away: results now wait in the database for a resume."""
    ApiSession.objects.filter(id=session_id, channel_name=channel_name).update(
        channel_name="", last_seen_at=timezone.now())
