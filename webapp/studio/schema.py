"""The one request schema: Runware `imageInference` field names, one validator for every entry point.

Forms and the API both call `validate_inference`. It either returns a `ValidRequest` that can be
stored as a job as it is, or raises `InvalidRequest` with errors that name their field. It never
writes anything, so a refused request leaves nothing behind.

Reading single fields is in `fields.py`, seed and mask images in `source_images.py`.
"""

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from generation import schedulers
from generation.advice import step_advice
from generation.architectures import CLIP_FAMILIES
from generation.inputs import MASK_MARGIN, MASK_MARGIN_FAMILIES, PROMPT_WEIGHTING
from generation.steps import HIRES_UPSCALES, JobPlan, StepPlan, job_plan, refiner_start, upscaled_size
from generation.task_types import IMAGE_TO_IMAGE, TASK_TYPES, TEXT_TO_IMAGE
from webapp.studio import access
from webapp.studio.fields import (
    FieldError,
    FieldErrors,
    InvalidRequest,
    bad_character,
    read_bool,
    read_float,
    read_int,
)
from webapp.studio.models import ContentChecker, ModelEntry
from webapp.studio.outbound import destination_problem
from webapp.studio.source_images import SourceImage, load_source_image

MAX_SEED = 9223372036854775807
MIN_SIZE = 128
MAX_PROMPT = 3000
MAX_RESULTS = 20
OUTPUT_TYPES = ("URL", "base64Data", "dataURI")
OUTPUT_FORMATS = ("JPG", "PNG", "WEBP")
AIR_PATTERN = re.compile(r"^[a-z0-9_-]+:[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+$")
# Runware features Stepwise does not offer: refused by name rather than silently ignored, whenever
# the value asks for something (see `_asks_for_something`). The API page lists each with its reason
# (webapp/api/protocol/field_table.py).
UNSUPPORTED = ("controlNet", "ipAdapters", "acceleratorOptions", "puLID", "acePlusPlus",
               "referenceImages", "instantID", "photoMaker", "advancedFeatures", "ultralytics",
               "providerSettings", "settings", "resolution", "upscaleFactor", "useCache", "acceleration")
UNSUPPORTED_MESSAGES = {
    "acceleration": 'acceleration: only "none" is supported by this server.',
    "acceleratorOptions": "acceleratorOptions: TeaCache, FBCache and DeepCache are not supported by this server; "
                          "send them off or leave acceleratorOptions out.",
    "advancedFeatures": "advancedFeatures (layerDiffuse, hiresFix, ...) are not supported by this server.",
}
# What a content check does with a flagged image: only say so (NSFWContent, Runware's behaviour),
# blur it, or withhold it (the task fails with sensitiveContentDetected).
SAFETY_MODES = ("flag", "blur", "withhold")
ACCELERATOR_SWITCHES = ("fbcache", "teaCache", "deepCache")
BLANK_PROMPT = "__BLANK__"  # Runware's "no prompt at all"
# The nested image inputs (`inputs: {...}`) and the flat field each one stands for.
NESTED_INPUTS = {"seedImage": "seedImage", "mask": "maskImage", "referenceImages": "referenceImages"}
MAX_LORAS = 8
MAX_EMBEDDINGS = 8
LORA_WEIGHT = (-4.0, 4.0)
MAX_CLIP_SKIP = 2
REFINER_KEYS = ("model", "startStep", "startStepPercentage")
HIRES_KEYS = ("upscale", "strength", "steps")
HIRES_DEFAULT_STRENGTH = 0.5  # A1111's default denoising strength for the hires pass
UPSCALE_DEFAULT_STRENGTH = 0.3  # the upscale action: keep the image, sharpen it


@dataclass
class ValidRequest:
    task_type: str
    model: ModelEntry
    params: dict  # normalized request; image fields are filled in with ids when stored
    plan: StepPlan  # the first pass
    job_plan: JobPlan  # every pass (the refiner's or the hires fix's second one): the job's step counter
    seed_image: SourceImage | None = None
    mask_image: SourceImage | None = None
    advice: list[str] = field(default_factory=list)


def _asks_for_something(name, value) -> bool:
    """Whether a value of an unsupported field asks for the feature; a no-op value counts as absent.

    Absent: null, false, empty text/list/object; `clipSkip: 0` (Runware's ComfyUI node sends it by
    default); `acceleration: "none"`; accelerator options with every switch off; an object whose
    every value is itself absent. (`safety` has its own reading: `_content_check`.)
    """
    if value in (None, False, "", [], {}):
        return False
    if name == "clipSkip":
        return value != 0 or isinstance(value, bool)
    if name == "acceleration":
        return not (isinstance(value, str) and value.lower() == "none")
    if name == "acceleratorOptions" and isinstance(value, dict):
        return any(_asks_for_something("", value.get(switch)) for switch in ACCELERATOR_SWITCHES)
    if isinstance(value, dict):
        return any(_asks_for_something("", v) for v in value.values())
    return True


