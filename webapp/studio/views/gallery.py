"""The gallery (also a board's page: the gallery filtered by that board), and an image's page: who sees
it, deleting it, its boards, and the parameters that made it."""

import datetime
import io
import uuid
import zipfile

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from generation import schedulers
from generation.steps import upscaled_size
from generation.task_types import TASK_TYPES
from webapp.studio import access, services
from webapp.studio.images import a1111_parameters
from webapp.studio.models import Visibility
from webapp.studio.schema import result_seeds, stored_job_plan
from webapp.studio.views.common import safe_next
from webapp.studio.views.form_state import UPSCALE_CHOICES
from webapp.studio.views.presenters import (
    job_plan,
    model_label,
    phase_strip,
    replay_frames,
    source_preview,
    task_label,
    task_slug,
)

GALLERY_PAGE_SIZE = 24
# The most images one bulk action (delete, visibility, zip download) takes at once.
BULK_MAX = 100
BULK_ACTIONS = {"delete", "private", "team", "zip", "board", "unboard"}


def _parse_date(value):
    try:
        return datetime.date.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def _filtered_images(request):
    """The images the user may see, newest first, with the gallery's filters from the query string."""
    user = request.user
    images = access.images_visible_to(user).select_related("owner", "job", "job__model").order_by("-created_at", "-id")
    filters = {
        "scope": request.GET.get("scope", ""),
        "model": request.GET.get("model", ""),
        "task": request.GET.get("task", ""),
        "since": request.GET.get("since", ""),
        "until": request.GET.get("until", ""),
        "q": request.GET.get("q", "").strip(),
        "favourites": request.GET.get("favourites", ""),
        "board": request.GET.get("board", ""),
    }
    board = _board_or_none(user, filters["board"])
    if board is not None:
        images = images.filter(boards=board)
    else:
        filters["board"] = ""
    if filters["favourites"] == "1":
        images = images.filter(favourited_by=user)
    else:
        filters["favourites"] = ""
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
    return images, filters


def _board_or_none(user, board_id):
    """A board this user sees, by id, or None (also for an id that is no UUID)."""
    try:
        return access.boards_visible_to(user).filter(id=uuid.UUID(str(board_id))).first()
    except ValueError:
        return None


def _filter_query(request):
    """The gallery's filters as a query string (no page), for links that keep them."""
    query = request.GET.copy()
    for name in ("page", "fragment"):
        query.pop(name, None)
    return query.urlencode()


@login_required
def gallery(request):
    """Images the user may see, newest first, filtered; `?fragment=1` returns only the grid items."""
    user = request.user
    images, filters = _filtered_images(request)
    page = Paginator(images, GALLERY_PAGE_SIZE).get_page(request.GET.get("page"))
    favourites = set(user.favourite_images.filter(id__in=[i.id for i in page.object_list]).values_list("id", flat=True))
    for image in page.object_list:
        image.is_favourite = image.id in favourites
    context = {
        "page": page,
        "filters": filters,
        "filtered": any(filters.values()),
        "narrowed": any(value for name, value in filters.items() if name != "board"),
        "query": _filter_query(request),
        "user_id": user.id,
    }
    if request.GET.get("fragment"):
        response = render(request, "studio/_gallery_items.html", context)
        response["X-Next-Page"] = str(page.next_page_number()) if page.has_next() else ""
        # The live gallery keeps its "N images" line right when new tiles arrive.
        response["X-Total-Count"] = str(page.paginator.count)
        return response
    boards = list(access.boards_visible_to(user).select_related("owner", "team"))
    board = next((b for b in boards if str(b.id) == filters["board"]), None)
    context.update({
        "boards": boards,
        "board": board,
        "can_delete_board": board is not None and access.can_delete_board(user, board),
        "models": access.checkpoints_for(user).order_by("name"),
        "task_choices": [(task.key, task.label) for task in TASK_TYPES.values()],
    })
    return render(request, "studio/gallery.html", context)


