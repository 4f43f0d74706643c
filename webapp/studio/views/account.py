"""The account page: profile, default visibility of new images, and the team a user works in."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from webapp.studio import access, forms, services
from webapp.studio.models import Visibility
from webapp.studio.views.common import optional_template, safe_next


@login_required
def account(request):
    user = request.user
    profile = services.profile_for(user)
    profile_form = forms.ProfileForm(instance=user)
    if request.method == "POST":
        if request.POST.get("action") == "visibility":
            visibility = request.POST.get("default_visibility")
            if visibility in Visibility.values:
                profile.default_visibility = visibility
                profile.save(update_fields=["default_visibility"])
                messages.success(request, f"New images will be {Visibility(visibility).label.lower()} by default.")
                return redirect("account")
            messages.error(request, "Choose Private or Team.")
        elif request.POST.get("action") == "profile":
            profile_form = forms.ProfileForm(request.POST, instance=user)
            if profile_form.is_valid():
                profile_form.save()
                messages.success(request, "Profile saved.")
                return redirect("account")
    memberships = user.memberships.select_related("team").order_by("team__name")
    return render(request, "studio/account.html", {
        "profile": profile,
        "profile_form": profile_form,
        "memberships": memberships,
        "active_team": access.active_team(user),
        "visibility_choices": Visibility.choices,
        "api_keys_template": optional_template("studio/_api_keys.html"),
    }, status=400 if profile_form.errors else 200)


@require_POST
@login_required
def switch_team(request):
    try:
        team_id = int(request.POST.get("team", ""))
    except ValueError:
        team_id = None
    if team_id not in access.team_ids(request.user):
        messages.error(request, "You are not a member of that team.")
        return redirect(safe_next(request, reverse("account")))
    profile = services.profile_for(request.user)
    profile.active_team_id = team_id
    profile.save(update_fields=["active_team"])
    messages.success(request, f"Now working in {profile.active_team}: new jobs are shared with this team.")
    return redirect(safe_next(request, reverse("account")))