def _content_check(payload, errors: FieldErrors) -> str | None:
    """The content check the request asks for (`safety.checkContent`, or the older `checkNSFW`): its
    mode, or None. Refused by name when no checker is installed (the create form offers none)."""
    safety = payload.get("safety")
    if safety in (None, {}):
        safety = {}
    elif not isinstance(safety, dict):
        errors.add("safety", "safety must be an object such as {\"checkContent\": true}.")
        return None
    if any(_asks_for_something("", safety.get(k)) for k in ("checkInputs", "blockContent", "tolerance")):
        errors.add("safety", "safety.checkInputs, blockContent and tolerance are not supported by this server; "
                   "it checks generated images only (checkContent).", "unsupportedParameter")
        return None
    wanted = read_bool(payload, "checkNSFW", errors)
    if errors.has("checkNSFW"):
        return None
    content = safety.get("checkContent")
    if content not in (None, False, True):
        errors.add("safety", "safety.checkContent must be true or false.")
        return None
    name = "safety" if content else "checkNSFW"
    if not (wanted or content):
        return None
    if ContentChecker.installed() is None:
        errors.add(name, f"{name}: no content checker is installed on this server, so images cannot be checked; "
                   "leave it out (an admin can install one).", "unsupportedParameter")
        return None
    mode = safety.get("mode") or "flag"
    if mode not in SAFETY_MODES:
        errors.add("safety", f"safety.mode must be one of {', '.join(SAFETY_MODES)}, not {str(mode)[:40]!r}.")
        return None
    return mode


def _flatten(payload, errors: FieldErrors) -> dict:
    """The request with its aliases resolved, so that one path handles each thing.

    - `inputs: {seedImage, mask, referenceImages}` become seedImage, maskImage, referenceImages
      (sending one both ways is an error); any other input is refused by name.
    - `lycoris` joins `lora`: the same list, validated and applied the same way.
    """
    payload = dict(payload)
    inputs = payload.pop("inputs", None)
    if inputs not in (None, {}):
        if not isinstance(inputs, dict):
            errors.add("inputs", "inputs must be an object such as {\"seedImage\": ..., \"mask\": ...}.")
        else:
            for key, value in inputs.items():
                flat = NESTED_INPUTS.get(key)
                if flat is None:
                    if _asks_for_something(key, value):
                        errors.add(f"inputs.{str(key)[:40]}", f"inputs.{str(key)[:40]} is not supported by this "
                                   "server; it takes inputs.seedImage and inputs.mask.", "unsupportedParameter")
                    continue
                if value in (None, "", []):
                    continue
                if payload.get(flat) not in (None, "", []):
                    errors.add(flat, f"{flat} is given twice, at the top level and as inputs.{key}; send it once.")
                    continue
                payload[flat] = value
    lycoris = payload.pop("lycoris", None)
    if lycoris not in (None, []):
        lora = payload.get("lora")
        if lora in (None, []):
            payload["lora"] = lycoris
        elif isinstance(lora, list) and isinstance(lycoris, list):
            payload["lora"] = lora + lycoris
        else:
            errors.add("lycoris", "lycoris and lora must each be a list of {model, weight}.")
    return payload


def _prompt(payload, name, errors, *, required):
    value = payload.get(name)
    if isinstance(value, str) and value.strip() == BLANK_PROMPT:
        return ""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.add(name, f"{name} is required: describe the image.", "missingPositivePrompt")
        return None
    if not isinstance(value, str):
        errors.add(name, f"{name} must be text.")
        return None
    problem = bad_character(value)
    if problem:
        errors.add(name, f"{name} contains a {problem}; remove it.", "invalid" + name[:1].upper() + name[1:])
        return None
    value = value.strip()
    if len(value) > MAX_PROMPT or (required and len(value) < 2):
        errors.add(name, f"{name} must be 2-{MAX_PROMPT} characters long, not {len(value)}.")
        return None
    return value


def _addon(user, air, name, kinds, label, model, errors: FieldErrors) -> ModelEntry | None:
    """The catalog add-on `air` of one of `kinds` that this user may use and that fits `model`."""
    if not isinstance(air, str) or len(air) > 200 or not AIR_PATTERN.match(air.strip()):
        errors.add(name, f"{name} must be an AIR id such as civitai:58390@62833.")
        return None
    entry = access.addons_for(user, *kinds).filter(air=air.strip()).first()
    if entry is None:
        errors.add(name, f"Unknown {label} {air!r}, or not enabled for your team.", f"invalid{name[:1].upper()}"
                                                                                     f"{name[1:].split('[')[0]}")
        return None
    if not entry.fits(model):
        errors.add(name, f"{label} {entry.air} ({entry.name}) is made for {entry.arch.label}; {model.name} is "
                         f"{model.arch.label}.", "incompatibleArchitecture")
        return None
    return entry


def _addon_list(value, name, errors: FieldErrors, *, most: int) -> list[dict] | None:
    if value in (None, []):
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        errors.add(name, f"{name} must be a list of objects such as {{\"model\": \"civitai:58390@62833\"}}.")
        return None
    if len(value) > most:
        errors.add(name, f"{name} may hold at most {most} entries, not {len(value)}.")
        return None
    return value


