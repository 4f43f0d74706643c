"""The create form's state before the user touches it: defaults, "reuse these parameters", a chosen
source, and the step counter and advice as the page first shows them (create.js keeps them live).
"""

import math

from django.contrib import messages

from generation import schedulers
from generation.steps import effective_steps
from generation.task_types import INPAINTING, OUTPAINTING, TASK_TYPES, TEXT_TO_IMAGE
from webapp.studio import access, forms
from webapp.studio.views.presenters import advice_items, model_advice, source_preview

# Form fields shown next to their own input; any other error goes to the banner above the form.
FIELD_ERRORS = {
    "positivePrompt", "negativePrompt", "model", "scheduler", "steps", "CFGScale", "seed", "numberResults",
    "width", "height", "strength", "seedImage", "maskImage", "outpaint",
    "lora", "embeddings", "vae", "clipSkip", "promptWeighting", "maskMargin",
}
# The form's range for steps (the API's too): outside it the page shows neither a plan nor advice.
MIN_STEPS, MAX_STEPS = 1, 100


def reuse_values(request, task_type, reuse_id):
    """Form values from an image's (or a job's) parameters: "reuse these parameters"."""
    image = access.images_visible_to(request.user).select_related("job").filter(id=reuse_id).first()
    job = image.job if image else access.jobs_visible_to(request.user).filter(id=reuse_id).first()
    if job is None:
        messages.warning(request, "That image is not available to you, so the form starts from the defaults.")
        return {}
    params = job.params
    values = {name: params[name] for name in forms.FIELDS if params.get(name) not in (None, "")}
    values["seed"] = image.seed if image else params.get("seed")
    values["numberResults"] = 1 if image else params.get("numberResults", 1)
    for side in forms.OUTPAINT_SIDES:
        if side in params.get("outpaint", {}):
            values[forms.outpaint_input_name(side)] = params["outpaint"][side]
    if "blur" in params.get("outpaint", {}):
        values["outpaintBlur"] = params["outpaint"]["blur"]
    if task_type != TEXT_TO_IMAGE and params.get("seedImage") and source_preview(request.user, params["seedImage"]):
        values["seedImageId"] = params["seedImage"]
    if task_type == INPAINTING and params.get("maskImage") and source_preview(request.user, params["maskImage"]):
        values["maskImageId"] = params["maskImage"]
    if task_type == OUTPAINTING:
        values.pop("width", None)
        values.pop("height", None)
    reused: dict = {k: str(v) for k, v in values.items()}
    # Add-ons stay lists: the form draws one row per LoRA and ticks each embedding.
    reused["lora"] = params.get("lora", [])
    reused["embeddings"] = [item["model"] for item in params.get("embeddings", [])]
    return reused


def initial_values(request, task_type, model):
    """GET: the defaults of `model`, then ?reuse=<image or job>, then ?source=<image>."""
    values: dict = {}
    if model is not None:
        defaults = model.defaults()
        values = {"model": model.air, "steps": defaults["steps"], "CFGScale": defaults["CFGScale"],
                  "scheduler": defaults["scheduler"], "width": defaults["width"], "height": defaults["height"],
                  "strength": f'{0.9 if task_type == OUTPAINTING else defaults["strength"]:.2f}',
                  "clipSkip": defaults["clipSkip"]}
    values.update(numberResults=1, outpaintTop=0, outpaintRight=256, outpaintBottom=0, outpaintLeft=0,
                  outpaintBlur=8)
    if task_type != TEXT_TO_IMAGE:
        values.pop("width")
        values.pop("height")
    values = {k: str(v) for k, v in values.items()}
    if request.GET.get("reuse"):
        values.update(reuse_values(request, task_type, request.GET["reuse"]))
    if request.GET.get("source") and task_type != TEXT_TO_IMAGE:
        if source_preview(request.user, request.GET["source"]):
            values["seedImageId"] = request.GET["source"]
        else:
            messages.warning(request, "That source image is not available to you.")
    return values


def initial_plan(values, models, task_type):
    """The step counter's text and the advice, as the page first shows them."""
    model = next((m for m in models if m.air == values.get("model")), None)
    if model is None:
        return {"text": "", "advice": []}
    try:
        steps = int(values.get("steps", ""))
        strength = float(values.get("strength") or 1.0)
        spec = schedulers.resolve(values.get("scheduler") or "Default", model.arch.family,
                                  default=model.defaults()["scheduler"])
    except (ValueError, schedulers.UnknownScheduler):
        return {"text": "", "advice": []}
    plan = effective_steps(architecture=model.architecture, task_type=task_type, steps=steps, strength=strength,
                           scheduler_order=spec.order)
    if task_type == TEXT_TO_IMAGE:
        text = f"{plan.steps} steps will run"
    else:
        text = f"{plan.steps} of {plan.requested} steps will run"
    advice = []
    if MIN_STEPS <= steps <= MAX_STEPS and math.isfinite(strength):
        advice = advice_items(model_advice(model, scheduler=spec, task_type=task_type, steps=steps,
                                           strength=strength if TASK_TYPES[task_type].needs_source else None))
    return {"text": text, "advice": advice}
