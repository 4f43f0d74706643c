"""The create form: its POST becomes a Runware-shaped payload for `schema.validate_inference`.

There is no Django Form for the request itself: the schema is the one validator, and its errors
already name Runware fields, which are also the form's input names.
"""

import base64
import re
from typing import Any

from django import forms
from django.contrib.auth.models import User

from generation.task_types import IMAGE_TO_IMAGE, INPAINTING, OUTPAINTING, TEXT_TO_IMAGE
from webapp.studio.fields import FieldError

# The API allows up to 20 results per request; the studio form keeps batches small.
FORM_MAX_RESULTS = 8
FIELDS = ("positivePrompt", "negativePrompt", "model", "scheduler", "steps", "CFGScale", "seed",
          "numberResults", "width", "height", "strength", "vae", "clipSkip", "promptWeighting", "maskMargin",
          "variationSeed", "variationStrength")
OUTPAINT_SIDES = ("top", "right", "bottom", "left")
# A re-rendered form keeps an uploaded source up to this size inline, so it need not be picked again.
KEEP_UPLOAD_BYTES = 8 * 1024 * 1024


def outpaint_input_name(side):
    return "outpaint" + side[:1].upper() + side[1:]


def _int_or_raw(value):
    value = (value or "").strip()
    try:
        return int(value)
    except ValueError:
        return value or 0


def _image(files, post, name):
    """A new upload as bytes, else a data URI kept from a re-rendered form, else an existing image id."""
    upload = files.get(name)
    if upload is not None and upload.size:
        return upload.read()
    for suffix in ("Data", "Id"):
        value = post.get(name + suffix, "").strip()
        if value:
            return value
    return None


def inference_payload(post, files, task_type) -> dict:
    """Build the request dict from the create form; the validator does all the checking."""
    payload: dict[str, Any] = {"outputType": "URL", "outputFormat": "PNG"}
    for name in FIELDS:
        value = post.get(name, "").strip()
        if value != "":
            payload[name] = value
    # One row per LoRA: its AIR id and its weight slider, in the order they were added.
    loras = [{"model": air, "weight": weight.strip()}
             for air, weight in zip(post.getlist("loraModel"), post.getlist("loraWeight"), strict=False)]
    if loras:
        payload["lora"] = [{k: v for k, v in lora.items() if v != ""} for lora in loras]
    embeddings = [air for air in post.getlist("embeddings") if air]
    if embeddings:
        payload["embeddings"] = [{"model": air} for air in embeddings]
    if task_type == TEXT_TO_IMAGE:
        payload.pop("strength", None)
        if post.get("variations") != "1":  # the Variations switch is off: its fields ask for nothing
            payload.pop("variationSeed", None)
            payload.pop("variationStrength", None)
        # The second pass: the hires fix or the SDXL refiner (an empty choice is "off").
        hires = {key: post.get(name, "").strip() for key, name in HIRES_INPUTS.items()}
        if hires["upscale"]:
            payload["hiresFix"] = {key: value for key, value in hires.items() if value != ""}
        refiner = {key: post.get(name, "").strip() for key, name in REFINER_INPUTS.items()}
        if refiner["model"]:
            payload["refiner"] = {key: value for key, value in refiner.items() if value != ""}
    else:
        payload["seedImage"] = _image(files, post, "seedImage")
    if task_type == INPAINTING:
        payload["maskImage"] = _image(files, post, "maskImage")
    else:
        payload.pop("maskMargin", None)
    if task_type == IMAGE_TO_IMAGE and post.get("upscale", "").strip():
        # The upscale action: the size follows from the source (the width and height inputs are off).
        payload["upscale"] = post["upscale"].strip()
        payload.pop("width", None)
        payload.pop("height", None)
    if task_type == OUTPAINTING:
        # The final size follows from the source and the extensions.
        payload.pop("width", None)
        payload.pop("height", None)
        outpaint = {side: _int_or_raw(post.get(outpaint_input_name(side))) for side in OUTPAINT_SIDES}
        outpaint["blur"] = _int_or_raw(post.get("outpaintBlur"))
        payload["outpaint"] = outpaint
    return {k: v for k, v in payload.items() if v is not None}