def read_loras(payload, name, errors: FieldErrors, *, user, model) -> list[dict]:
    """`lora: [{model, weight}]` (weight -4 to 4, default the entry's): LoRA and LyCORIS entries that fit
    the model, each once. Returns the normalized list; errors name `name`."""
    items = _addon_list(payload.get(name), name, errors, most=MAX_LORAS)
    result: list[dict] = []
    for index, item in enumerate(items or []):
        unknown = sorted(set(item) - {"model", "weight"})
        if unknown:
            errors.add(name, f"{name}[{index}] has unsupported keys: {', '.join(unknown)} (model and weight only).")
            return []
        entry = _addon(user, item.get("model"), name, (ModelEntry.Kind.LORA, ModelEntry.Kind.LYCORIS), "LoRA",
                       model, errors)
        if entry is None:
            return []
        weight = read_float(item, "weight", errors, low=LORA_WEIGHT[0], high=LORA_WEIGHT[1],
                            default=entry.default_weight)
        if errors.has("weight"):
            errors.items = [e for e in errors.items if e.parameter != "weight"]
            errors.add(name, f"{name}[{index}].weight must be a number from -4 to 4.")
            return []
        if any(existing["model"] == entry.air for existing in result):
            errors.add(name, f"{name} names {entry.air} twice.")
            return []
        result.append({"model": entry.air, "weight": weight})
    return result


def _embeddings(payload, errors: FieldErrors, *, user, model) -> list[dict]:
    items = _addon_list(payload.get("embeddings"), "embeddings", errors, most=MAX_EMBEDDINGS)
    result: list[dict] = []
    for index, item in enumerate(items or []):
        unknown = sorted(set(item) - {"model", "weight"})
        if unknown or item.get("weight") not in (None, 1, 1.0):
            errors.add("embeddings", f"embeddings[{index}] takes a model only: an embedding acts at full strength "
                                     "where its token is written (weight it in the prompt instead).")
            return []
        entry = _addon(user, item.get("model"), "embeddings", (ModelEntry.Kind.EMBEDDING,), "embedding", model,
                       errors)
        if entry is None:
            return []
        if any(existing["model"] == entry.air for existing in result):
            errors.add("embeddings", f"embeddings names {entry.air} twice.")
            return []
        result.append({"model": entry.air})
    return result


def _model_options(payload, params, errors: FieldErrors, *, user, model) -> None:
    """LoRAs, embeddings, the VAE, clip skip and prompt weighting: each checked against the model."""
    family = model.family
    loras = read_loras(payload, "lora", errors, user=user, model=model)
    if loras:
        params["lora"] = loras
    embeddings = _embeddings(payload, errors, user=user, model=model)
    if embeddings:
        params["embeddings"] = embeddings
    if payload.get("vae") not in (None, ""):
        vae = _addon(user, payload["vae"], "vae", (ModelEntry.Kind.VAE,), "VAE", model, errors)
        if vae is not None:
            params["vae"] = vae.air
    clip_skip = read_int(payload, "clipSkip", errors, low=0, high=MAX_CLIP_SKIP, default=model.default_clip_skip or 0)
    if clip_skip and family not in CLIP_FAMILIES:
        if payload.get("clipSkip") not in (None, ""):
            errors.add("clipSkip", f"clipSkip applies to SD 1.5 and SDXL models; {model.arch.label} has no CLIP "
                                   "layers to skip.")
    elif clip_skip:
        params["clipSkip"] = clip_skip
    weighting = payload.get("promptWeighting")
    if weighting not in (None, ""):
        # The Python SDK sends "sdembeds": the names are matched without case.
        weighting = next((name for name in PROMPT_WEIGHTING if str(weighting).lower() == name.lower()), weighting)
        if weighting not in PROMPT_WEIGHTING:
            errors.add("promptWeighting", f"promptWeighting must be one of {', '.join(PROMPT_WEIGHTING)}.")
        elif family not in CLIP_FAMILIES:
            errors.add("promptWeighting", f"promptWeighting applies to SD 1.5 and SDXL models, not "
                                          f"{model.arch.label}: write the prompt without weights.")
        elif params.get("clipSkip"):
            errors.add("promptWeighting", "promptWeighting cannot be combined with clipSkip; set clipSkip to 0.")
        else:
            params["promptWeighting"] = weighting


def infer_task_type(payload) -> str:
    if payload.get("outpaint"):
        return "outpainting"
    if payload.get("maskImage"):
        return "inpainting"
    if payload.get("seedImage"):
        return "imageToImage"
    return "textToImage"


def _source_image(payload, name, errors: FieldErrors, *, user) -> SourceImage | None:
    try:
        return load_source_image(payload[name], name, user=user)
    except InvalidRequest as exc:
        for error in exc.errors:
            errors.add(error.parameter, error.message, error.code)
        return None


