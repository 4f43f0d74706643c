"""Helpers for the engine tests: small inputs, a step recorder, a model-evaluation counter."""

from contextlib import contextmanager

import numpy as np
from PIL import Image

from generation.engine import GenerationInput

ARCHITECTURE = {"sd15": "sd15", "sdxl": "sdxl", "flux": "flux1d", "zimage": "zimage"}


def pattern_image(width=64, height=64, seed=0) -> Image.Image:
    """A source image with structure (colour gradients plus noise), so changes are visible."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y) % 256], axis=-1)
    pixels = (pixels + rng.integers(0, 40, pixels.shape)).clip(0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def center_mask(width=64, height=64) -> Image.Image:
    mask = Image.new("L", (width, height), 0)
    mask.paste(255, (width // 4, height // 4, 3 * width // 4, 3 * height // 4))
    return mask


def make_input(task_type="textToImage", *, steps=3, strength=None, scheduler="Euler", seed=7, width=64, height=64,
               cfg_scale=5.0, outpaint=None, **overrides) -> GenerationInput:
    seed_image = mask_image = None
    if task_type != "textToImage":
        source_size = (width, height)
        if outpaint:
            source_size = (width - outpaint["left"] - outpaint["right"], height - outpaint["top"] - outpaint["bottom"])
        seed_image = pattern_image(*source_size)
    if task_type == "inpainting":
        mask_image = center_mask(width, height)
    fields = dict(
        task_type=task_type, prompt="a red fox in a snowy forest, golden hour", negative_prompt="blurry",
        width=width, height=height, steps=steps, cfg_scale=cfg_scale, scheduler=scheduler, seed=seed,
        strength=strength, seed_image=seed_image, mask_image=mask_image, outpaint=outpaint,
    )
    fields.update(overrides)
    return GenerationInput(**fields)


class Recorder:
    """An on_step callback that remembers every call."""

    def __init__(self):
        self.calls = []

    def __call__(self, step, total, preview):
        self.calls.append((step, total, preview))

    @property
    def steps(self):
        return [step for step, _, _ in self.calls]

    @property
    def totals(self):
        return {total for _, total, _ in self.calls}


def never():
    return False


@contextmanager
def count_evaluations(engine, source):
    """Counts forward calls of the loaded model's UNet/transformer: one per model evaluation.

    Every task pipeline shares that one module (they are built with from_pipe), so one hook sees all.
    """
    engine.load(source)
    pipe = engine._cache[source.air]["text"]
    denoiser = pipe.unet if hasattr(pipe, "unet") else pipe.transformer
    calls = []
    handle = denoiser.register_forward_hook(lambda module, args, output: calls.append(1))
    try:
        yield calls
    finally:
        handle.remove()
