"""The gallery, and an image's page: who sees it, deleting it, and the parameters that made it."""

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from generation import schedulers
from generation.task_types import TASK_TYPES
from webapp.studio import access, services
from webapp.studio.images import a1111_parameters
from webapp.studio.models import Visibility
from webapp.studio.views.common import safe_next
from webapp.studio.views.presenters import (
    job_plan,
    model_label,
    phase_strip,
    source_preview,
    task_label,
    task_slug,
)

GALLERY_PAGE_SIZE = 24


def _parse_date(value):
    try:
        return datetime.date.fromisoformat(value)
    except (TypeError, ValueError):
        return None


@login_required
def gallery(request):
    """Images the user may see, newest first, filtered; `?fragment=1` returns only the grid items."""
    user = request.user
    images = access.images_visible_to(user).select_related("owner", "job", "job__model").order_by("-created_at")
    filters = {
        "scope": request.GET.get("scope", ""),
        "model": request.GET.get("model", ""),
        "task": request.GET.get("task", ""),
        "since": request.GET.get("since", ""),
        "until": request.GET.get("until", ""),
        "q": request.GET.get("q", "").strip(),
    }
    if filters["scope"] == "mine":
        images = images.filter(owner=user)
    elif filters["scope"] == "team":
        images = images.exclude(owner=user)
    else:
        filters["scope"] = ""
    if filters["model"]:
        images = images.filter(job__model__air=filters["model"])
    if filters["task"] in TASK_TYPES:
        images = images.filter(job__task_type=filters["task"])
    else:
        filters["task"] = ""
    since, until = _parse_date(filters["since"]), _parse_date(filters["until"])
    if since:
        images = images.filter(created_at__date__gte=since)
    if until:
        images = images.filter(created_at__date__lte=until)
    if filters["q"]:
        images = images.filter(job__params__positivePrompt__icontains=filters["q"])
    page = Paginator(images, GALLERY_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("fragment", None)
    context = {
        "page": page,
        "filters": filters,
        "filtered": any(filters.values()),
        "query": query.urlencode(),
        "user_id": user.id,
    }
    if request.GET.get("fragment"):
        response = render(request, "studio/_gallery_items.html", context)
        response["X-Next-Page"] = str(page.next_page_number()) if page.has_next() else ""
        return response
    context.update({
        "models": access.checkpoints_for(user).order_by("name"),
        "task_choices": [(task.key, task.label) for task in TASK_TYPES.values()],
    })
    return render(request, "studio/gallery.html", context)


def _get_image(request, image_id):
    return get_object_or_404(
        access.images_visible_to(request.user).select_related("job", "job__model", "owner", "team"), id=image_id
    )


@login_required
def image_detail(request, image_id):
    image = _get_image(request, image_id)
    job = image.job
    plan, spec = job_plan(job)
    params = job.params
    a1111_text = a1111_parameters(params, seed=image.seed, model_name=job.model.name, steps_run=job.total_steps) \
        if {"steps", "CFGScale", "width", "height", "model"} <= params.keys() else ""
    return render(request, "studio/image_detail.html", {
        "image": image,
        "job": job,
        "params": params,
        "plan": plan,
        "spec": spec,
        "convergence": schedulers.CONVERGENCE.get(spec.convergence) if spec else None,
        "phases": phase_strip(plan.requested, plan.first_step) if plan else [],
        "a1111_text": a1111_text,
        "is_owner": image.owner_id == request.user.id,
        "can_delete": access.can_delete_image(request.user, image),
        "task_slug": task_slug(job.task_type),
        "task_label": task_label(job.task_type),
        "model_label": model_label(job.model),
        "source_preview": source_preview(request.user, params.get("seedImage")) if params.get("seedImage") else None,
        "visibility_choices": Visibility.choices,
    })


@require_POST
@login_required
def image_visibility(request, image_id):
    image = _get_image(request, image_id)
    if image.owner_id != request.user.id:
        raise PermissionDenied("Only the owner can change who sees this image.")
    visibility = request.POST.get("visibility")
    if visibility not in Visibility.values:
        messages.error(request, "Choose Private or Team.")
    else:
        services.image_set_visibility(image=image, visibility=visibility)
        if visibility == Visibility.TEAM and image.team_id:
            messages.success(request, f"Shared with {image.team}.")
        elif visibility == Visibility.TEAM:
            messages.info(request, "Set to Team, but this image belongs to no team, so only you see it.")
        else:
            messages.success(request, "Private: only you can see this image now.")
    return redirect(safe_next(request, reverse("image_detail", args=[image.id])))


@require_POST
@login_required
def image_delete(request, image_id):
    image = _get_image(request, image_id)
    if not access.can_delete_image(request.user, image):
        raise PermissionDenied("Only the owner or a team admin can delete this image.")
    services.image_delete(image=image)
    messages.success(request, "Image deleted.")
    return redirect(safe_next(request, reverse("gallery")))