def _outpaint(value, errors: FieldErrors):
    if not isinstance(value, dict):
        errors.add("outpaint", "outpaint must be an object with top, right, bottom, left and blur.")
        return None
    result = {}
    for side in ("top", "right", "bottom", "left"):
        amount = read_int(value, side, errors, low=0, high=2048, default=0)
        if errors.has(side):
            errors.items = [e for e in errors.items if e.parameter != side]
            errors.add("outpaint", f"outpaint.{side} must be a whole number of pixels from 0 to 2048.")
            return None
        if amount % 64:
            errors.add("outpaint", f"outpaint.{side} must be a multiple of 64, not {amount}.")
            return None
        result[side] = amount
    blur = read_int(value, "blur", errors, low=0, high=32, default=0)
    if errors.has("blur"):
        errors.items = [e for e in errors.items if e.parameter != "blur"]
        errors.add("outpaint", "outpaint.blur must be a whole number from 0 to 32.")
        return None
    result["blur"] = blur
    if not any(result[s] for s in ("top", "right", "bottom", "left")):
        errors.add("outpaint", "outpaint must extend at least one side.")
        return None
    return result


def _variations(payload, params, errors: FieldErrors, *, task_type) -> None:
    """`variationSeed` and `variationStrength` (Stepwise extensions; AUTOMATIC1111's variation seed and
    strength): the initial noise is slerp(noise(seed), noise(variationSeed), variationStrength).

    Strength 0 (or absent) is no variation, and then a variationSeed is refused rather than ignored.
    A strength without a variationSeed draws one. With several results every image keeps the seed
    and image k takes variationSeed + k (`result_seeds`).
    """
    strength = read_float(payload, "variationStrength", errors, low=0, high=1, default=0.0)
    variation_seed = read_int(payload, "variationSeed", errors, low=1, high=MAX_SEED)
    if errors.has("variationStrength") or errors.has("variationSeed"):
        return
    if not strength:
        if variation_seed is not None:
            errors.add("variationSeed", "variationSeed has no effect without a variationStrength above 0.")
        return
    if task_type != "textToImage":
        errors.add("variationStrength", "variationStrength applies to text to image only; image tasks start "
                                        "from their source image.")
        return
    if variation_seed is None:
        variation_seed = secrets.randbelow(2**31 - 2) + 1
    if variation_seed + (params["numberResults"] or 1) - 1 > MAX_SEED:
        errors.add("variationSeed", f"variationSeed is too large for {params['numberResults']} results.")
        return
    params["variationSeed"] = variation_seed
    params["variationStrength"] = strength


def result_seeds(params: dict, index: int) -> tuple[int, int | None]:
    """(seed, variation seed or None) of image `index` of a job: without variations image k uses seed + k;
    with them every image keeps the seed and image k uses variationSeed + k."""
    if params.get("variationStrength"):
        return params["seed"], params["variationSeed"] + index
    return params["seed"] + index, None


def _snap(value, multiple):
    return max(multiple, value - value % multiple)


