"""Image helpers with Pillow only: safe decoding of untrusted input, thumbnails, PNG metadata."""

import base64
import binascii
import io
import json
import re
import warnings

from django.conf import settings
from PIL import Image as PILImage
from PIL import PngImagePlugin

ALLOWED_FORMATS = {"PNG", "JPEG", "WEBP", "BMP", "GIF"}
DATA_URI = re.compile(r"^data:image/[a-zA-Z0-9.+-]+;base64,", re.ASCII)


class ImageDecodeError(ValueError):
    pass


def decode_base64(text: str) -> bytes:
    """Bytes from a data URI or bare base64, or ImageDecodeError."""
    payload = DATA_URI.sub("", text, count=1).strip()
    if len(payload) > settings.STEPWISE_MAX_UPLOAD_BYTES * 4 // 3 + 8:
        raise ImageDecodeError(f"is larger than the {settings.STEPWISE_MAX_UPLOAD_BYTES // (1024 * 1024)} MB limit")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ImageDecodeError("is not valid base64 or a data URI") from None


def open_image(data: bytes) -> PILImage.Image:
    """Open untrusted bytes as an RGB(A) image, refusing oversize files, bombs and truncation."""
    if len(data) > settings.STEPWISE_MAX_UPLOAD_BYTES:
        raise ImageDecodeError(f"is larger than the {settings.STEPWISE_MAX_UPLOAD_BYTES // (1024 * 1024)} MB limit")
    if not data:
        raise ImageDecodeError("is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            image = PILImage.open(io.BytesIO(data))
            if image.format not in ALLOWED_FORMATS:
                raise ImageDecodeError(f"has format {image.format}; use PNG, JPEG, WEBP, BMP or GIF")
            width, height = image.size
            if width * height > settings.STEPWISE_MAX_IMAGE_PIXELS:
                limit = settings.STEPWISE_MAX_IMAGE_PIXELS
                raise ImageDecodeError(f"is {width}x{height} pixels, over the limit of {limit}")
            image.load()
            decoded = _normalized(image)
    except ImageDecodeError:
        raise
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
        raise ImageDecodeError("is too large when decompressed (a decompression bomb?)") from None
    except Exception:  # Pillow raises many types for corrupt or truncated files
        raise ImageDecodeError("is not a readable image (corrupt, truncated or not an image)") from None
    return decoded


def image_format(data: bytes) -> str:
    """The format of bytes open_image accepted (it reads only the header)."""
    with PILImage.open(io.BytesIO(data)) as image:
        return str(image.format)


# Modes the pipelines and the PNG/WebP encoders take as they are.
KEPT_MODES = ("RGB", "RGBA", "L")


def _normalized(image: PILImage.Image) -> PILImage.Image:
    """The image in RGB, RGBA or L: CMYK and YCbCr JPEGs, palettes, 16-bit and float greys converted.

    Every later step (the engine, PNG and WebP encoders, masks) then sees one of three modes, so a
    request that passed validation cannot fail later on an unusual mode.
    """
    if image.mode in KEPT_MODES:
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # 16-bit and float greys: scale to 8 bits (a plain convert("L") clips everything above 255).
        extrema = image.getextrema()
        low, high = float(extrema[0]), float(extrema[1])  # type: ignore[arg-type]  # one band: two numbers
        scale = 255.0 / (high - low) if high > low else 0.0
        return image.convert("F").point(lambda v: (v - low) * scale).convert("L")
    if image.mode in ("LA", "La", "PA", "RGBa") or (image.mode == "P" and "transparency" in image.info):
        return image.convert("RGBA")
    return image.convert("RGB")


def png_bytes(image: PILImage.Image, *, parameters: str = "", stepwise: dict | None = None) -> bytes:
    """A PNG with two text chunks, each keyword named for its chunk: AUTOMATIC1111's `parameters`
    text, and `stepwise`, the job's full parameters as JSON."""
    info = PngImagePlugin.PngInfo()
    if parameters:
        info.add_text("parameters", parameters)
    if stepwise is not None:
        info.add_text("stepwise", json.dumps(stepwise, sort_keys=True))
    out = io.BytesIO()
    # Level 1: a quarter of level 6's time for ~15% more bytes; the worker waits on this encode.
    image.save(out, format="PNG", pnginfo=info, compress_level=1)
    return out.getvalue()


def thumbnail_bytes(image: PILImage.Image, size: int = 384) -> bytes:
    thumb = image.convert("RGB")
    thumb.thumbnail((size, size))
    out = io.BytesIO()
    thumb.save(out, format="WEBP", quality=80, method=0)  # method 0: twice as fast, same size here
    return out.getvalue()


def encode(image: PILImage.Image, fmt: str, quality: int = 95) -> tuple[bytes, str]:
    """Encode for delivery: fmt is a Runware outputFormat (JPG, PNG, WEBP). Returns (bytes, mime)."""
    out = io.BytesIO()
    if fmt == "PNG":
        image.save(out, format="PNG")
        return out.getvalue(), "image/png"
    if fmt == "WEBP":
        image.save(out, format="WEBP", quality=quality)
        return out.getvalue(), "image/webp"
    image.convert("RGB").save(out, format="JPEG", quality=quality)
    return out.getvalue(), "image/jpeg"


def _air_name(air: str) -> str:
    """`civitai:58390@62833` -> `58390`; `local:ohwx-person@1` -> `ohwx-person`."""
    return air.split(":", 1)[-1].split("@", 1)[0]


def a1111_parameters(params: dict, *, seed: int, model_name: str, steps_run: int,
                     variation_seed: int | None = None) -> str:
    """The `parameters` text AUTOMATIC1111 writes and CivitAI reads back."""
    scheduler = params.get("scheduler", "")
    sampler, schedule_type = scheduler, ""
    if scheduler.endswith(" Karras"):
        sampler, schedule_type = scheduler[: -len(" Karras")], "Karras"
    prompt = params.get("positivePrompt", "")
    # AUTOMATIC1111 writes its LoRAs into the prompt as <lora:name:weight>.
    for lora in params.get("lora", []):
        prompt += f" <lora:{_air_name(lora['model'])}:{lora['weight']:g}>"
    lines = [prompt]
    if params.get("negativePrompt"):
        lines.append(f"Negative prompt: {params['negativePrompt']}")
    fields = [
        f"Steps: {params['steps']}",
        f"Sampler: {sampler}",
    ]
    if schedule_type:
        fields.append(f"Schedule type: {schedule_type}")
    fields += [
        f"CFG scale: {params['CFGScale']:g}",
        f"Seed: {seed}",
        f"Size: {params['width']}x{params['height']}",
        f"Model: {model_name}",
    ]
    if variation_seed is not None and params.get("variationStrength"):
        fields.append(f"Variation seed: {variation_seed}")
        fields.append(f"Variation seed strength: {params['variationStrength']:g}")
    if "strength" in params:
        fields.append(f"Denoising strength: {params['strength']:g}")
    hires = params.get("hiresFix")
    if hires:
        # A1111's hires fix: the second pass's strength is its "Denoising strength".
        fields += [f"Denoising strength: {hires['strength']:g}", f"Hires upscale: {hires['upscale']:g}",
                   f"Hires steps: {hires['steps']}", "Hires upscaler: Lanczos"]
    if params.get("upscale"):
        fields += [f"Hires upscale: {params['upscale']:g}", "Hires upscaler: Lanczos"]
    refiner = params.get("refiner")
    if refiner:
        # A1111 writes the refiner's switch as a fraction of the schedule.
        fields += [f"Refiner: {_air_name(refiner['model'])}",
                   f"Refiner switch at: {refiner['startStep'] / params['steps']:g}"]
    if params.get("clipSkip"):
        fields.append(f"Clip skip: {params['clipSkip'] + 1}")  # A1111 counts the last layer as 1
    if params.get("vae"):
        fields.append(f"VAE: {_air_name(params['vae'])}")
    if params.get("embeddings"):
        fields.append(f"Embeddings: {'; '.join(_air_name(e['model']) for e in params['embeddings'])}")
    if params.get("maskMargin"):
        fields.append(f"Inpaint area: Only masked, Masked area padding: {params['maskMargin']}")
    if params.get("promptWeighting"):
        fields.append(f"Prompt weighting: {params['promptWeighting']}")
    fields.append(f"Steps run: {steps_run}")
    fields.append(f"AIR: {params['model']}")
    lines.append(", ".join(fields))
    return "\n".join(lines)
