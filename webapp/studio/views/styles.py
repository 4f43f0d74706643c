"""Saved styles: prompt fragments a user saves from the create form and applies with one click.

The create page lists the styles the user sees (their own, their teams' shared ones) and applies them
in the browser (static/js/create/styles.js); these views save and delete. With `Accept:
application/json` they answer JSON for the page's script, else they redirect back with a message.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from webapp.studio import access, services
from webapp.studio.models import Style, Visibility
from webapp.studio.views.common import safe_next


def style_json(style: Style, user) -> dict:
    return {"id": str(style.id), "name": style.name, "positive": style.positive, "negative": style.negative,
            "shared": style.visibility == Visibility.TEAM and style.team_id is not None,
            "mine": style.owner_id == user.id, "owner": style.owner.get_username(),
            "deleteUrl": reverse("style_delete", args=[style.id])}


def styles_for(user) -> list[dict]:
    """The styles the create page offers this user, by name."""
    return [style_json(s, user) for s in access.styles_visible_to(user).select_related("owner")]


def _wants_json(request) -> bool:
    return request.headers.get("Accept") == "application/json"


@require_POST
@login_required
def style_create(request):
    """Save `name`, `positive` and `negative` as a style; `visibility` private or team (the default)."""
    try:
        style = services.style_create(owner=request.user, team=access.active_team(request.user),
                                      name=request.POST.get("name", ""), positive=request.POST.get("positive", ""),
                                      negative=request.POST.get("negative", ""),
                                      visibility=request.POST.get("visibility", Visibility.TEAM))
    except services.Refused as exc:
        if _wants_json(request):
            return JsonResponse({"error": str(exc)}, status=400)
        messages.error(request, str(exc))
    else:
        if _wants_json(request):
            return JsonResponse({"style": style_json(style, request.user)}, status=201)
        messages.success(request, f"Style {style.name} saved.")
    return redirect(safe_next(request, reverse("create", args=["text-to-image"])))


@require_POST
@login_required
def style_delete(request, style_id):
    style = get_object_or_404(access.styles_visible_to(request.user), id=style_id)
    if style.owner_id != request.user.id:
        raise PermissionDenied("Only the style's owner can delete it.")
    services.style_delete(style=style)
    if _wants_json(request):
        return JsonResponse({"deleted": str(style_id)})
    messages.success(request, f"Style {style.name} deleted.")
    return redirect(safe_next(request, reverse("create", args=["text-to-image"])))