def validate_inference(payload, *, user, task_type: str | None = None) -> ValidRequest:
    """Check a request against the schema and the catalog; raise InvalidRequest naming each bad field.

    1. Shape: a JSON object; refuse unsupported Runware features by name.
    2. Model, then everything whose limits depend on it (size, scheduler).
    3. Prompts and numbers.
    4. Images for the image tasks, and sizes derived from them.
    5. The effective step count, which must be at least one.
    """
    errors = FieldErrors()
    # 1. Shape
    if not isinstance(payload, dict):
        raise InvalidRequest([FieldError("request", "The request must be a JSON object.", "invalidRequest")])
    payload = _flatten(payload, errors)
    safety_mode = _content_check(payload, errors)
    for name in UNSUPPORTED:
        if _asks_for_something(name, payload.get(name)):
            errors.add(name, UNSUPPORTED_MESSAGES.get(name, f"{name} is not supported by this server."),
                       "unsupportedParameter")
    inferred = infer_task_type(payload)
    if task_type is None:
        task_type = inferred
    elif task_type not in TASK_TYPES:
        raise InvalidRequest([FieldError("taskType", f"Unknown task type {task_type!r}.")])

    # 2. Model
    model_air = payload.get("model")
    model = None
    if model_air in (None, ""):
        model = access.default_model_for(user)
        if model is None:
            errors.add("model", "No model is available to you; ask an admin to enable one.")
    elif not isinstance(model_air, str) or len(model_air) > 200 or not AIR_PATTERN.match(model_air.strip()):
        errors.add("model", "model must be an AIR id such as civitai:101055@128078.")
    else:
        model = access.checkpoints_for(user).filter(air=model_air.strip()).first()
        addon = None if model else access.models_for(user).filter(air=model_air.strip(), enabled=True).first()
        if addon is not None:
            errors.add("model", f"{addon.air} is a {addon.get_kind_display()}, not a checkpoint: name a checkpoint "
                                "as model and put add-ons in lora, embeddings or vae.", "invalidModel")
        elif model is None:
            errors.add("model", f"Unknown model {model_air!r}, or not enabled for your team.", "invalidModel")
    if model is None:
        raise InvalidRequest(errors.items)
    arch = model.arch
    defaults = model.defaults()

    # 3. Prompts and numbers
    params: dict[str, Any] = {"taskType": "imageInference", "model": model.air}
    params["positivePrompt"] = _prompt(payload, "positivePrompt", errors, required=True)
    negative = _prompt(payload, "negativePrompt", errors, required=False)
    if negative:
        params["negativePrompt"] = negative
    params["steps"] = read_int(payload, "steps", errors, low=1, high=100, default=defaults["steps"])
    params["CFGScale"] = read_float(payload, "CFGScale", errors, low=0, high=50, default=defaults["CFGScale"])
    params["numberResults"] = read_int(payload, "numberResults", errors, low=1, high=MAX_RESULTS, default=1)
    seed = read_int(payload, "seed", errors, low=1, high=MAX_SEED)
    params["seed"] = seed if seed is not None else secrets.randbelow(2**31 - 2) + 1
    if params["numberResults"] and params["seed"] + params["numberResults"] - 1 > MAX_SEED:
        errors.add("seed", f"seed is too large for {params['numberResults']} results.")
    _variations(payload, params, errors, task_type=task_type)
    scheduler_name = payload.get("scheduler") or defaults["scheduler"]
    spec = None
    if not isinstance(scheduler_name, str):
        errors.add("scheduler", "scheduler must be a name such as 'DPM++ 2M Karras'.", "invalidScheduler")
    else:
        try:
            spec = schedulers.resolve(scheduler_name, arch.family, default=defaults["scheduler"])
            params["scheduler"] = spec.name
        except schedulers.UnknownScheduler as exc:
            errors.add("scheduler", str(exc), "invalidScheduler")
    output_type = payload.get("outputType", "URL")
    if isinstance(output_type, list) and len(output_type) == 1:
        output_type = output_type[0]
    if output_type not in OUTPUT_TYPES:
        errors.add("outputType", f"outputType must be one of {', '.join(OUTPUT_TYPES)}.")
    params["outputType"] = output_type
    output_format = payload.get("outputFormat", "JPG")
    if isinstance(output_format, str) and output_format.upper() == "JPEG":
        output_format = "JPG"
    if not isinstance(output_format, str) or output_format.upper() not in OUTPUT_FORMATS:
        errors.add("outputFormat", f"outputFormat must be one of {', '.join(OUTPUT_FORMATS)}.")
    else:
        params["outputFormat"] = output_format.upper()
    params["outputQuality"] = read_int(payload, "outputQuality", errors, low=20, high=99, default=95)
    delivery = payload.get("deliveryMethod", "sync")
    if delivery not in ("sync", "async"):
        errors.add("deliveryMethod", "deliveryMethod must be sync or async.")
    params["deliveryMethod"] = delivery
    for flag in ("includeCost", "includeProgress", "includePreviews"):
        params[flag] = read_bool(payload, flag, errors)
    for name in ("webhookURL", "uploadEndpoint"):
        if payload.get(name) not in (None, ""):
            problem = destination_problem(payload[name])
            if problem:
                errors.add(name, f"{name} {problem}.")
            else:
                params[name] = payload[name].strip()
    if safety_mode is not None:
        params["checkContent"] = True
        params["safetyMode"] = safety_mode
    ttl = read_int(payload, "ttl", errors, low=60, high=settings.STEPWISE_SIGNED_URL_SECONDS)
    if ttl is not None:
        params["ttl"] = ttl
    if payload.get("taskUUID") is not None:
        task_uuid = str(payload["taskUUID"])[:64]
        if bad_character(task_uuid):
            errors.add("taskUUID", "taskUUID must be a UUID string.")
        params["taskUUID"] = task_uuid
    _model_options(payload, params, errors, user=user, model=model)

    # 4. Images and sizes
    seed_image = mask_image = None
    max_size = arch.max_size
    multiple = arch.size_multiple
    width = read_int(payload, "width", errors, low=MIN_SIZE, high=max_size)
    height = read_int(payload, "height", errors, low=MIN_SIZE, high=max_size)
    for name, value in (("width", width), ("height", height)):
        if value is not None and value % multiple:
            errors.add(name, f"{name} must be a multiple of {multiple} for {arch.label}, not {value}.")
    if task_type != "textToImage":
        if not payload.get("seedImage"):
            errors.add("seedImage", "seedImage is required: choose a source image.", "missingSeedImage")
        else:
            seed_image = _source_image(payload, "seedImage", errors, user=user)
        params["strength"] = read_float(
            payload, "strength", errors, low=0, high=1,
            default=0.9 if task_type == "outpainting" else
            UPSCALE_DEFAULT_STRENGTH if payload.get("upscale") not in (None, "", False) else defaults["strength"],
        )
    if task_type == "inpainting":
        if not payload.get("maskImage"):
            errors.add("maskImage", "maskImage is required for inpainting: paint or upload a mask.",
                       "missingMaskImage")
        else:
            mask_image = _source_image(payload, "maskImage", errors, user=user)
    if payload.get("maskMargin") not in (None, ""):
        margin = read_int(payload, "maskMargin", errors, low=MASK_MARGIN[0], high=MASK_MARGIN[1])
        if task_type != "inpainting":
            errors.add("maskMargin", "maskMargin applies to inpainting only (a maskImage with a seedImage).")
        elif model.family not in MASK_MARGIN_FAMILIES:
            errors.add("maskMargin", f"maskMargin is not available for {arch.label} models.")
        elif margin is not None:
            params["maskMargin"] = margin
    if task_type == "outpainting":
        if payload.get("outpaint") in (None, "", {}):
            errors.add("outpaint", "outpaint is required: choose how far to extend each side.")
        else:
            params["outpaint"] = _outpaint(payload["outpaint"], errors)

    if seed_image is not None:
        source_w, source_h = seed_image.image.size
        if source_w < 64 or source_h < 64:
            errors.add("seedImage", f"seedImage is {source_w}x{source_h}; it must be at least 64 pixels on each side.")
        if task_type == "outpainting" and params.get("outpaint"):
            ext = params["outpaint"]
            base_w, base_h = _snap(source_w, multiple), _snap(source_h, multiple)
            final_w, final_h = base_w + ext["left"] + ext["right"], base_h + ext["top"] + ext["bottom"]
            if (width and width != final_w) or (height and height != final_h):
                errors.add("width", f"width x height must be the source size plus the extensions: "
                                    f"{final_w}x{final_h}.")
            elif final_w > max_size or final_h > max_size:
                errors.add("outpaint", f"the outpainted image would be {final_w}x{final_h}; "
                                       f"{arch.label} allows at most {max_size}x{max_size}.")
            width, height = final_w, final_h
        else:
            width = width or min(_snap(source_w, multiple), max_size)
            height = height or min(_snap(source_h, multiple), max_size)
    if mask_image is not None and seed_image is not None and mask_image.image.size != seed_image.image.size:
        errors.add("maskImage", f"maskImage is {mask_image.image.size[0]}x{mask_image.image.size[1]} but seedImage is "
                                f"{seed_image.image.size[0]}x{seed_image.image.size[1]}; they must be the same size.")
    if payload.get("upscale") not in (None, "", False):
        width, height = _upscale(payload, params, errors, task_type=task_type, model=model, seed_image=seed_image,
                                 width=width, height=height)
    params["width"] = width or defaults["width"]
    params["height"] = height or defaults["height"]
    if _asks_for_something("refiner", payload.get("refiner")):
        _refiner(payload["refiner"], params, errors, user=user, model=model, task_type=task_type, spec=spec)
    if _asks_for_something("hiresFix", payload.get("hiresFix")):
        _hires_fix(payload["hiresFix"], params, errors, task_type=task_type, model=model)

    # 5. Steps that really run, in each pass
    advice = []
    plan = passes = None
    if params["steps"] and spec is not None and not errors.has("strength"):
        hires = params.get("hiresFix", {})
        passes = job_plan(
            architecture=model.architecture,
            task_type=task_type,
            steps=params["steps"],
            strength=params.get("strength", 1.0),
            scheduler_order=spec.order,
            refiner_start_step=params["refiner"]["startStep"] if "refiner" in params else None,
            hires_steps=hires.get("steps"),
            hires_strength=hires.get("strength"),
        )
        plan = passes.first
        if "hiresFix" in params and passes.passes[1].plan.steps < 1:
            errors.add("hiresFix.strength", f"hiresFix: {hires['steps']} steps x strength {hires['strength']:g} runs "
                                            "no denoising step in the second pass; raise its strength or steps.")
        if plan.steps < 1:
            errors.add("strength", f"steps {params['steps']} x strength {params['strength']:g} runs no denoising "
                                   "step at all; raise strength or steps.")
        else:
            # The cautions among the document's tips (the create page also shows the reassuring ones).
            advice = [item.text for item in step_advice(
                model_name=model.name, architecture=model.architecture, recommended_steps=model.recommended_steps,
                scheduler=spec, task_type=task_type, steps=params["steps"], strength=params.get("strength"),
            ) if item.level == "warn"]
    if errors.items:
        raise InvalidRequest(errors.items)
    assert plan is not None and passes is not None, "each way to skip the plan adds an error"
    return ValidRequest(task_type=task_type, model=model, params=params, plan=plan, job_plan=passes,
                        seed_image=seed_image, mask_image=mask_image, advice=advice)


