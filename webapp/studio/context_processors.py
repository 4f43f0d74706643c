"""Data every page's shell needs: the user's teams for the switcher, and which section is open."""

from typing import Any

from webapp.studio import access

SECTIONS = {
    "home": "home",
    "create": "create",
    "job_list": "jobs",
    "job_detail": "jobs",
    "gallery": "gallery",
    "image_detail": "gallery",
    "board_list": "gallery",
    "guide": "guide",
    "api_docs": "api_docs",
    "account": "account",
    "password_change": "account",
    "password_change_done": "account",
}


def studio(request):
    user = getattr(request, "user", None)
    match = getattr(request, "resolver_match", None)
    context: dict[str, Any] = {"nav_section": SECTIONS.get(match.url_name if match else "", "")}
    if user is None or not user.is_authenticated:
        return context
    memberships = list(user.memberships.select_related("team").order_by("team__name"))
    active = access.active_team(user) if memberships else None
    context.update({
        "nav_teams": [m.team for m in memberships],
        "nav_active_team": active,
        "nav_is_team_admin": any(m.team_id == getattr(active, "id", None) and m.role == "admin" for m in memberships),
    })
    return context
