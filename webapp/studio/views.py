"""Studio pages. Plain function views; every lookup goes through `access`, every write through `services`."""

import datetime
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from generation import schedulers
from generation.architectures import ARCHITECTURES, PHASES
from generation.steps import effective_steps
from webapp.studio import access, events, forms, services
from webapp.studio.images import a1111_parameters
from webapp.studio.models import Image, Job, Upload, Visibility
from webapp.studio.schema import InvalidRequest, step_advice, validate_inference

GALLERY_PAGE_SIZE = 24
JOBS_PAGE_SIZE = 20
BUILTIN_LABEL = "Built-in test model (tiny, random weights — makes abstract patterns, for trying Stepwise without a GPU)"
# Form fields shown next to their own input; any other error goes to the banner above the form.
FIELD_ERRORS = {
    "positivePrompt", "negativePrompt", "model", "scheduler", "steps", "CFGScale", "seed", "numberResults",
    "width", "height", "strength", "seedImage", "maskImage", "outpaint",
}


def _safe_next(request, fallback):
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


def _optional_template(name):
    """A template other code may provide later; None while it does not exist."""
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return None
    return name


# Home -----------------------------------------------------------------------------------------


@login_required
def home(request):
    recent_jobs = (
        access.jobs_visible_to(request.user).filter(owner=request.user).select_related("model")
        .prefetch_related(Prefetch("images", queryset=Image.objects.order_by("index")))[:6]
    )
    team_images = (
        access.images_visible_to(request.user).exclude(owner=request.user).select_related("owner", "job")[:8]
    )
    return render(request, "studio/home.html", {
        "tasks": _task_tabs(None),
        "recent_jobs": recent_jobs,
        "team_images": team_images,
        "default_model": access.default_model_for(request.user),
    })


# Create ---------------------------------------------------------------------------------------


def _task_tabs(current):
    return [
        {"slug": slug, "task": task, "label": forms.TASK_LABELS[task], "blurb": forms.TASK_BLURBS[task],
         "url": reverse("create", args=[slug]), "active": task == current}
        for slug, task in forms.TASK_SLUGS.items()
    ]


def model_label(entry):
    return BUILTIN_LABEL if entry.builtin else entry.name


def _model_json(entry):
    arch = entry.arch
    return {
        "air": entry.air,
        "name": entry.name,
        "label": model_label(entry),
        "architecture": entry.architecture,
        "architectureLabel": arch.label,
        "family": arch.family,
        "distilled": arch.distilled,
        "recommendedSteps": list(entry.recommended_steps),
        "defaults": entry.defaults(),
        "notes": entry.notes,
        "builtin": entry.builtin,
        "sizeMultiple": arch.size_multiple,
        "maxSize": arch.max_size,
        "stepsAdvice": arch.steps_advice,
    }


def _source_preview(user, image_id):
    """What the form shows for an existing source id: a visible image, or the user's own upload."""
    if not image_id:
        return None
    try:
        image = access.images_visible_to(user).filter(id=image_id).first()
    except Exception:  # not a UUID
        return None
    if image is not None:
        return {"id": str(image.id), "url": reverse("image_file", args=[image.id]),
                "width": image.width, "height": image.height}
    upload = Upload.objects.filter(id=image_id, owner=user).first()
    if upload is not None:
        return {"id": str(upload.id), "url": reverse("upload_file", args=[upload.id]),
                "width": upload.width, "height": upload.height}
    return None


