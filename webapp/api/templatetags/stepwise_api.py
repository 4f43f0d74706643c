"""Template helpers for the account page's API-key section and the API documentation page."""

from django import template
from django.conf import settings

from webapp.api.models import ApiKey
from webapp.api.protocol import field_table
from webapp.api.services import session_seconds
from webapp.api.views import NEW_KEY_SESSION_KEY
from webapp.studio.access import default_model_for
from webapp.studio.models import ContentChecker

register = template.Library()


@register.simple_tag(takes_context=True)
def api_keys_of_user(context):
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return []
    return list(ApiKey.objects.filter(user=request.user).order_by("revoked_at", "-created_at"))


@register.simple_tag(takes_context=True)
def pop_new_api_key(context):
    """The key created on the previous request, shown this once, then gone from the session."""
    request = context.get("request")
    if request is None or not hasattr(request, "session"):
        return None
    return request.session.pop(NEW_KEY_SESSION_KEY, None)


@register.simple_tag(takes_context=True)
def api_settings(context):
    request = context.get("request")
    base = getattr(settings, "STEPWISE_PUBLIC_URL", "")
    if not base and request is not None:
        base = f"{request.scheme}://{request.get_host()}"
    base = base.rstrip("/") or "http://localhost:8000"
    model = None
    if request is not None and request.user.is_authenticated:
        model = default_model_for(request.user)
    return {
        "model": model.air if model else "stepwise:1@1",
        "http_url": f"{base}/v1",
        "ws_url": ("wss" if base.startswith("https") else "ws") + base[base.index(":"):] + "/v1",
        "gpu_hour_price": settings.STEPWISE_GPU_HOUR_PRICE,
        "signed_url_hours": round(settings.STEPWISE_SIGNED_URL_SECONDS / 3600, 1),
        "signed_url_seconds": settings.STEPWISE_SIGNED_URL_SECONDS,
        "field_rows": field_table.table_rows(),
        "outbound_timeout": f"{settings.STEPWISE_OUTBOUND_TIMEOUT:g}",
        "outbound_retries": settings.STEPWISE_OUTBOUND_RETRIES,
        "allow_private": settings.STEPWISE_URL_FETCH_ALLOW_PRIVATE,
        "content_checker": ContentChecker.installed() is not None,
        "session_seconds": session_seconds(),
        "idle_seconds": int(getattr(settings, "STEPWISE_API_IDLE_SECONDS", 120)),
        "sync_timeout": int(getattr(settings, "STEPWISE_API_SYNC_TIMEOUT", 600)),
        "url_fetch": settings.STEPWISE_ALLOW_URL_FETCH,
        "max_upload_mb": settings.STEPWISE_MAX_UPLOAD_BYTES // (1024 * 1024),
    }
