"""Outpainting as inpainting on a larger canvas.

1. `prepare` puts the source on a canvas extended by (top, right, bottom, left) pixels, pre-fills the
   new area from the source's edges plus seeded noise (so the model starts from plausible colours,
   not black), and makes a mask: white over the new area, feathered `blur` pixels into the source
   so the seam blends.
2. The engine runs the inpainting pipeline on (canvas, mask) at the canvas size.
3. `composite` pastes the source back wherever the mask is not fully white, blended by the mask,
   so everything beyond the blur band is the source, pixel for pixel (the VAE round trip would
   otherwise shift its colours slightly).

Pure PIL/numpy: no torch.
"""

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

NOISE_STRENGTH = 24  # standard deviation, in 0-255 pixel units, of the noise over the new area


@dataclass(frozen=True)
class Canvas:
    image: Image.Image  # RGB, the final size: source at (left, top), new area pre-filled
    mask: Image.Image  # L, same size: 255 = paint, 0 = keep, feathered across the seams
    box: tuple[int, int, int, int]  # where the source sits: (left, top, right, bottom)


def prepare(source: Image.Image, *, top: int, right: int, bottom: int, left: int, blur: int, seed: int) -> Canvas:
    """The canvas and mask for extending `source` by the given pixels on each side."""
    for name, value in (("top", top), ("right", right), ("bottom", bottom), ("left", left), ("blur", blur)):
        if value < 0:
            raise ValueError(f"outpaint {name} must not be negative, not {value}.")
    if not (top or right or bottom or left):
        raise ValueError("outpaint must extend at least one side.")
    pixels = np.asarray(source.convert("RGB"))
    height, width = pixels.shape[:2]
    box = (left, top, left + width, top + height)

    # 1. New area: the source's edge pixels stretched outwards, plus noise so it is not flat streaks.
    canvas = np.pad(pixels, ((top, bottom), (left, right), (0, 0)), mode="edge").astype(np.float32)
    new_area = np.ones(canvas.shape[:2], dtype=bool)
    new_area[top:top + height, left:left + width] = False
    noise = np.random.default_rng(seed).normal(0.0, NOISE_STRENGTH, canvas.shape).astype(np.float32)
    canvas[new_area] += noise[new_area]
    image = Image.fromarray(canvas.clip(0, 255).astype(np.uint8))

    # 2. Mask: white over the new area, feathered into the source over `blur` pixels.
    mask = _feathered_mask(new_area, box, (top, right, bottom, left), blur)
    return Canvas(image=image, mask=mask, box=box)


def _feathered_mask(new_area: np.ndarray, box, sides, blur: int) -> Image.Image:
    """White over `new_area`; across each extended seam a soft ramp reaching `blur` px into the source.

    The white area is grown half the band into the source, then Gaussian-blurred (sigma = blur / 4,
    so the ramp fades out within the band). Then the new area is forced back to pure white (it must
    be painted entirely) and everything deeper than `blur` px into the source to pure black (it must
    stay the source, exactly).
    """
    hard = new_area.astype(np.float32)
    if blur == 0:
        return Image.fromarray((hard * 255).astype(np.uint8))

    left, top, right, bottom = box
    extend_top, extend_right, extend_bottom, extend_left = sides
    # Distance of each pixel into the source from the nearest extended seam (large if none).
    ys, xs = np.mgrid[0:hard.shape[0], 0:hard.shape[1]]
    depth = np.full(hard.shape, np.inf, dtype=np.float32)
    if extend_top:
        depth = np.minimum(depth, ys - top)
    if extend_bottom:
        depth = np.minimum(depth, bottom - 1 - ys)
    if extend_left:
        depth = np.minimum(depth, xs - left)
    if extend_right:
        depth = np.minimum(depth, right - 1 - xs)

    grown = np.where(new_area | (depth < blur / 2), 255, 0).astype(np.uint8)
    soft = np.asarray(Image.fromarray(grown).filter(ImageFilter.GaussianBlur(blur / 4))).copy()
    soft[new_area] = 255
    soft[~new_area & (depth >= blur)] = 0
    return Image.fromarray(soft)


def composite(result: Image.Image, canvas: Canvas) -> Image.Image:
    """The generated image with the source pasted back, blended by the mask across the seams."""
    if result.size != canvas.image.size:
        result = result.resize(canvas.image.size, Image.Resampling.LANCZOS)
    return Image.composite(result.convert("RGB"), canvas.image, canvas.mask)