def _reuse_values(request, task_type, reuse_id):
    """Form values from an image's (or a job's) request: "reuse these parameters"."""
    image = access.images_visible_to(request.user).select_related("job").filter(id=reuse_id).first()
    job = image.job if image else access.jobs_visible_to(request.user).filter(id=reuse_id).first()
    if job is None:
        messages.warning(request, "That image is not available to you, so the form starts from the defaults.")
        return {}
    req = job.request
    values = {name: req[name] for name in forms.FIELDS if req.get(name) not in (None, "")}
    values["seed"] = image.seed if image else req.get("seed")
    values["numberResults"] = 1 if image else req.get("numberResults", 1)
    for side in forms.OUTPAINT_SIDES:
        if side in req.get("outpaint", {}):
            values[forms.outpaint_input_name(side)] = req["outpaint"][side]
    if "blur" in req.get("outpaint", {}):
        values["outpaintBlur"] = req["outpaint"]["blur"]
    if task_type != "textToImage" and req.get("seedImage") and _source_preview(request.user, req["seedImage"]):
        values["seedImageId"] = req["seedImage"]
    if task_type == "inpainting" and req.get("maskImage") and _source_preview(request.user, req["maskImage"]):
        values["maskImageId"] = req["maskImage"]
    if task_type == "outpainting":
        values.pop("width", None)
        values.pop("height", None)
    return {k: str(v) for k, v in values.items()}


def _initial_values(request, task_type, model):
    values = {}
    if model is not None:
        defaults = model.defaults()
        values = {"model": model.air, "steps": defaults["steps"], "CFGScale": defaults["CFGScale"],
                  "scheduler": defaults["scheduler"], "width": defaults["width"], "height": defaults["height"],
                  "strength": f'{0.9 if task_type == "outpainting" else defaults["strength"]:.2f}'}
    values.update(numberResults=1, outpaintTop=0, outpaintRight=256, outpaintBottom=0, outpaintLeft=0,
                  outpaintBlur=8)
    if task_type != "textToImage":
        values.pop("width")
        values.pop("height")
    values = {k: str(v) for k, v in values.items()}
    if request.GET.get("reuse"):
        values.update(_reuse_values(request, task_type, request.GET["reuse"]))
    if request.GET.get("source") and task_type != "textToImage":
        if _source_preview(request.user, request.GET["source"]):
            values["seedImageId"] = request.GET["source"]
        else:
            messages.warning(request, "That source image is not available to you.")
    return values


def _plan_text(values, models, task_type):
    """The step counter as the page first shows it (create.js keeps it live from then on)."""
    model = next((m for m in models if m.air == values.get("model")), None)
    try:
        steps = int(values.get("steps", ""))
        strength = float(values.get("strength") or 1.0)
        spec = schedulers.resolve(values.get("scheduler") or "Default", model.arch.family,
                                  default=model.defaults()["scheduler"])
    except (AttributeError, ValueError, schedulers.UnknownScheduler):
        return ""
    plan = effective_steps(architecture=model.architecture, task_type=task_type, steps=steps, strength=strength,
                           scheduler_order=spec.order)
    if task_type == "textToImage":
        return f"{plan.steps} steps will run"
    return f"{plan.steps} of {plan.requested} steps will run"


