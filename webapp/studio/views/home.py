"""The start page: the task types, the user's recent jobs and the team's latest images."""

from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.shortcuts import render

from webapp.studio import access
from webapp.studio.models import Image, Visibility
from webapp.studio.views.presenters import task_tabs


@login_required
def home(request):
    recent_jobs = (
        access.jobs_visible_to(request.user).filter(owner=request.user).select_related("model")
        .prefetch_related(Prefetch("images", queryset=Image.objects.order_by("index")))[:6]
    )
    # What the team sees: the user's own team images count too, so sharing everything never reads
    # as "nothing shared".
    team_images = (
        access.images_visible_to(request.user).filter(visibility=Visibility.TEAM, team__isnull=False)
        .select_related("owner", "job")[:8]
    )
    return render(request, "studio/home.html", {
        "tasks": task_tabs(None),
        "recent_jobs": recent_jobs,
        "team_images": team_images,
        "default_model": access.default_model_for(request.user),
    })
