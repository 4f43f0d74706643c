"""Recognise a model's architecture from its files, without loading any weights (and without torch).

A `.safetensors` file starts with an 8-byte little-endian header length and a JSON header naming
every tensor with its shape: enough to tell SD 1.5 from SDXL, FLUX and Z-Image. Diffusers folders
say what they are in `model_index.json`. Distilled variants (LCM, Lightning, Turbo, Schnell) share
their base model's tensors, so those are told by the name, as their publishers name them.
"""

import json
import re
import struct
from dataclasses import dataclass
from pathlib import Path

MAX_HEADER_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True)
class Detection:
    architecture: str | None  # a key of ARCHITECTURES, or None when not recognised
    reason: str  # why: what was recognised, or why it was skipped


def read_safetensors_header(path: Path) -> dict:
    with open(path, "rb") as handle:
        raw = handle.read(8)
        if len(raw) != 8:
            raise ValueError("file is too short to be a safetensors file")
        (length,) = struct.unpack("<Q", raw)
        if not 2 <= length <= MAX_HEADER_BYTES:
            raise ValueError("no valid safetensors header")
        header = json.loads(handle.read(length))
    if not isinstance(header, dict):
        raise ValueError("no valid safetensors header")
    header.pop("__metadata__", None)
    return header


def _distilled_variant(base: str, name: str) -> str:
    lowered = name.lower()
    if base == "sd15" and re.search(r"\blcm\b|[-_]lcm|lcm[-_]", lowered):
        return "sd15_lcm"
    if base == "sdxl":
        for hint, key in (("lightning", "sdxl_lightning"), ("turbo", "sdxl_turbo"), ("lcm", "sdxl_lcm")):
            if hint in lowered:
                return key
    if base == "zimage" and "turbo" in lowered:
        return "zimage_turbo"
    return base


def detect_checkpoint(path: Path) -> Detection:
    try:
        header = read_safetensors_header(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        return Detection(None, f"not a readable safetensors file ({exc})")
    keys = header.keys()

    def shape(key):
        return header.get(key, {}).get("shape")

    if any(k.startswith("conditioner.embedders.1.") for k in keys):
        return Detection(_distilled_variant("sdxl", path.name), "SDXL: it has the second text encoder (OpenCLIP bigG)")
    if any(".double_blocks." in f".{k}" for k in keys) and any(".single_blocks." in f".{k}" for k in keys):
        guidance = any("guidance_in." in k for k in keys)
        if guidance:
            return Detection("flux1d", "FLUX.1 dev: double/single blocks with a guidance embedder")
        return Detection("flux1s", "FLUX.1 schnell: double/single blocks without a guidance embedder")
    if any("noise_refiner." in k for k in keys) and any("context_refiner." in k for k in keys):
        return Detection(_distilled_variant("zimage", path.name), "Z-Image: noise and context refiner blocks")
    attention = [k for k in keys if k.startswith("model.diffusion_model.") and k.endswith("attn2.to_k.weight")]
    if attention:
        width = (shape(attention[0]) or [0, 0])[-1]
        if width == 768:
            return Detection(_distilled_variant("sd15", path.name), "SD 1.5: UNet cross-attention 768 wide")
        if width == 1024:
            return Detection(None, "SD 2.x (cross-attention 1024 wide) is not supported")
        return Detection(None, f"a UNet with cross-attention {width} wide matches no supported architecture")
    return Detection(None, "no known model layout in its tensor names (a LoRA, VAE or embedding?)")


_PIPELINES = {
    "StableDiffusionPipeline": "sd15",
    "StableDiffusionImg2ImgPipeline": "sd15",
    "StableDiffusionInpaintPipeline": "sd15",
    "StableDiffusionXLPipeline": "sdxl",
    "StableDiffusionXLImg2ImgPipeline": "sdxl",
    "StableDiffusionXLInpaintPipeline": "sdxl",
    "FluxPipeline": "flux1d",
    "ZImagePipeline": "zimage",
}


def detect_folder(path: Path) -> Detection:
    try:
        index = json.loads((path / "model_index.json").read_text())
    except (OSError, ValueError) as exc:
        return Detection(None, f"no readable model_index.json ({exc})")
    class_name = index.get("_class_name", "")
    base = _PIPELINES.get(class_name)
    if base is None:
        return Detection(None, f"pipeline {class_name or 'unknown'} is not a supported architecture")
    if base == "flux1d":
        try:
            config = json.loads((path / "transformer" / "config.json").read_text())
            if not config.get("guidance_embeds", True):
                return Detection("flux1s", "FLUX.1 schnell: a FluxPipeline without guidance embeddings")
        except (OSError, ValueError):
            pass
    return Detection(_distilled_variant(base, path.name), f"a diffusers {class_name}")


def detect(path: Path) -> Detection:
    path = Path(path)
    if path.is_dir():
        return detect_folder(path)
    if path.suffix == ".safetensors":
        return detect_checkpoint(path)
    return Detection(None, "neither a diffusers folder nor a .safetensors file")


def candidates(root: Path):
    """Every diffusers folder and .safetensors file under root (not descending into a diffusers folder)."""
    root = Path(root)
    if root.is_file() or (root / "model_index.json").exists():
        yield root
        return
    for child in sorted(root.iterdir()):
        if child.is_dir():
            yield from candidates(child)
        elif child.suffix == ".safetensors":
            yield child