@login_required
def create(request, task):
    """One form per task type, posting to itself.

    1. POST: build the payload, validate it with the one schema, then store the job.
    2. Invalid: re-render with the user's values and an error next to each named field (HTTP 400).
    3. GET: defaults of the default model, or the values of ?reuse=<image> / ?source=<image>.
    """
    task_type = forms.TASK_SLUGS.get(task)
    if task_type is None:
        raise Http404("Unknown task type.")
    user = request.user
    errors = {}
    status = 200
    if request.method == "POST":
        # 1. Validate and store
        payload = forms.inference_payload(request.POST, request.FILES, task_type)
        limit_errors = forms.form_limit_errors(payload)
        try:
            valid = validate_inference(payload, user=user, task_type=task_type)
            if limit_errors:
                raise InvalidRequest(limit_errors)
            job = services.job_create(user=user, valid=valid)
        except InvalidRequest as exc:
            errors = {e.parameter: e.message for e in limit_errors} | exc.by_field()
        else:
            return redirect("job_detail", job_id=job.id)
        # 2. Re-render
        values = forms.values_from_post(request.POST, request.FILES, payload, errors)
        status = 400
    else:
        # 3. Defaults
        values = _initial_values(request, task_type, access.default_model_for(user))

    models = [m for m in access.models_for(user).order_by("-is_default", "name") if m.enabled]
    picker_images = []
    recent_images = []
    if task_type == "textToImage":
        recent_images = access.images_visible_to(user).filter(owner=user)[:6]
    else:
        picker_images = access.images_visible_to(user).select_related("owner", "job")[:24]
    context = {
        "task_type": task_type,
        "task_slug": task,
        "task_label": forms.TASK_LABELS[task_type],
        "task_blurb": forms.TASK_BLURBS[task_type],
        "tabs": _task_tabs(task_type),
        "image_task": task_type != "textToImage",
        "models": [{"air": m.air, "label": model_label(m), "group": m.arch.label} for m in models],
        "models_json": [_model_json(m) for m in models],
        "schedulers_json": schedulers.catalog(),
        "values": values,
        "errors": errors,
        "other_errors": {k: v for k, v in errors.items() if k not in FIELD_ERRORS},
        "source_preview": _source_preview(user, values.get("seedImageId")),
        "mask_preview": _source_preview(user, values.get("maskImageId")),
        "picker_images": picker_images,
        "recent_images": recent_images,
        "max_results": forms.FORM_MAX_RESULTS,
        "sides": [(side, forms.outpaint_input_name(side), values.get(forms.outpaint_input_name(side), ""))
                  for side in forms.OUTPAINT_SIDES],
        "initial_plan_text": _plan_text(values, models, task_type),
    }
    return render(request, "studio/create.html", context, status=status)


# Jobs -----------------------------------------------------------------------------------------


def _job_plan(job):
    """(StepPlan, SchedulerSpec) of a stored job, or (None, None) for a request we cannot read back."""
    req = job.request
    try:
        spec = schedulers.resolve(req.get("scheduler", "Default"), job.model.arch.family,
                                  default=job.model.defaults()["scheduler"])
        plan = effective_steps(architecture=job.model.architecture, task_type=job.task_type,
                               steps=int(req["steps"]), strength=float(req.get("strength", 1.0)),
                               scheduler_order=spec.order)
    except (KeyError, TypeError, ValueError, schedulers.UnknownScheduler):
        return None, None
    return plan, spec


def _phase_strip(requested, first_step):
    """The phases of the full schedule, each with how many of its steps this run covers."""
    strip = []
    for low, high, name, description in PHASES:
        top = min(high or requested, requested)
        in_schedule = max(0, top - low + 1)
        run = max(0, top - max(low, first_step) + 1)
        if in_schedule:
            strip.append({"name": name, "description": description, "low": low, "high": top,
                          "in_schedule": in_schedule, "run": run, "partial": 0 < run < in_schedule})
    return strip


def ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _get_job(request, job_id):
    job = get_object_or_404(access.jobs_visible_to(request.user).select_related("model", "owner", "team"), id=job_id)
    if not access.can_view_job(request.user, job):
        raise Http404("No such job.")
    return job


