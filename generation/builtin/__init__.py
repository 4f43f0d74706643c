"""The built-in model, `stepwise:1@1`: a tiny Stable Diffusion 1.5-architecture model of flat shapes.

The project trains it once (`generation.builtin.train`) and ships the weights in `model/` beside this
file; `serve` copies them into the data directory. It draws what its prompts say ("a red circle on
a blue background") in about a second on a laptop CPU, so a machine without a GPU or a downloaded
checkpoint shows what Stepwise does: how steps refine an image, what strength keeps, what a scheduler
changes, what inpainting repaints.

This module is plain Python (no torch), so `serve` can check and install the model cheaply:
- `shapes`: the model's world (palette, shapes, grammar, drawing, reading an image back);
- `tokenizers`: the tokenizers written here, for the built-in model and the tiny test pipelines;
- `tiny`: random-weight pipelines of every family, for the engine tests;
- `train`: the training run.
"""

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypedDict

from generation.builtin.shapes import EXAMPLE_PROMPTS, VOCABULARY

SHIPPED_MODEL_DIR = Path(__file__).resolve().parent / "model"
BUILTIN_DIRNAME = "stepwise-shapes-sd15"
MARKER = ".stepwise-builtin"


class CatalogDefaults(TypedDict):
    name: str
    architecture: str
    default_steps: int
    default_cfg: float
    default_scheduler: str
    default_width: int
    default_height: int
    min_steps: int
    max_steps: int


# What the catalog entry offers for it. Guidance is low: with this model, image tasks keep their
# source best at low CFG (at 6 the background already changes at strength 0.2), and text-to-image
# colours are right from about 4 up.
CATALOG_DEFAULTS: CatalogDefaults = {
    "name": "Stepwise Shapes (built-in)",
    "architecture": "sd15",
    "default_steps": 20,
    "default_cfg": 4.0,
    "default_scheduler": "Euler",
    "default_width": 256,
    "default_height": 256,
    "min_steps": 10,
    "max_steps": 30,
}
DESCRIPTION = (
    "A tiny Stable Diffusion 1.5-architecture model that Stepwise trains itself and ships, so everything "
    "works on a machine without a GPU or a downloaded checkpoint. It knows one small world: a flat "
    "{colour} {shape} on a plain {colour} background. Colours: " + ", ".join(VOCABULARY[:8]) + ". Shapes: "
    + ", ".join(VOCABULARY[8:12]) + ". Write prompts like \u201c" + EXAMPLE_PROMPTS[0] + "\u201d; every other "
    "word is ignored. 256\u00d7256 is its native size (512 works). Add real checkpoints in the admin catalog."
)


def shipped_version(folder: Path = SHIPPED_MODEL_DIR) -> str:
    """A digest of the shipped weights and configs: an installed copy of other weights is replaced."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return "stepwise-shapes-" + digest.hexdigest()[:16]


def is_complete(path: Path, version: str | None = None) -> bool:
    marker = Path(path) / MARKER
    return marker.is_file() and marker.read_text().strip() == (version or shipped_version())


def write_model_folder(path: Path, version: str, write: Callable[[Path], None]) -> Path:
    """Put a model folder at `path`, whole or not at all; skipped if that version is already there.

    1. Skip if the marker file says a model of this version is complete there.
    2. Refuse to touch a folder that is not ours (no marker): it may hold someone's real model.
    3. `write` fills a temporary sibling folder, so a crash never leaves half a model at `path`.
    4. Write the marker last, then move the folder into place (a rename: atomic on one filesystem).
       A model of another version is replaced; one written meanwhile by another process wins.
    """
    path = Path(path)
    # 1. Already there?
    if is_complete(path, version):
        return path
    # 2. Not ours?
    if path.exists() and any(path.iterdir()) and not (path / MARKER).is_file():
        raise FileExistsError(f"{path} exists and is not a Stepwise model; not overwriting it.")

    # 3. Write next to the destination.
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        write(staging)
        (staging / MARKER).write_text(version + "\n")
        # 4. Move into place.
        if path.exists():
            shutil.rmtree(path)
        try:
            os.rename(staging, path)
        except OSError:
            if not is_complete(path, version):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def install_builtin_model(path: Path) -> Path:
    """Copy the shipped built-in model to `path` (idempotent; no torch needed)."""
    if not (SHIPPED_MODEL_DIR / "model_index.json").is_file():
        raise FileNotFoundError(f"The built-in model's weights are missing from {SHIPPED_MODEL_DIR}.")

    def copy(staging: Path) -> None:
        shutil.copytree(SHIPPED_MODEL_DIR, staging, dirs_exist_ok=True)

    return write_model_folder(path, shipped_version(), copy)
