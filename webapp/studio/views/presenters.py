"""What pages show of a model, a task type, a source image and a job's step plan.

Read-only: presenters turn rows and the generation vocabulary into the plain values templates (and,
as JSON, the create page's script) display.
"""

from django.urls import reverse

from generation import schedulers
from generation.advice import Advice, range_note, step_advice
from generation.architectures import phase_ranges
from generation.steps import StepPlan
from generation.task_types import IMAGE_TO_IMAGE, INPAINTING, OUTPAINTING, TASK_TYPES, TEXT_TO_IMAGE
from webapp.studio import access, events
from webapp.studio.models import StepPreview, Upload

TASK_ICONS = {TEXT_TO_IMAGE: "text", IMAGE_TO_IMAGE: "layers", INPAINTING: "brush", OUTPAINTING: "expand"}
# The icon (templates/studio/_icon.html) for each advice level; create.js draws the same ones.
ADVICE_ICONS = {"ok": "ok", "info": "info", "warn": "warn", "error": "alert"}


# Task types -----------------------------------------------------------------------------------


def task_label(task_type: str) -> str:
    task = TASK_TYPES.get(task_type)
    return task.label if task else task_type


def task_slug(task_type: str) -> str:
    """The create page of a task type (text to image for one this server does not know)."""
    return TASK_TYPES.get(task_type, TASK_TYPES[TEXT_TO_IMAGE]).slug


def task_tabs(current):
    return [
        {"slug": task.slug, "task": task.key, "label": task.label, "blurb": task.blurb, "icon": TASK_ICONS[task.key],
         "needs_source": task.needs_source, "url": reverse("create", args=[task.slug]), "active": task.key == current}
        for task in TASK_TYPES.values()
    ]


# Models ---------------------------------------------------------------------------------------


def model_label(entry):
    return entry.name


def model_json(entry):
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
        "examplePrompts": [line.strip() for line in entry.example_prompts.splitlines() if line.strip()],
        "builtin": entry.builtin,
        "sizeMultiple": arch.size_multiple,
        "maxSize": arch.max_size,
        "stepsAdvice": range_note(model_name=entry.name, distilled=arch.distilled,
                                  recommended_steps=entry.recommended_steps),
        "measured": _measured(entry),
        "stepsUrl": reverse("model_steps", args=[entry.id]),
    }


def _measured(entry) -> str:
    """"Measured on this server: 22 steps reach 97% of the 50-step result (Euler, 512x512)."", or ""."""
    from webapp.studio.catalog import measured_profile

    row = measured_profile(entry)
    if row is None:
        return ""
    result = row.profile
    return f"{result.measured_sentence().capitalize()} ({result.scheduler}, {result.size})."


def addon_json(entry):
    return {
        "air": entry.air,
        "name": entry.name,
        "kind": entry.kind,
        "family": entry.family,
        "architectureLabel": entry.arch.label,
        "triggerWords": entry.trigger_word_list,
        "defaultWeight": entry.default_weight,
        "token": entry.token if entry.kind == "embedding" else "",
    }


# Source images --------------------------------------------------------------------------------


def source_preview(user, image_id):
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


# Steps, phases and advice ---------------------------------------------------------------------


def model_advice(model, *, scheduler, task_type, steps, strength) -> list[Advice]:
    """The product document's advice (generation/advice.py) for a request on a catalog model."""
    return step_advice(model_name=model.name, architecture=model.architecture,
                       recommended_steps=model.recommended_steps, scheduler=scheduler, task_type=task_type,
                       steps=steps, strength=strength)


def advice_items(advice: list[Advice]) -> list[dict]:
    """Advice as templates/studio/_advice.html draws it."""
    return [{**item.as_dict(), "icon": ADVICE_ICONS[item.level]} for item in advice]


def job_plan(job) -> tuple[StepPlan | None, schedulers.SchedulerSpec | None]:
    """(StepPlan, SchedulerSpec) of a stored job, or (None, None) for parameters we cannot read back."""
    from webapp.studio.schema import stored_job_plan

    plan, spec = stored_job_plan(job)
    return (plan.first if plan else None), spec


def phase_strip(requested, first_step):
    """The phases of the full schedule, each with how many of its steps this run covers."""
    strip = []
    for low, high, name, description in phase_ranges(requested):
        in_schedule = high - low + 1
        run = max(0, high - max(low, first_step) + 1)
        strip.append({"name": name, "description": description, "low": low, "high": high,
                      "in_schedule": in_schedule, "run": run, "partial": 0 < run < in_schedule})
    return strip


def ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def replay_frames(job, image_index: int, plan: StepPlan | None) -> list[dict]:
    """The kept per-step previews of one image, each with its phase (by its place in the full schedule)."""
    steps = StepPreview.objects.filter(job=job, image_index=image_index).values_list("step", flat=True)
    frames = []
    for step in steps:
        phase = events.phase(job, step)  # by its place in its pass's schedule
        name, description = phase["name"], phase["description"]
        frames.append({"step": step, "total": job.total_steps, "phase": name, "description": description,
                       "url": reverse("step_preview", args=[job.id, image_index, step])})
    return frames


def measured_seconds_per_step(model, *, scheduler: str, width: int, height: int) -> tuple[float | None, str]:
    """This server's seconds per step for a model at a size: its steps profile with this scheduler, else
    the recent finished jobs of that model and size (generation time per step that ran)."""
    from webapp.studio.models import Image, StepProfile

    row = StepProfile.objects.filter(model=model, scheduler=scheduler, width=width, height=height).first()
    if row is not None and row.result.get("seconds_per_step"):
        return float(row.result["seconds_per_step"]), "from its steps profile"
    images = (Image.objects.filter(job__model=model, job__params__width=width, job__params__height=height,
                                   job__total_steps__gt=0, seconds__gt=0)
              .order_by("-created_at").values_list("seconds", "job__total_steps")[:20])
    rates = [seconds / steps for seconds, steps in images]
    if not rates:
        return None, ""
    return sum(rates) / len(rates), f"from the last {len(rates)} image{'s' if len(rates) > 1 else ''}"