@login_required
def job_detail(request, job_id):
    job = _get_job(request, job_id)
    plan, spec = _job_plan(job)
    advice = []
    if plan is not None and plan.steps >= 1:
        advice = step_advice(model=job.model, plan=plan, spec=spec, task_type=job.task_type,
                             strength=job.request.get("strength"))
    images = list(job.images.order_by("index"))
    snapshot = events.job_snapshot(job)
    seed = job.request.get("seed")
    timings = []
    if job.started_at:
        timings.append(("Waited in queue", max(0.0, (job.started_at - job.queued_at).total_seconds())))
    if job.started_at and job.finished_at:
        timings.append(("Ran for", (job.finished_at - job.started_at).total_seconds()))
    if job.gpu_seconds:
        timings.append(("GPU time", job.gpu_seconds))
    if images and job.total_steps:
        per_image = sum(i.seconds for i in images) / len(images)
        if per_image:
            timings.append(("Per step", per_image / job.total_steps))
    return render(request, "studio/job_detail.html", {
        "job": job,
        "req": job.request,
        "plan": plan,
        "spec": spec,
        "convergence": schedulers.CONVERGENCE.get(spec.convergence) if spec else None,
        "advice": advice,
        "images": images,
        "snapshot": snapshot,
        "queue_text": f"{ordinal(snapshot['queuePosition'])} in queue" if snapshot["queuePosition"] else "Waiting",
        "phases": _phase_strip(plan.requested, plan.first_step) if plan else [],
        "seed_last": seed + job.number_results - 1 if isinstance(seed, int) else None,
        "timings": timings,
        "is_owner": job.owner_id == request.user.id,
        "task_slug": forms.SLUG_FOR_TASK.get(job.task_type, "text-to-image"),
        "task_label": forms.TASK_LABELS.get(job.task_type, job.task_type),
        "model_label": model_label(job.model),
    })


@require_POST
@login_required
def job_cancel(request, job_id):
    job = _get_job(request, job_id)
    if job.owner_id != request.user.id:
        # Teammates may watch a job, but only its owner stops it.
        raise PermissionDenied("Only the owner can cancel this job.")
    if job.is_finished:
        messages.info(request, f"This job had already {job.status}.")
    else:
        job = services.job_cancel(job=job)
        if job.status == Job.Status.CANCELLED:
            messages.success(request, "Cancelled: the job left the queue.")
        else:
            messages.success(request, "Cancelling: the job stops after its current step.")
    return redirect(_safe_next(request, reverse("job_detail", args=[job.id])))


def _queue_positions(jobs):
    """Queue positions of the queued jobs on a page, from one query over the whole queue."""
    if not any(job.status == Job.Status.QUEUED for job in jobs):
        return {}
    order = Job.objects.filter(status=Job.Status.QUEUED).order_by("-priority", "queued_at").values_list("id", flat=True)
    return {job_id: position for position, job_id in enumerate(order[:5000], start=1)}


JOB_FILTERS = {
    "": ("All", None),
    "active": ("In progress", [Job.Status.QUEUED, Job.Status.RUNNING]),
    "succeeded": ("Succeeded", [Job.Status.SUCCEEDED]),
    "problems": ("Failed or cancelled", [Job.Status.FAILED, Job.Status.CANCELLED]),
}


@login_required
def job_list(request):
    status_filter = request.GET.get("status", "")
    if status_filter not in JOB_FILTERS:
        status_filter = ""
    jobs = (
        access.jobs_visible_to(request.user).filter(owner=request.user).select_related("model")
        .prefetch_related(Prefetch("images", queryset=Image.objects.order_by("index")))
        .order_by("-queued_at")
    )
    statuses = JOB_FILTERS[status_filter][1]
    if statuses:
        jobs = jobs.filter(status__in=statuses)
    page = Paginator(jobs, JOBS_PAGE_SIZE).get_page(request.GET.get("page"))
    positions = _queue_positions(page.object_list)
    for job in page.object_list:
        job.queue_text = f"{ordinal(positions[job.id])} in queue" if job.id in positions else ""
        if job.status == Job.Status.RUNNING:
            job.queue_text = f"step {job.step} of {job.total_steps}"
        job.task_label = forms.TASK_LABELS.get(job.task_type, job.task_type)
    return render(request, "studio/job_list.html", {
        "page": page,
        "filters": [(key, label, key == status_filter) for key, (label, _) in JOB_FILTERS.items()],
        "status_filter": status_filter,
    })


