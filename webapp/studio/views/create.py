"""The create page: one form per task type, and the step advice it asks for while sliders move."""

import math

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from generation import schedulers
from generation.advice import cost_sentence, time_sentence
from generation.steps import HIRES_UPSCALES, job_plan, upscaled_size
from generation.task_types import TASK_BY_SLUG, TEXT_TO_IMAGE
from generation.vocabulary import for_browser
from webapp.jobs.services import comparison_create, job_create
from webapp.studio import access, forms
from webapp.studio.fields import InvalidRequest
from webapp.studio.models import ModelEntry
from webapp.studio.schema import validate_inference
from webapp.studio.views.form_state import (
    FIELD_ERRORS,
    MAX_STEPS,
    MIN_STEPS,
    UPSCALE_CHOICES,
    initial_plan,
    initial_values,
    recent_prompts,
)
from webapp.studio.views.presenters import (
    addon_json,
    measured_seconds_per_step,
    model_advice,
    model_json,
    model_label,
    source_preview,
    task_tabs,
)
from webapp.studio.views.styles import styles_for


def _task_or_404(slug):
    task = TASK_BY_SLUG.get(slug)
    if task is None:
        raise Http404("Unknown task type.")
    return task


@login_required
def create(request, task):
    """One form per task type, posting to itself.

    1. POST: build the payload, validate it with the one schema, then store the job.
    2. Invalid: re-render with the user's values and an error next to each named field (HTTP 400).
    3. GET: defaults of the default model, or the values of ?reuse=<image> / ?source=<image>.
    """
    task_info = _task_or_404(task)
    task_type = task_info.key
    user = request.user
    errors = {}
    status = 200
    if request.method == "POST":
        # 1. Validate and store
        payload = forms.inference_payload(request.POST, request.FILES, task_type)
        limit_errors = forms.form_limit_errors(payload)
        compare = request.POST.get("compare") == "1"
        try:
            if compare:
                # "Compare steps": the same request and seed at several step counts, one job each.
                comparison = comparison_create(user=user, task_type=task_type, payload={
                    **payload, "compareSteps": request.POST.get("compareSteps", ""),
                    "compareSchedulers": request.POST.get("compareSchedulers", "")})
                return redirect("comparison_detail", comparison_id=comparison.id)
            valid = validate_inference(payload, user=user, task_type=task_type)
            if limit_errors:
                raise InvalidRequest(limit_errors)
            job = job_create(user=user, valid=valid)
        except InvalidRequest as exc:
            errors = forms.form_errors({e.parameter: e.message for e in limit_errors} | exc.by_field())
        else:
            return redirect("job_detail", job_id=job.id)
        # 2. Re-render
        values = forms.values_from_post(request.POST, request.FILES, payload, errors)
        status = 400
    else:
        # 3. Defaults
        values = initial_values(request, task_type, access.default_model_for(user))

    models = [m for m in access.checkpoints_for(user).order_by("-is_default", "name") if m.enabled]
    kinds = ModelEntry.Kind
    addons = [addon_json(entry) for entry in access.addons_for(user, kinds.LORA, kinds.LYCORIS, kinds.EMBEDDING,
                                                                kinds.VAE).order_by("name")]
    picker_images = []
    recent_images = []
    if task_info.needs_source:
        picker_images = access.images_visible_to(user).select_related("owner", "job")[:24]
    else:
        recent_images = access.images_visible_to(user).filter(owner=user)[:6]
    context = {
        "task_type": task_type,
        "task_slug": task,
        "task_label": task_info.label,
        "task_blurb": task_info.blurb,
        "tabs": task_tabs(task_type),
        "image_task": task_info.needs_source,
        "models": [{"air": m.air, "label": model_label(m), "group": m.arch.label} for m in models],
        "models_json": [model_json(m) for m in models],
        "schedulers_json": schedulers.catalog(),
        "vocabulary_json": for_browser(),
        "values": values,
        "errors": errors,
        "other_errors": {k: v for k, v in errors.items() if k not in FIELD_ERRORS},
        "source_preview": source_preview(user, values.get("seedImageId")),
        "mask_preview": source_preview(user, values.get("maskImageId")),
        "picker_images": picker_images,
        "recent_images": recent_images,
        "max_results": forms.FORM_MAX_RESULTS,
        "sides": [(side, forms.outpaint_input_name(side), values.get(forms.outpaint_input_name(side), ""))
                  for side in forms.OUTPAINT_SIDES],
        "initial_plan": initial_plan(values, models, task_type),
        "compare_open": request.GET.get("compare") == "1" or bool(
            {"compareSteps", "compareSchedulers"} & errors.keys()) or request.POST.get("compare") == "1",
        "recent_prompts": recent_prompts(user),
        "styles_json": styles_for(user),
        "loras": [a for a in addons if a["kind"] in (kinds.LORA, kinds.LYCORIS)],
        "embeddings": [a for a in addons if a["kind"] == kinds.EMBEDDING],
        "vaes": [a for a in addons if a["kind"] == kinds.VAE],
        # The second passes: the hires fix (text to image), upscale (image to image), the SDXL refiner.
        "upscale_choices": list(UPSCALE_CHOICES.items()),
        "refiners": [{"air": m.air, "label": model_label(m)} for m in models if m.family == "sdxl"],
        "clip_skip_choices": [("0", "0: none"), ("1", "1 (A1111's 2)"), ("2", "2 (A1111's 3)")],
        "addons_json": {"loras": [a for a in addons if a["kind"] in (kinds.LORA, kinds.LYCORIS)],
                        "initialLoras": values.get("lora") or []},
    }
    return render(request, "studio/create.html", context, status=status)