def _get_image(request, image_id):
    return get_object_or_404(
        access.images_visible_to(request.user).select_related("job", "job__model", "owner", "team"), id=image_id
    )


def _neighbours(request, image):
    """(newer, older) image next to `image` in the gallery under the same filters, or None at an end."""
    images, _ = _filtered_images(request)
    newer = images.filter(Q(created_at__gt=image.created_at) | Q(created_at=image.created_at, id__gt=image.id))
    older = images.filter(Q(created_at__lt=image.created_at) | Q(created_at=image.created_at, id__lt=image.id))
    return newer.order_by("created_at", "id").first(), older.first()


def _compare_box(job, image, params):
    """Where the source sits in the result, in percent of the result: all of it, except for outpainting."""
    outpaint = params.get("outpaint")
    if not outpaint or not image.width or not image.height:
        return {"left": 0, "top": 0, "width": 100, "height": 100}
    inner_w = image.width - outpaint["left"] - outpaint["right"]
    inner_h = image.height - outpaint["top"] - outpaint["bottom"]
    return {"left": 100 * outpaint["left"] / image.width, "top": 100 * outpaint["top"] / image.height,
            "width": 100 * inner_w / image.width, "height": 100 * inner_h / image.height}


@login_required
def image_detail(request, image_id):
    image = _get_image(request, image_id)
    newer, older = _neighbours(request, image)
    query = _filter_query(request)
    job = image.job
    plan, spec = job_plan(job)
    passes, _spec = stored_job_plan(job)
    params = job.params
    variation_seed = result_seeds(params, image.index)[1]
    # The image page's "Upscale" actions: image to image at 1.5x or 2x, offered where the result fits.
    max_size = job.model.arch.max_size
    upscale_actions = [{"value": value, "label": label} for value, label in UPSCALE_CHOICES.items()
                       if max(upscaled_size(image.width, image.height, upscale=float(value),
                                            multiple=job.model.arch.size_multiple)) <= max_size]
    a1111_text = a1111_parameters(params, seed=image.seed, variation_seed=variation_seed, model_name=job.model.name,
                                  steps_run=job.total_steps) \
        if {"steps", "CFGScale", "width", "height", "model"} <= params.keys() else ""
    return render(request, "studio/image_detail.html", {
        "image": image,
        "job": job,
        "params": params,
        "plan": plan,
        "spec": spec,
        "convergence": schedulers.CONVERGENCE.get(spec.convergence) if spec else None,
        "phases": phase_strip(plan.requested, plan.first_step) if plan else [],
        "replay": replay_frames(job, image.index, plan),
        "a1111_text": a1111_text,
        "variation_seed": variation_seed,
        "passes": passes.passes if passes and len(passes.passes) > 1 else [],
        "passes_steps": passes.steps if passes else job.total_steps,
        "upscale_actions": upscale_actions,
        "is_owner": image.owner_id == request.user.id,
        "is_favourite": image.favourited_by.filter(id=request.user.id).exists(),
        "can_delete": access.can_delete_image(request.user, image),
        "task_slug": task_slug(job.task_type),
        "task_label": task_label(job.task_type),
        "model_label": model_label(job.model),
        "source_preview": source_preview(request.user, params.get("seedImage")) if params.get("seedImage") else None,
        "compare_box": _compare_box(job, image, params),
        "visibility_choices": Visibility.choices,
        "boards": _image_boards(request.user, image),
        "newer": newer,
        "older": older,
        "query": query,
    })