def stored_job_plan(job) -> tuple[JobPlan | None, schedulers.SchedulerSpec | None]:
    """The passes of a stored job (its normalized params) and its scheduler, or (None, None) for
    parameters that cannot be read back."""
    params = job.params
    try:
        spec = schedulers.resolve(params.get("scheduler", "Default"), job.model.arch.family,
                                  default=job.model.defaults()["scheduler"])
        hires = params.get("hiresFix") or {}
        plan = job_plan(architecture=job.model.architecture, task_type=job.task_type, steps=int(params["steps"]),
                        strength=float(params.get("strength", 1.0)), scheduler_order=spec.order,
                        refiner_start_step=params["refiner"]["startStep"] if params.get("refiner") else None,
                        hires_steps=hires.get("steps"), hires_strength=hires.get("strength"))
    except (KeyError, TypeError, ValueError, schedulers.UnknownScheduler):
        return None, None
    return plan, spec


def _nested(value, name, keys, errors: FieldErrors, example: str) -> dict | None:
    """An object field of the request with only `keys` in it, or None with an error naming `name`."""
    if not isinstance(value, dict):
        errors.add(name, f"{name} must be an object such as {example}.")
        return None
    unknown = sorted(str(key)[:40] for key in value if key not in keys)
    if unknown:
        errors.add(name, f"{name} has unsupported keys: {', '.join(unknown)} ({', '.join(keys)} only).",
                   "unsupportedParameter")
        return None
    return value