# Gallery and images ---------------------------------------------------------------------------


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
    if filters["task"] in forms.TASK_LABELS:
        images = images.filter(job__task_type=filters["task"])
    else:
        filters["task"] = ""
    since, until = _parse_date(filters["since"]), _parse_date(filters["until"])
    if since:
        images = images.filter(created_at__date__gte=since)
    if until:
        images = images.filter(created_at__date__lte=until)
    if filters["q"]:
        images = images.filter(job__request__positivePrompt__icontains=filters["q"])
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
        "models": access.models_for(user).order_by("name"),
        "task_choices": list(forms.TASK_LABELS.items()),
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
    plan, spec = _job_plan(job)
    req = job.request
    parameters = a1111_parameters(req, seed=image.seed, model_name=job.model.name, steps_run=job.total_steps) \
        if {"steps", "CFGScale", "width", "height", "model"} <= req.keys() else ""
    source_preview = _source_preview(request.user, req.get("seedImage")) if req.get("seedImage") else None
    return render(request, "studio/image_detail.html", {
        "image": image,
        "job": job,
        "req": req,
        "plan": plan,
        "spec": spec,
        "convergence": schedulers.CONVERGENCE.get(spec.convergence) if spec else None,
        "phases": _phase_strip(plan.requested, plan.first_step) if plan else [],
        "parameters": parameters,
        "is_owner": image.owner_id == request.user.id,
        "can_delete": access.can_delete_image(request.user, image),
        "task_slug": forms.SLUG_FOR_TASK.get(job.task_type, "text-to-image"),
        "task_label": forms.TASK_LABELS.get(job.task_type, job.task_type),
        "model_label": model_label(job.model),
        "source_preview": source_preview,
        "visibility_choices": Visibility.choices,
        "request_json": json.dumps({k: v for k, v in req.items()}, indent=2, sort_keys=True),
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
    return redirect(_safe_next(request, reverse("image_detail", args=[image.id])))


@require_POST
@login_required
def image_delete(request, image_id):
    image = _get_image(request, image_id)
    if not access.can_delete_image(request.user, image):
        raise PermissionDenied("Only the owner or a team admin can delete this image.")
    services.image_delete(image=image)
    messages.success(request, "Image deleted.")
    return redirect(_safe_next(request, reverse("gallery")))


# Account --------------------------------------------------------------------------------------


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
        "api_keys_template": _optional_template("studio/_api_keys.html"),
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
        return redirect(_safe_next(request, reverse("account")))
    profile = services.profile_for(request.user)
    profile.active_team_id = team_id
    profile.save(update_fields=["active_team"])
    messages.success(request, f"Now working in {profile.active_team}: new jobs are shared with this team.")
    return redirect(_safe_next(request, reverse("account")))


# Reference pages ------------------------------------------------------------------------------


GUIDE_REQUEST_EXAMPLE = json.dumps([{
    "taskType": "imageInference",
    "model": "civitai:101055@128078",
    "positivePrompt": "A giant jellyfish floating through a sunlit canyon",
    "steps": 30,
    "width": 1024,
    "height": 1024,
}], indent=2)


@login_required
def guide(request):
    catalog = schedulers.catalog()
    by_class = []
    for key, info in schedulers.CONVERGENCE.items():
        names = [s["name"] for s in catalog["sd15"] if s["convergence"] == key]
        flow = [s["name"] for s in catalog["flux"] if s["convergence"] == key]
        order2 = [s["name"] for s in catalog["sd15"] if s["convergence"] == key and s["order"] == 2]
        by_class.append({"key": key, **info, "names": names, "flow": flow, "order2": order2})
    return render(request, "studio/guide.html", {
        "phases": [{"low": low, "high": high, "name": name, "description": description}
                   for low, high, name, description in PHASES],
        "architectures": ARCHITECTURES.values(),
        "scheduler_classes": by_class,
        "request_example": GUIDE_REQUEST_EXAMPLE,
        "models": [_model_json(m) for m in access.models_for(request.user) if m.enabled],
        "schedulers_json": catalog,
    })


@login_required
def api_docs(request):
    return render(request, "studio/api_docs.html", {})