def form_limit_errors(payload) -> list[FieldError]:
    """Limits of the studio form that are tighter than the API's."""
    value = payload.get("numberResults")
    try:
        number = int(value) if value is not None else 1
    except (TypeError, ValueError):
        return []  # the validator names this one
    if number > FORM_MAX_RESULTS:
        return [FieldError("numberResults", f"numberResults must be between 1 and {FORM_MAX_RESULTS} here "
                                            "(the API allows up to 20).")]
    return []


# The inputs of the nested request fields: hiresFix.<key> and refiner.<key> come from these form inputs,
# and their errors go back beside them.
HIRES_INPUTS = {"upscale": "hiresUpscale", "strength": "hiresStrength", "steps": "hiresSteps"}
REFINER_INPUTS = {"model": "refinerModel", "startStep": "refinerStartStep"}
ERROR_INPUTS = {
    "hiresFix": "hiresUpscale", **{f"hiresFix.{key}": name for key, name in HIRES_INPUTS.items()},
    "refiner": "refinerModel", "refiner.startStepPercentage": "refinerStartStep",
    **{f"refiner.{key}": name for key, name in REFINER_INPUTS.items()},
}

# The words the create form uses for the API's field names in error messages. The API keeps its field
# names ("positivePrompt is required"); the form speaks its own labels ("Prompt is required").
FORM_WORDS = {
    "positivePrompt": "prompt",
    "negativePrompt": "negative prompt",
    "CFGScale": "CFG scale",
    "numberResults": "the number of images",
    "seedImage": "the source image",
    "maskImage": "the mask",
    "outpaint.top": "top",
    "outpaint.right": "right",
    "outpaint.bottom": "bottom",
    "outpaint.left": "left",
    "outpaint.blur": "seam blur",
    "outpaint": "outpainting",
    "variationSeed": "variation seed",
    "variationStrength": "variation strength",
    "hiresFix.upscale": "the hires fix's upscale",
    "hiresFix.strength": "hires strength",
    "hiresFix.steps": "hires steps",
    "hiresFix": "hires fix",
    "refiner.model": "refiner",
    "refiner.startStep": "the refiner's start step",
    "upscale": "upscale",
}
_FORM_WORD = re.compile(r"(?<![\w.])(" + "|".join(re.escape(name) for name in sorted(FORM_WORDS, key=len, reverse=True))
                        + r")(?![\w])")


def in_form_words(message: str) -> str:
    """An API error message in the form's words: its labels for field names, a capital to start."""
    starts_with_field = bool(_FORM_WORD.match(message))
    message = _FORM_WORD.sub(lambda match: FORM_WORDS[match.group(1)], message)
    if starts_with_field:
        message = message.removeprefix("the ")
    return message[:1].upper() + message[1:]


def form_errors(errors: dict[str, str]) -> dict[str, str]:
    """{input: message} for the create form: nested fields go beside their inputs, messages in the form's words."""
    result: dict[str, str] = {}
    for field, message in errors.items():
        result.setdefault(ERROR_INPUTS.get(field, field), in_form_words(message))
    return result


def values_from_post(post, files, payload, errors) -> dict:
    """What the re-rendered form shows: the user's own values, and their upload kept inline."""
    values: dict[str, Any] = {key: post.get(key, "") for key in post if key != "csrfmiddlewaretoken"}
    values["lora"] = payload.get("lora", [])
    values["embeddings"] = [item["model"] for item in payload.get("embeddings", [])]
    for name in ("seedImage", "maskImage"):
        data = payload.get(name)
        if isinstance(data, bytes) and name not in errors and len(data) <= KEEP_UPLOAD_BYTES:
            values[name + "Data"] = "data:image/png;base64," + base64.b64encode(data).decode()
            values.pop(name + "Id", None)
    return values


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["first_name", "last_name", "email"]
