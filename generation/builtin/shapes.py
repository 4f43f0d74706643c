"""The built-in model's world: flat-coloured upright shapes on plain backgrounds.

One module owns it, so the trainer draws, the quality checker judges and the UI describes the same
world: the palette, the shapes, the caption grammar, how a scene is drawn, and how a drawn (or
generated) image is read back. Plain Python with Pillow and NumPy: no torch, no Django.
"""

import math
import random
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

# Clearly distinct, saturated colours: generated images are judged by the nearest of these.
COLOURS = {
    "red": (220, 40, 40),
    "orange": (245, 140, 30),
    "yellow": (245, 220, 50),
    "green": (40, 160, 70),
    "blue": (40, 90, 220),
    "purple": (140, 60, 180),
    "black": (20, 20, 20),
    "white": (240, 240, 240),
}
SHAPES = ("circle", "square", "triangle", "star")

# The words the model understands. Its tokenizer drops every other word (articles included), so
# "a red circle on a blue background", "Red circle on blue background!" and "a big red circle on
# a blue background" all reach the model as the same tokens.
VOCABULARY = (*COLOURS, *SHAPES, "on", "background")
EXAMPLE_PROMPTS = (
    "a red circle on a blue background",
    "a yellow star on a purple background",
    "a white triangle on a black background",
    "a green square on an orange background",
)


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def caption(*, shape: str, colour: str, background: str) -> str:
    return f"{_a(colour)} {shape} on {_a(background)} background"


@dataclass(frozen=True)
class Scene:
    shape: str
    colour: str
    background: str
    cx: float = 0.5  # centre, as fractions of the width and height
    cy: float = 0.5
    radius: float = 0.25  # half the shape's extent, as a fraction of the width

    @property
    def caption(self) -> str:
        return caption(shape=self.shape, colour=self.colour, background=self.background)


def random_scene(rng: random.Random) -> Scene:
    """One scene: any shape, any two different colours, a size and a position that fit the frame."""
    colour, background = rng.sample(list(COLOURS), 2)
    radius = rng.uniform(0.16, 0.34)
    margin = radius + 0.04
    return Scene(
        shape=rng.choice(SHAPES), colour=colour, background=background,
        cx=rng.uniform(margin, 1 - margin), cy=rng.uniform(margin, 1 - margin), radius=radius,
    )


def all_labels() -> list[tuple[str, str, str]]:
    """Every (shape, colour, background) the grammar allows: 4 x 8 x 7 = 224."""
    return [(s, c, b) for s in SHAPES for c in COLOURS for b in COLOURS if c != b]


def _star(cx, cy, r, inner=0.45):
    points = []
    for i in range(10):
        radius = r if i % 2 == 0 else r * inner
        angle = -math.pi / 2 + i * math.pi / 5
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    return points


def draw(scene: Scene, size: int = 256) -> Image.Image:
    """The scene as an RGB image, drawn at twice the size and downscaled for anti-aliased edges."""
    big = size * 2
    image = Image.new("RGB", (big, big), COLOURS[scene.background])
    pen = ImageDraw.Draw(image)
    cx, cy, r = scene.cx * big, scene.cy * big, scene.radius * big
    fill = COLOURS[scene.colour]
    if scene.shape == "circle":
        pen.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    elif scene.shape == "square":
        s = r * 0.85  # a square of the same visual weight as a circle of radius r
        pen.rectangle((cx - s, cy - s, cx + s, cy + s), fill=fill)
    elif scene.shape == "triangle":
        # Equilateral, apex up, centred on its circumcentre.
        pen.polygon([(cx + r * math.cos(a), cy + r * math.sin(a))
                     for a in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)], fill=fill)
    elif scene.shape == "star":
        pen.polygon(_star(cx, cy, r * 1.05), fill=fill)
    else:
        raise ValueError(f"Unknown shape {scene.shape!r}; known: {', '.join(SHAPES)}.")
    return image.resize((size, size), Image.Resampling.BOX)