def _refiner(value, params, errors: FieldErrors, *, user, model, task_type, spec) -> None:
    """`refiner: {model, startStep | startStepPercentage}`: an SDXL checkpoint that runs the end of an
    SDXL text-to-image schedule. Stored as {model, startStep} (and the percentage it came from)."""
    value = _nested(value, "refiner", REFINER_KEYS, errors, '{"model": "civitai:101055@126613", "startStep": 24}')
    if value is None:
        return
    if task_type != TEXT_TO_IMAGE:
        errors.add("refiner", "refiner follows text-to-image only: it takes over the end of the base's schedule.")
        return
    if model.family != "sdxl":
        errors.add("refiner", f"refiner follows SDXL models; {model.name} is {model.arch.label}.",
                   "incompatibleArchitecture")
        return
    if spec is not None and spec.order != 1:
        errors.add("refiner", f"refiner needs a first-order scheduler to hand over at a step; {spec.name} evaluates "
                              "the model twice a step. Choose Euler, DPM++ 2M or UniPC, for example.")
        return
    if params.get("promptWeighting") or params.get("embeddings"):
        errors.add("refiner", "refiner cannot be combined with promptWeighting or embeddings: the refiner reads "
                              "the prompt as plain text.")
        return
    air = value.get("model")
    entry = None
    if not isinstance(air, str) or len(air) > 200 or not AIR_PATTERN.match(air.strip()):
        errors.add("refiner.model", "refiner.model must be an AIR id such as civitai:101055@126613.")
    else:
        entry = access.checkpoints_for(user).filter(air=air.strip(), enabled=True).first()
        if entry is None:
            errors.add("refiner.model", f"Unknown refiner model {air[:60]!r}, or not enabled for your team.",
                       "invalidModel")
        elif entry.family != "sdxl":
            errors.add("refiner.model", f"refiner.model must be an SDXL model; {entry.air} ({entry.name}) is "
                                        f"{entry.arch.label}.", "incompatibleArchitecture")
            entry = None
    steps = params.get("steps")
    given = [key for key in ("startStep", "startStepPercentage") if value.get(key) not in (None, "")]
    if len(given) != 1:
        errors.add("refiner.startStep", "refiner needs one of startStep or startStepPercentage: where the refiner "
                                        "takes over.")
        return
    if not steps:
        return
    if given[0] == "startStep":
        start = read_int({"refiner.startStep": value["startStep"]}, "refiner.startStep", errors, low=1,
                         high=max(steps - 1, 1))
        if start is None:
            return
        if steps < 2:
            errors.add("refiner.startStep", "refiner needs at least 2 steps: one for the base, one for the refiner.")
            return
    else:
        percentage = read_float({"refiner.startStepPercentage": value["startStepPercentage"]},
                                "refiner.startStepPercentage", errors, low=1, high=99)
        if percentage is None:
            return
        start = refiner_start(steps=steps, start_percentage=percentage)
        if not 1 <= start < steps:
            errors.add("refiner.startStepPercentage", f"refiner.startStepPercentage {percentage:g} of {steps} steps "
                                                      f"leaves {'the base' if start < 1 else 'the refiner'} no step.")
            return
    if entry is not None:
        params["refiner"] = {"model": entry.air, "startStep": start}
        if given[0] == "startStepPercentage":
            params["refiner"]["startStepPercentage"] = float(value["startStepPercentage"])


def _hires_fix(value, params, errors: FieldErrors, *, task_type, model) -> None:
    """`hiresFix: {upscale, strength, steps}` (Stepwise extension): after text-to-image, Lanczos upscale
    by 1.5 or 2, then image-to-image at `strength` (default 0.5) with `steps` (default the job's)."""
    value = _nested(value, "hiresFix", HIRES_KEYS, errors, '{"upscale": 2, "strength": 0.5}')
    if value is None:
        return
    if task_type != TEXT_TO_IMAGE:
        errors.add("hiresFix", "hiresFix follows text-to-image only; to enlarge an image, use upscale with "
                               "image-to-image.")
        return
    if "refiner" in params:
        errors.add("hiresFix", "hiresFix cannot be combined with refiner: a job runs one second pass.")
        return
    upscale = _upscale_factor(value.get("upscale"), "hiresFix.upscale", errors)
    strength = read_float({"hiresFix.strength": value.get("strength")}, "hiresFix.strength", errors, low=0.01,
                          high=1, default=HIRES_DEFAULT_STRENGTH)
    steps = read_int({"hiresFix.steps": value.get("steps")}, "hiresFix.steps", errors, low=1, high=100,
                     default=params.get("steps"))
    if upscale is None or strength is None or steps is None:
        return
    final = upscaled_size(params["width"], params["height"], upscale=upscale, multiple=model.arch.size_multiple)
    problem = _size_problem(final, model)
    if problem:
        errors.add("hiresFix.upscale", f"hiresFix.upscale {upscale:g} makes {params['width']}x{params['height']} "
                                       f"{final[0]}x{final[1]}; {problem}.")
        return
    params["hiresFix"] = {"upscale": upscale, "strength": strength, "steps": steps}


