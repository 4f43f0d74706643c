"""What the engine takes and the errors it raises: plain data, no torch.

The engine (generation/engine.py) imports torch and diffusers; code that only builds inputs or
catches these errors (the worker's job runner) imports them from here, so that importing it loads
neither.
"""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelSource:
    air: str  # e.g. "stepwise:1@1"
    architecture: str  # key of ARCHITECTURES
    path: str  # diffusers folder, or single .safetensors file
    config_path: str = ""  # local diffusers config folder for single-file loads (offline)


@dataclass(frozen=True)
class AddOn:
    """A catalog add-on a job puts on its checkpoint: a LoRA or LyCORIS (with its weight), a
    textual-inversion embedding (with its prompt token) or a VAE. `path` is a .safetensors file
    (or, for a VAE, a diffusers folder)."""

    air: str
    path: str
    weight: float = 1.0
    token: str = ""


@dataclass(frozen=True)
class HiresFix:
    """A second pass after text-to-image: Lanczos upscale by `upscale`, then image-to-image with
    `steps` at `strength` (the effective steps of generation.steps.job_plan)."""

    upscale: float  # one of generation.steps.HIRES_UPSCALES
    steps: int
    strength: float


@dataclass(frozen=True)
class Refiner:
    """The SDXL refiner: an SDXL checkpoint that takes over the schedule after the base's
    `start_step` steps (diffusers' denoising_end on the base, denoising_start on the refiner)."""

    source: ModelSource
    start_step: int


# promptWeighting values: compel's syntax, or AUTOMATIC1111's `(word:1.3)` (Runware's sdEmbeds).
PROMPT_WEIGHTING = ("compel", "sdEmbeds")
# maskMargin's range (pixels around the mask), and the families whose inpainting can crop to it
# (diffusers' `padding_mask_crop`).
MASK_MARGIN = (32, 128)
MASK_MARGIN_FAMILIES = ("sd15", "sdxl", "flux")


@dataclass
class GenerationInput:
    task_type: str  # "textToImage" | "imageToImage" | "inpainting" | "outpainting"
    prompt: str
    negative_prompt: str | None
    width: int  # for outpainting: the final size, source plus extensions
    height: int
    steps: int  # requested steps (full schedule length)
    cfg_scale: float
    scheduler: str  # canonical or alias name accepted by generation.schedulers.resolve
    seed: int
    strength: float | None = None  # image tasks; None means 1.0
    seed_image: Any = None  # a PIL image, or None
    mask_image: Any = None  # a PIL image, white = repaint; same size as seed_image
    outpaint: dict | None = None  # {"top","right","bottom","left" (multiples of 64), "blur" 0-32}
    loras: tuple[AddOn, ...] = ()  # LoRA/LyCORIS adapters with their weights (-4 to 4)
    embeddings: tuple[AddOn, ...] = ()  # textual inversions, each with its token
    vae: AddOn | None = None  # replaces the model's VAE for this job only
    clip_skip: int = 0  # 0-2 extra CLIP layers to skip (diffusers' clip_skip); SD 1.5/SDXL only
    prompt_weighting: str | None = None  # one of PROMPT_WEIGHTING, or None for the plain prompt
    mask_margin: int | None = None  # inpainting: repaint a crop this far around the mask at full size
    # Text to image: start from slerp(noise(seed), noise(variation_seed), variation_strength), as
    # AUTOMATIC1111's variation seed (generation/variations.py); strength 0 means no variation.
    variation_seed: int | None = None
    variation_strength: float = 0.0
    hires: HiresFix | None = None  # text-to-image: upscale and run image-to-image on the result
    refiner: Refiner | None = None  # SDXL text-to-image: the refiner runs the end of the schedule


class GenerationCancelled(Exception):
    pass


class ModelLoadError(Exception):
    pass


class OutOfMemory(Exception):
    pass