def _image_boards(user, image):
    """The boards the user sees, split into those the image is on and those it could go on."""
    boards = list(access.boards_visible_to(user))
    on = set(image.board_items.filter(board__in=boards).values_list("board_id", flat=True))
    return {"on": [b for b in boards if b.id in on], "others": [b for b in boards if b.id not in on]}


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
def image_favourite(request, image_id):
    """POST favourite=1 (or 0): mark (or unmark) an image the user can see as one of their favourites.
    JSON for the page's script ({"favourite": bool}), a redirect without it."""
    image = _get_image(request, image_id)
    value = request.POST.get("favourite")
    if value not in ("0", "1"):
        if request.headers.get("Accept") == "application/json":
            return JsonResponse({"error": "favourite must be 1 or 0."}, status=400)
        messages.error(request, "favourite must be 1 or 0.")
        return redirect(safe_next(request, reverse("image_detail", args=[image.id])))
    services.image_set_favourite(image=image, user=request.user, favourite=value == "1")
    if request.headers.get("Accept") == "application/json":
        return JsonResponse({"favourite": value == "1"})
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


@require_POST
@login_required
def gallery_bulk(request):
    """Act on several selected images at once: delete, make private, share with the team, or download
    them as one zip. All or nothing: one image the user may not act on refuses the whole request."""
    back = safe_next(request, reverse("gallery"))
    action = request.POST.get("action", "")
    ids = request.POST.getlist("image")
    if action not in BULK_ACTIONS:
        messages.error(request, "Choose what to do with the selected images.")
        return redirect(back)
    if not ids:
        messages.error(request, "Select at least one image first.")
        return redirect(back)
    if len(ids) > BULK_MAX:
        messages.error(request, f"Select at most {BULK_MAX} images at a time.")
        return redirect(back)
    try:
        wanted = {uuid.UUID(value) for value in ids}
    except ValueError:
        messages.error(request, "Some of the selected images are not images.")
        return redirect(back)
    images = list(access.images_visible_to(request.user).filter(id__in=wanted).select_related("team"))
    if len(images) != len(wanted):
        messages.error(request, f"{len(wanted) - len(images)} of the selected images are not available to you: "
                                "nothing was changed.")
        return redirect(back)
    if action == "zip":
        return _zip_response(images)
    if action in ("board", "unboard"):
        # Adding names the chosen board; removing, the board whose page the selection was made on.
        board = _board_or_none(request.user, request.POST.get("board" if action == "board" else "current_board", ""))
        if board is None:
            messages.error(request, "Choose a board.")
            return redirect(back)
        if action == "board":
            added = services.board_add_images(board=board, images=images, user=request.user)
            messages.success(request, f"Added to {board.name}: {added} image{'s' if added != 1 else ''}"
                                      f"{f' ({len(images) - added} already there)' if added < len(images) else ''}.")
        else:
            with transaction.atomic():
                removed = sum(services.board_remove_image(board=board, image_id=image.id) for image in images)
            messages.success(request, f"Removed from {board.name}: {removed} image{'s' if removed != 1 else ''}.")
        return redirect(back)
    if action == "delete":
        refused = [i for i in images if not access.can_delete_image(request.user, i)]
        if refused:
            messages.error(request, f"You cannot delete {len(refused)} of these (only their owner or a team admin "
                                    "can): nothing was deleted.")
            return redirect(back)
        with transaction.atomic():
            for image in images:
                services.image_delete(image=image)
        messages.success(request, f"Deleted {len(images)} image{'s' if len(images) != 1 else ''}.")
        return redirect(back)
    refused = [i for i in images if i.owner_id != request.user.id]
    if refused:
        messages.error(request, f"{len(refused)} of these belong to others: only an image's owner changes who sees "
                                "it. Nothing was changed.")
        return redirect(back)
    with transaction.atomic():
        for image in images:
            services.image_set_visibility(image=image, visibility=action)
    label = "Private" if action == Visibility.PRIVATE else "Shared with the team"
    messages.success(request, f"{label}: {len(images)} image{'s' if len(images) != 1 else ''}.")
    return redirect(back)


def _zip_response(images):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # PNGs do not compress further
        for image in images:
            with image.file.open("rb") as handle:
                archive.writestr(f"stepwise-{image.seed}-{str(image.id)[:8]}.png", handle.read())
    response = HttpResponse(buffer.getvalue(), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="stepwise-{len(images)}-images.zip"'
    return response