def _upscale(payload, params, errors: FieldErrors, *, task_type, model, seed_image, width, height):
    """`upscale: 1.5 | 2` (Stepwise extension) on image-to-image: the result is the source's size times
    `upscale` (Lanczos, then the pass at `strength`). Returns the width and height to use."""
    upscale = _upscale_factor(payload.get("upscale"), "upscale", errors)
    if upscale is None:
        return width, height
    if task_type != IMAGE_TO_IMAGE:
        errors.add("upscale", "upscale applies to image-to-image; for text-to-image, use hiresFix.")
        return width, height
    if seed_image is None:
        return width, height
    source_w, source_h = seed_image.image.size
    final = upscaled_size(source_w, source_h, upscale=upscale, multiple=model.arch.size_multiple)
    problem = _size_problem(final, model)
    if problem:
        errors.add("upscale", f"upscale {upscale:g} makes the {source_w}x{source_h} source {final[0]}x{final[1]}; "
                              f"{problem}.")
        return width, height
    if (payload.get("width") not in (None, "") and width != final[0]) or \
            (payload.get("height") not in (None, "") and height != final[1]):
        errors.add("width", f"width x height must be the upscaled size {final[0]}x{final[1]}, or left out.")
        return width, height
    params["upscale"] = upscale
    return final


def _upscale_factor(value, name, errors: FieldErrors) -> float | None:
    factor = read_float({name: value}, name, errors, low=0, high=100)
    if name not in {e.parameter for e in errors.items} and factor not in HIRES_UPSCALES:
        errors.add(name, f"{name} must be 1.5 or 2{f', not {factor:g}' if factor is not None else ''}.")
        return None
    return factor


def _size_problem(size, model) -> str:
    width, height = size
    if width > model.arch.max_size or height > model.arch.max_size:
        return f"{model.arch.label} allows at most {model.arch.max_size}x{model.arch.max_size}"
    if width * height > settings.STEPWISE_MAX_IMAGE_PIXELS:
        return f"this server allows images of at most {settings.STEPWISE_MAX_IMAGE_PIXELS} pixels"
    return ""



# Compare steps ------------------------------------------------------------------------------------
# One request at several step counts (the columns) and optionally several schedulers (the rows).
COMPARE_DEFAULT_STEPS = (10, 20, 30, 50)
COMPARE_MAX_STEPS = 8
COMPARE_MAX_SCHEDULERS = 4


def _list_field(payload, name) -> list | None:
    value = payload.get(name)
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, str):
        return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
    if isinstance(value, list):
        return value
    raise InvalidRequest([FieldError(name, f"{name} must be a list.")])


def read_comparison(payload) -> tuple[list[int], list[str] | None]:
    """The step counts (`compareSteps`, default 10, 20, 30, 50) and schedulers (`compareSchedulers`,
    optional) of a comparison, from a list or a comma-separated string. Each error names its field."""
    errors = FieldErrors()
    steps_in = _list_field(payload, "compareSteps") or list(COMPARE_DEFAULT_STEPS)
    steps: list[int] = []
    for value in steps_in:
        number = read_int({"compareSteps": value}, "compareSteps", errors, low=1, high=100)
        if number is None:
            break
        steps.append(number)
    if not errors.has("compareSteps"):
        if len(steps) < 2 or len(steps) > COMPARE_MAX_STEPS:
            errors.add("compareSteps", f"compareSteps must list 2-{COMPARE_MAX_STEPS} step counts, not {len(steps)}.")
        elif len(set(steps)) != len(steps):
            errors.add("compareSteps", "compareSteps lists a step count twice.")
    try:
        names = _list_field(payload, "compareSchedulers")
    except InvalidRequest as exc:
        errors.items.extend(exc.errors)
        names = None
    if names is not None:
        if not all(isinstance(n, str) and n.strip() for n in names):
            errors.add("compareSchedulers", "compareSchedulers must be scheduler names.")
        elif len(names) > COMPARE_MAX_SCHEDULERS:
            errors.add("compareSchedulers", f"compareSchedulers may list up to {COMPARE_MAX_SCHEDULERS} schedulers, "
                                            f"not {len(names)}.")
        elif len(set(names)) != len(names):
            errors.add("compareSchedulers", "compareSchedulers lists a scheduler twice.")
    if errors.items:
        raise InvalidRequest(errors.items)
    return sorted(steps), names
