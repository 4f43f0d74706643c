"""Measure the built-in model through the engine, as a user's job would run it.

Every check generates with `generation.engine.Engine` (the worker's code path, not a bare pipeline)
and judges the images by plain image analysis (`shapes.read_image`). `bench/builtin_quality.py`
prints the figures; tests run the same functions on fewer prompts.
"""

import random
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from PIL import Image

from generation.builtin import BUILTIN_DIRNAME, CATALOG_DEFAULTS, shapes
from generation.engine import Engine, GenerationInput, ModelSource


def builtin_source(path) -> ModelSource:
    return ModelSource(air=f"stepwise:{BUILTIN_DIRNAME}", architecture="sd15", path=str(path))


def grammar_prompts(count: int = 64, *, seed: int = 0) -> list[tuple[shapes.Scene, int]]:
    """`count` (scene, seed) pairs: the shapes in turn, colour pairs in a fixed shuffled order."""
    rng = random.Random(seed)
    pairs = [(c, b) for c in shapes.COLOURS for b in shapes.COLOURS if c != b]
    rng.shuffle(pairs)
    return [(shapes.Scene(shape=shapes.SHAPES[i % len(shapes.SHAPES)], colour=pairs[i % len(pairs)][0],
                          background=pairs[i % len(pairs)][1]), 1000 + i) for i in range(count)]


def generate(engine: Engine, source: ModelSource, prompt: str, *, seed: int, task_type: str = "textToImage",
             steps: int | None = None, size: tuple[int, int] = (256, 256), cfg: float | None = None,
             scheduler: str | None = None, **inputs) -> Image.Image:
    inp = GenerationInput(
        task_type=task_type, prompt=prompt, negative_prompt=None, width=size[0], height=size[1],
        steps=steps or CATALOG_DEFAULTS["default_steps"],
        cfg_scale=CATALOG_DEFAULTS["default_cfg"] if cfg is None else cfg,
        scheduler=scheduler or CATALOG_DEFAULTS["default_scheduler"], seed=seed, **inputs,
    )
    return engine.generate(source, inp, on_step=lambda *args: None, should_cancel=lambda: False)


@dataclass
class TextToImageReport:
    readings: list  # (scene, reading) pairs
    seconds_per_image: float

    def fraction(self, test) -> float:
        return sum(1 for scene, reading in self.readings if test(scene, reading)) / len(self.readings)

    @property
    def all_correct(self) -> float:
        return self.fraction(lambda s, r: (r.background, r.colour, r.shape) == (s.background, s.colour, s.shape))

    def per_colour(self) -> dict[str, float]:
        """For each colour, how often it was read right wherever it was asked for (shape or background)."""
        right: defaultdict[str, int] = defaultdict(int)
        asked: defaultdict[str, int] = defaultdict(int)
        for scene, reading in self.readings:
            for wanted, got in ((scene.background, reading.background), (scene.colour, reading.colour)):
                asked[wanted] += 1
                right[wanted] += wanted == got
        return {colour: right[colour] / asked[colour] for colour in shapes.COLOURS if asked[colour]}


def text_to_image(engine, source, count: int = 64, **options) -> TextToImageReport:
    readings, seconds = [], []
    for scene, seed in grammar_prompts(count):
        started = time.perf_counter()
        image = generate(engine, source, scene.caption, seed=seed, **options)
        seconds.append(time.perf_counter() - started)
        readings.append((scene, shapes.read_image(image)))
    return TextToImageReport(readings, float(np.median(seconds)))


def shape_mask(image: Image.Image, background: str) -> np.ndarray:
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    return np.sqrt(((pixels - np.array(shapes.COLOURS[background])) ** 2).sum(axis=2)) > 60


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def image_to_image(engine, source, strength: float, *, seed: int = 7):
    """A drawn source re-prompted with other colours: (reading, layout IoU with the source)."""
    drawn = shapes.Scene("square", "white", "blue", cx=0.4, cy=0.55, radius=0.25)
    image = shapes.draw(drawn)
    prompt = shapes.caption(shape="square", colour="yellow", background="red")
    result = generate(engine, source, prompt, seed=seed, task_type="imageToImage", strength=strength,
                      seed_image=image, cfg=2.0)
    reading = shapes.read_image(result)
    layout = iou(shape_mask(image, drawn.background), shape_mask(result, reading.background))
    return reading, layout


def inpainting(engine, source, *, seed: int = 7):
    """Repaint the left half of a drawn scene: (fraction of masked pixels in the prompted colours,
    mean change outside the mask on a 0-255 scale)."""
    image = shapes.draw(shapes.Scene("circle", "red", "green", cx=0.3, cy=0.5, radius=0.2))
    mask = Image.new("L", image.size, 0)
    mask.paste(255, (0, 0, image.width // 2, image.height))
    result = generate(engine, source, shapes.caption(shape="circle", colour="yellow", background="green"),
                      seed=seed, task_type="inpainting", strength=1.0, seed_image=image, mask_image=mask)
    inside = np.asarray(mask) > 127
    pixels = np.asarray(result.convert("RGB"), dtype=np.float32)
    names = [shapes.nearest_colour(rgb) for rgb in pixels[inside][::7]]
    in_prompt = sum(name in ("yellow", "green") for name in names) / len(names)
    kept = np.abs(pixels[~inside] - np.asarray(image, dtype=np.float32)[~inside]).mean()
    return in_prompt, float(kept)


def outpainting(engine, source, *, seed: int = 7) -> float:
    """Extend a drawn scene by 128 px on the right: the fraction of the new strip in its background colour."""
    image = shapes.draw(shapes.Scene("triangle", "yellow", "purple", cx=0.5, cy=0.5, radius=0.22))
    result = generate(engine, source, shapes.caption(shape="triangle", colour="yellow", background="purple"),
                      seed=seed, task_type="outpainting", strength=1.0, seed_image=image, size=(384, 256),
                      outpaint={"top": 0, "right": 128, "bottom": 0, "left": 0, "blur": 0})
    strip = np.asarray(result.convert("RGB"), dtype=np.float32)[:, 256 + 16:]
    names = [shapes.nearest_colour(rgb) for rgb in strip.reshape(-1, 3)[::11]]
    return sum(name == "purple" for name in names) / len(names)


def steps_curve(engine, source, counts=(2, 5, 10, 20), reference: int = 40, *, seed: int = 3) -> dict[int, float]:
    """Mean pixel distance (0-255) of the image at each step count to the `reference`-step image."""
    prompt = shapes.caption(shape="star", colour="orange", background="blue")

    def pixels(steps):
        return np.asarray(generate(engine, source, prompt, seed=seed, steps=steps), dtype=np.float32)

    final = pixels(reference)
    return {steps: float(np.abs(pixels(steps) - final).mean()) for steps in counts}