@require_GET
@login_required
def create_advice(request, task):
    """The document's advice for the form's current values, as JSON: create.js asks while sliders move.

    ?model=<air>&scheduler=<name>&steps=<1-100>[&strength=<float>][&numberResults=<n>][&width=&height=]
     [&refinerStartStep=<n> | &hiresSteps=<n>&hiresStrength=<float>&hiresUpscale=<1.5|2>]
    -> {"advice": [{level, key, text}] (at most one), "cost": "20 steps instead of 30: 33% less compute.",
        "estimate": "About 8.4 s of GPU time on this server (0.42 s per step, from its steps profile)." or ""}
    """
    task_info = _task_or_404(task)
    model = access.checkpoints_for(request.user).filter(air=request.GET.get("model", ""), enabled=True).first()
    if model is None:
        return JsonResponse({"error": "Unknown model, or not enabled for your team.", "advice": []}, status=400)
    try:
        steps = int(request.GET.get("steps", ""))
        number_results = int(request.GET.get("numberResults", "1"))
        width = int(request.GET.get("width") or model.defaults()["width"])
        height = int(request.GET.get("height") or model.defaults()["height"])
        strength = float(request.GET.get("strength", "")) if task_info.needs_source else None
        spec = schedulers.resolve(request.GET.get("scheduler") or "Default", model.arch.family,
                                  default=model.defaults()["scheduler"])
        second_pass = _second_pass(request.GET, task_info.key)
    except (ValueError, schedulers.UnknownScheduler) as exc:
        return JsonResponse({"error": str(exc), "advice": []}, status=400)
    if not MIN_STEPS <= steps <= MAX_STEPS or (strength is not None and not math.isfinite(strength)):
        return JsonResponse({"error": f"steps must be {MIN_STEPS}-{MAX_STEPS}.", "advice": []}, status=400)
    if not 1 <= number_results <= forms.FORM_MAX_RESULTS:
        return JsonResponse({"error": f"numberResults must be 1-{forms.FORM_MAX_RESULTS}.", "advice": []}, status=400)
    advice = model_advice(model, scheduler=spec, task_type=task_info.key, steps=steps, strength=strength)
    cost = cost_sentence(architecture=model.architecture, task_type=task_info.key, steps=steps,
                         strength=strength if strength is not None else 1.0, scheduler_order=spec.order,
                         reference_steps=model.recommended_steps[1], number_results=number_results)
    upscale = second_pass.pop("upscale", None)
    plan = job_plan(architecture=model.architecture, task_type=task_info.key, steps=steps,
                    strength=strength if strength is not None else 1.0, scheduler_order=spec.order, **second_pass)
    # Each pass at its own size: a hires pass runs on the upscaled image, where a step costs more.
    rate, measured = measured_seconds_per_step(model, scheduler=spec.name, width=width, height=height)
    seconds = 0.0
    for step_pass in plan.passes:
        pass_rate = rate
        if step_pass.name == "hires" and rate and upscale:
            big = upscaled_size(width, height, upscale=upscale, multiple=model.arch.size_multiple)
            measured_big, _ = measured_seconds_per_step(model, scheduler=spec.name, width=big[0], height=big[1])
            pass_rate = measured_big or rate * (big[0] * big[1]) / (width * height)  # else: by pixel count
        seconds += (pass_rate or 0.0) * step_pass.plan.steps
    estimate = time_sentence(steps_run=plan.steps, number_results=number_results,
                             seconds_per_step=seconds / plan.steps if rate and plan.steps else None,
                             measured=measured, gpu_hour_price=settings.STEPWISE_GPU_HOUR_PRICE)
    return JsonResponse({"advice": [item.as_dict() for item in advice], "cost": cost, "estimate": estimate})


def _second_pass(query, task_type: str) -> dict:
    """The advice view's second-pass parameters, as job_plan takes them (plus the hires upscale)."""
    if task_type != TEXT_TO_IMAGE:
        return {}
    if query.get("refinerStartStep"):
        return {"refiner_start_step": int(query["refinerStartStep"])}
    if query.get("hiresSteps") and query.get("hiresStrength"):
        strength = float(query["hiresStrength"])
        if not 0 < strength <= 1:
            raise ValueError("hiresStrength must be above 0 and at most 1.")
        upscale = float(query.get("hiresUpscale") or HIRES_UPSCALES[0])
        if upscale not in HIRES_UPSCALES:
            raise ValueError(f"hiresUpscale must be one of {', '.join(f'{u:g}' for u in HIRES_UPSCALES)}.")
        return {"hires_steps": int(query["hiresSteps"]), "hires_strength": strength, "upscale": upscale}
    return {}
