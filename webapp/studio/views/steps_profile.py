"""A model's measured steps profiles (generation/profile.py): the chart, the recommendation, the saving.
Staff can queue a new profile from here, as from the catalog admin's "Profile steps" action."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import mark_safe

from generation import schedulers
from generation.profile import chart_svg
from webapp.jobs import queue
from webapp.studio import access


def _model(request, model_id):
    return get_object_or_404(access.models_for(request.user), id=model_id)


@login_required
def model_steps(request, model_id):
    """GET: the stored profiles. POST (staff): queue a profile for a scheduler and size."""
    entry = _model(request, model_id)
    defaults = entry.defaults()
    if request.method == "POST":
        if not request.user.is_staff:
            raise PermissionDenied("Only staff can profile models.")
        try:
            spec = schedulers.resolve(request.POST.get("scheduler") or defaults["scheduler"], entry.arch.family)
            width = int(request.POST.get("width") or defaults["width"])
            height = int(request.POST.get("height") or defaults["height"])
            prompts = int(request.POST.get("prompts") or 3)
            if not (64 <= width <= entry.arch.max_size and 64 <= height <= entry.arch.max_size and 1 <= prompts <= 8):
                raise ValueError(f"size must be 64-{entry.arch.max_size} per side and prompts 1-8.")
        except (ValueError, schedulers.UnknownScheduler) as exc:
            messages.error(request, f"Not queued: {exc}")
        else:
            queue.model_profile_steps(entry=entry, scheduler=spec.name, width=width, height=height, prompts=prompts)
            messages.info(request, f"Queued a steps profile of {entry.name} with {spec.name} at {width}x{height}; "
                                   "a worker renders it, then it appears here.")
        return redirect("model_steps", model_id=entry.id)
    profiles = []
    for row in entry.step_profiles.all():
        result = row.profile
        profiles.append({"row": row, "result": result, "chart": mark_safe(chart_svg(result)),  # noqa: S308 (our SVG)
                         "measured": result.measured_sentence(),
                         "saving": result.saving_sentence(defaults["steps"])})
    return render(request, "studio/model_steps.html", {
        "entry": entry,
        "defaults": defaults,
        "profiles": profiles,
        "scheduler_names": [s["name"] for s in schedulers.catalog()[entry.arch.family]],
    })