# ---------------------------------------------------------------------------------------------
# Reading an image back: background colour, shape colour, shape
# ---------------------------------------------------------------------------------------------

_PALETTE = np.array(list(COLOURS.values()), dtype=np.float32)
_NAMES = list(COLOURS)


def nearest_colour(rgb) -> str:
    return _NAMES[int(np.argmin(((_PALETTE - np.asarray(rgb, dtype=np.float32)) ** 2).sum(axis=1)))]


def _convex_hull_area(points: np.ndarray) -> float:
    """Area of the convex hull of integer points (Andrew's monotone chain, then the shoelace)."""
    pts = sorted(set(map(tuple, points.tolist())))
    if len(pts) < 3:
        return 0.0

    def half(seq):
        hull: list[tuple[int, ...]] = []
        for p in seq:
            while len(hull) >= 2 and ((hull[-1][0] - hull[-2][0]) * (p[1] - hull[-2][1])
                                      - (hull[-1][1] - hull[-2][1]) * (p[0] - hull[-2][0])) <= 0:
                hull.pop()
            hull.append(p)
        return hull

    hull = half(pts)[:-1] + half(reversed(pts))[:-1]
    x, y = np.array(hull, dtype=np.float64).T
    return 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))


@dataclass(frozen=True)
class Reading:
    background: str
    colour: str | None  # None when no shape stands out from the background
    shape: str | None
    solidity: float = 0.0  # area / convex hull area: a star is far from convex
    extent: float = 0.0  # area / bounding-box area: square 1, circle 0.79, triangle 0.5


def read_image(image: Image.Image) -> Reading:
    """Judge an image by plain analysis, as a person would name it.

    1. Background: the median colour of the outermost ring of pixels.
    2. Shape: the pixels far from the background colour; its colour is their median.
    3. Shape kind from two ratios: solidity (stars are the only concave shape), then extent
       (area over bounding box: square 1.0, circle 0.79, triangle 0.5).
    """
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    h, w, _ = pixels.shape
    border = np.concatenate([pixels[:2].reshape(-1, 3), pixels[-2:].reshape(-1, 3),
                             pixels[:, :2].reshape(-1, 3), pixels[:, -2:].reshape(-1, 3)])
    background_rgb = np.median(border, axis=0)
    background = nearest_colour(background_rgb)

    distance = np.sqrt(((pixels - background_rgb) ** 2).sum(axis=2))
    mask = distance > 50
    if mask.sum() < 0.005 * h * w:
        return Reading(background, None, None)
    colour = nearest_colour(np.median(pixels[mask], axis=0))

    # Keep the pixels of the shape's own colour (drops anti-aliased edges and stray blobs).
    own = np.sqrt(((pixels - np.array(COLOURS[colour], dtype=np.float32)) ** 2).sum(axis=2))
    mask &= own < own[mask].mean() + 2 * own[mask].std() + 1
    ys, xs = np.nonzero(mask)
    area = float(len(xs))
    box = float((xs.max() - xs.min() + 1) * (ys.max() - ys.min() + 1))
    # The hull through pixel centres misses about half a pixel along the whole outline.
    rows = np.unique(ys)  # only each row's outermost pixels can lie on the hull
    left = np.array([xs[ys == y].min() for y in rows])
    right = np.array([xs[ys == y].max() for y in rows])
    outline = np.concatenate([np.stack([left, rows], axis=1), np.stack([right, rows], axis=1)])
    hull = _convex_hull_area(outline) + (xs.max() - xs.min() + ys.max() - ys.min() + 2)
    solidity = area / max(hull, 1.0)
    extent = area / box
    if solidity < 0.8:
        shape = "star"
    else:
        shape = min((("square", 1.0), ("circle", math.pi / 4), ("triangle", 0.5)),
                    key=lambda kind: abs(kind[1] - extent))[0]
    return Reading(background, colour, shape, solidity=solidity, extent=extent)
