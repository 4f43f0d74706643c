"""The create form's state before the user touches it: defaults, "reuse these parameters", a chosen
source, and the step counter and advice as the page first shows them (create.js keeps them live).
"""

import math
import uuid

from django.contrib import messages

from generation import schedulers
from generation.advice import cost_sentence
from generation.steps import HIRES_UPSCALES, job_plan
from generation.task_types import IMAGE_TO_IMAGE, INPAINTING, OUTPAINTING, TASK_TYPES, TEXT_TO_IMAGE
from webapp.studio import access, forms
from webapp.studio.models import Job
from webapp.studio.schema import result_seeds
from webapp.studio.views.presenters import advice_items, model_advice, source_preview

# Form fields shown next to their own input; any other error goes to the banner above the form.
FIELD_ERRORS = {
    "positivePrompt", "negativePrompt", "model", "scheduler", "steps", "CFGScale", "seed", "numberResults",
    "width", "height", "strength", "seedImage", "maskImage", "outpaint", "compareSteps", "compareSchedulers",
    "lora", "embeddings", "vae", "clipSkip", "promptWeighting", "maskMargin", "variationSeed", "variationStrength",
    "hiresUpscale", "hiresStrength", "hiresSteps", "refinerModel", "refinerStartStep", "upscale",
}
# "Variations" on an image page: its parameters, four images at this variation strength.
VARIATIONS_STRENGTH = "0.15"
VARIATIONS_RESULTS = 4
# The upscale choices of the form, as the request writes them (generation.steps.HIRES_UPSCALES).
UPSCALE_CHOICES = {f"{factor:g}": f"{factor:g}×" for factor in HIRES_UPSCALES}
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
    if image and params.get("variationStrength"):
        values["variationSeed"] = result_seeds(params, image.index)[1]
    if task_type == TEXT_TO_IMAGE and values.get("variationStrength"):
        values["variations"] = "1"
    else:
        values.pop("variationSeed", None)
        values.pop("variationStrength", None)
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
    if task_type == IMAGE_TO_IMAGE and params.get("upscale"):
        values["upscale"] = f"{params['upscale']:g}"
    if task_type == TEXT_TO_IMAGE:
        for key, name in forms.HIRES_INPUTS.items():
            if key in params.get("hiresFix", {}):
                values[name] = f"{params['hiresFix'][key]:g}"
        for key, name in forms.REFINER_INPUTS.items():
            if key in params.get("refiner", {}):
                values[name] = params["refiner"][key]
    reused: dict = {k: str(v) for k, v in values.items()}
    # Add-ons stay lists: the form draws one row per LoRA and ticks each embedding.
    reused["lora"] = params.get("lora", [])
    reused["embeddings"] = [item["model"] for item in params.get("embeddings", [])]
    return reused


def source_values(request, task_type, source_id):
    """Form values for "use as source": the source image's prompt and settings carry over, so the user
    changes only what they want. The new task keeps the source's size and paints a mask of its own."""
    image = access.images_visible_to(request.user).filter(id=source_id).first() if _is_uuid(source_id) else None
    if image is None:  # an upload of the user's own, or not visible: nothing to carry
        return {}
    values = reuse_values(request, task_type, str(image.id))
    for name in ("width", "height", "maskImageId"):
        values.pop(name, None)
    if "strength" not in image.job.params:
        values.pop("strength", None)  # from text to image: the model's default strength
    return values


def _is_uuid(value):
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


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
            if not request.GET.get("reuse"):
                values.update(source_values(request, task_type, request.GET["source"]))
            values["seedImageId"] = request.GET["source"]
        else:
            messages.warning(request, "That source image is not available to you.")
    if task_type == IMAGE_TO_IMAGE and request.GET.get("upscale") in UPSCALE_CHOICES:
        # The image page's "Upscale" action: a light pass keeps the image and sharpens it.
        values.update(upscale=request.GET["upscale"], strength="0.30")
    if request.GET.get("seed") == "random":  # "same settings, new seed": the seed field starts empty
        values.pop("seed", None)
        values.pop("variationSeed", None)
    if request.GET.get("variations") == "1" and task_type == TEXT_TO_IMAGE:
        # "Variations" (image page): small changes around this image's seed, with a random variation
        # seed. An image that is itself a variation has no seed of its own noise, so its variations
        # are around its seed's image; Reuse keeps its exact variation.
        values.update(variations="1", variationStrength=VARIATIONS_STRENGTH, numberResults=str(VARIATIONS_RESULTS))
        values.pop("variationSeed", None)
    return values


def _second_pass(values, task_type, steps) -> dict:
    """job_plan's hires-fix or refiner arguments from the form's values (none when they do not read)."""
    if task_type != TEXT_TO_IMAGE:
        return {}
    try:
        if values.get("refinerModel") and values.get("refinerStartStep"):
            return {"refiner_start_step": int(values["refinerStartStep"])}
        if values.get("hiresUpscale"):
            return {"hires_steps": int(values.get("hiresSteps") or steps),
                    "hires_strength": float(values.get("hiresStrength") or 0.5)}
    except ValueError:
        pass
    return {}


def recent_prompts(user, *, limit=12):
    """The user's own recent prompts, newest first, each once: the create page's prompt history."""
    prompts = []
    for prompt in Job.objects.filter(owner=user).order_by("-queued_at").values_list("params__positivePrompt",
                                                                                 flat=True)[:200]:
        if isinstance(prompt, str) and prompt and prompt not in prompts:
            prompts.append(prompt)
            if len(prompts) == limit:
                break
    return prompts


def initial_plan(values, models, task_type):
    """The step counter's text and the advice, as the page first shows them."""
    model = next((m for m in models if m.air == values.get("model")), None)
    if model is None:
        return {"text": "", "advice": [], "cost": ""}
    try:
        steps = int(values.get("steps", ""))
        strength = float(values.get("strength") or 1.0)
        spec = schedulers.resolve(values.get("scheduler") or "Default", model.arch.family,
                                  default=model.defaults()["scheduler"])
    except (ValueError, schedulers.UnknownScheduler):
        return {"text": "", "advice": [], "cost": ""}
    passes = job_plan(architecture=model.architecture, task_type=task_type, steps=steps, strength=strength,
                      scheduler_order=spec.order, **_second_pass(values, task_type, steps))
    text = passes.label()
    advice, cost = [], ""
    if MIN_STEPS <= steps <= MAX_STEPS and math.isfinite(strength):
        advice = advice_items(model_advice(model, scheduler=spec, task_type=task_type, steps=steps,
                                           strength=strength if TASK_TYPES[task_type].needs_source else None))
        cost = cost_sentence(architecture=model.architecture, task_type=task_type, steps=steps, strength=strength,
                             scheduler_order=spec.order, reference_steps=model.recommended_steps[1])
    return {"text": text, "advice": advice, "cost": cost}
