"""Recognise a model's kind and architecture from its files, without loading any weights (and without torch).

A `.safetensors` file starts with an 8-byte little-endian header length and a JSON header naming
every tensor with its shape: enough to tell SD 1.5 from SDXL, FLUX and Z-Image, and a checkpoint
from a LoRA, an embedding or a VAE. Diffusers folders say what they are in `model_index.json`.
Distilled variants (LCM, Lightning, Turbo, Schnell) share their base model's tensors, so those are
told by the name, as their publishers name them.

Add-ons (see `detect_addon`):
- kohya LoRAs (`lora_unet_*`, `lora_te*_*` with `.lora_down`/`.lora_up`/`.alpha`), and LyCORIS
  (LoCon: kohya keys on conv layers too; LoHa `hada_w*`; LoKr `lokr_w*`), with kohya's `ss_*`
  metadata (`ss_base_model_version`, `ss_tag_frequency`) where present;
- diffusers/PEFT LoRAs (`unet.`/`transformer.`/`text_encoder.` with `lora_A`/`lora_B` or `lora.down`);
- textual-inversion embeddings: A1111 `emb_params` / `string_to_param.*` (SD 1.5), `clip_l` + `clip_g` (SDXL);
- standalone VAEs (`encoder.*` and `decoder.*`, in the original or the diffusers layout).
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
    kind: str = "checkpoint"  # checkpoint | lora | lycoris | embedding | vae (ModelEntry.Kind values)
    trigger_words: tuple[str, ...] = ()  # from kohya's ss_* metadata


def read_safetensors_header(path: Path) -> dict:
    header, _ = read_safetensors_header_and_metadata(path)
    return header


def read_safetensors_header_and_metadata(path: Path) -> tuple[dict, dict]:
    """The tensor names with their shapes, and the `__metadata__` strings (kohya's `ss_*`), from the header."""
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
    metadata = header.pop("__metadata__", None)
    return header, metadata if isinstance(metadata, dict) else {}


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
        header, metadata = read_safetensors_header_and_metadata(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        return Detection(None, f"not a readable safetensors file ({exc})")
    addon = detect_addon(header, metadata, path.name)
    if addon is not None:
        return addon
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


# kohya's ss_base_model_version values (sd-scripts), and the modelspec architecture prefixes.
_BASE_MODEL_VERSIONS = {"sd_v1": "sd15", "sdxl_base_v1-0": "sdxl", "sdxl_base_v0-9": "sdxl", "flux1": "flux1d"}
_MODELSPEC = {"stable-diffusion-v1": "sd15", "stable-diffusion-xl-v1-base": "sdxl", "flux-1-dev": "flux1d",
              "flux-1-schnell": "flux1s"}
# Cross-attention width (the text encoder's hidden size) of each UNet family.
_CROSS_ATTENTION = {768: "sd15", 2048: "sdxl"}
MAX_TRIGGER_WORDS = 5


def _trigger_words(metadata: dict) -> tuple[str, ...]:
    """Trigger words from kohya metadata: modelspec's trigger phrase, else the most frequent training tags."""
    phrase = metadata.get("modelspec.trigger_phrase") or metadata.get("ss_trigger_words") or ""
    if isinstance(phrase, str) and phrase.strip():
        return tuple(w.strip() for w in phrase.split(",") if w.strip())[:MAX_TRIGGER_WORDS]
    try:
        frequency = json.loads(metadata.get("ss_tag_frequency") or "{}")
    except (TypeError, ValueError):
        return ()
    counts: dict[str, int] = {}
    if isinstance(frequency, dict):
        for tags in frequency.values():
            if isinstance(tags, dict):
                for tag, count in tags.items():
                    if isinstance(count, int) and isinstance(tag, str) and tag.strip():
                        counts[tag.strip()] = counts.get(tag.strip(), 0) + count
    ranked = sorted(counts, key=lambda tag: (-counts[tag], tag))
    return tuple(ranked[:MAX_TRIGGER_WORDS])


def _base_from_metadata(metadata: dict) -> str | None:
    version = metadata.get("ss_base_model_version", "")
    for prefix, key in _BASE_MODEL_VERSIONS.items():
        if isinstance(version, str) and version.startswith(prefix):
            return key
    architecture = metadata.get("modelspec.architecture", "")
    for prefix, key in _MODELSPEC.items():
        if isinstance(architecture, str) and architecture.startswith(prefix):
            return key
    return None


def _lora_base(header: dict, metadata: dict) -> tuple[str | None, str]:
    """The architecture a LoRA was trained for, and how that was told."""
    from_metadata = _base_from_metadata(metadata)
    if from_metadata:
        return from_metadata, f"ss_base_model_version/modelspec says {from_metadata}"
    keys = list(header)
    if any("double_blocks" in k or "single_transformer_blocks" in k or "single_blocks" in k for k in keys):
        return "flux1d", "FLUX transformer blocks"
    if any(k.startswith(("lora_te2_", "lora_te1_", "text_encoder_2.", "te2.")) for k in keys):
        return "sdxl", "a second text encoder (SDXL)"
    for key in keys:
        # The down projection of a cross-attention key layer reads the text encoder's hidden states.
        if ("attn2" in key and ("to_k" in key or "to_v" in key)
                and (key.endswith(("lora_down.weight", "lora_A.weight", "lora.down.weight")))):
            width = (header[key].get("shape") or [0, 0])[-1]
            if width in _CROSS_ATTENTION:
                return _CROSS_ATTENTION[width], f"cross-attention {width} wide"
    return None, "no base model in its metadata or its layer widths"


def detect_addon(header: dict, metadata: dict, name: str) -> Detection | None:
    """A LoRA, LyCORIS, embedding or VAE from its tensor names; None when it looks like none of them."""
    keys = list(header)
    if not keys:
        return None

    def shape(key):
        return header.get(key, {}).get("shape") or []

    # 1. LoRA family. kohya keys start with lora_unet_/lora_te; LyCORIS adds LoHa/LoKr factors.
    kohya = [k for k in keys if k.startswith(("lora_unet_", "lora_te_", "lora_te1_", "lora_te2_", "lora_transformer_"))]
    peft = [k for k in keys if (".lora_A." in k or ".lora_B." in k or ".lora.down." in k or ".lora.up." in k)
            and k.split(".", 1)[0] in ("unet", "transformer", "text_encoder", "text_encoder_2", "base_model")]
    if kohya or peft:
        lycoris_kind = None
        if any(".hada_w1_a" in k or ".lokr_w1" in k for k in kohya):
            lycoris_kind = "LoHa" if any(".hada_w1_a" in k for k in kohya) else "LoKr"
        elif any(k.endswith(".lora_down.weight") and len(shape(k)) == 4 and shape(k)[2:] != [1, 1] for k in kohya):
            lycoris_kind = "LoCon"  # kohya-style LoRA on 3x3 convolutions too
        base, how = _lora_base(header, metadata)
        fmt = "kohya" if kohya else "diffusers/PEFT"
        triggers = _trigger_words(metadata)
        if lycoris_kind:
            return Detection(base, f"a {lycoris_kind} (LyCORIS) in {fmt} format; {how}", "lycoris", triggers)
        return Detection(base, f"a LoRA in {fmt} format; {how}", "lora", triggers)

    # 2. Textual-inversion embeddings.
    if "clip_l" in header and "clip_g" in header:
        return Detection("sdxl", "an SDXL textual-inversion embedding (clip_l and clip_g)", "embedding")
    embedding_keys = [k for k in keys if k == "emb_params" or k.startswith("string_to_param")]
    if embedding_keys and len(keys) <= 4:
        width = shape(embedding_keys[0])[-1] if shape(embedding_keys[0]) else 0
        if width == 768:
            return Detection("sd15", "an SD 1.5 textual-inversion embedding (768 wide)", "embedding")
        return Detection(None, f"a textual-inversion embedding {width} wide matches no supported architecture",
                         "embedding")

    # 3. A standalone VAE: only encoder/decoder (and quant convs), in the original or diffusers layout.
    prefixes = {k.split(".", 1)[0] for k in keys}
    if prefixes and prefixes <= {"encoder", "decoder", "quant_conv", "post_quant_conv"} and "encoder" in prefixes:
        conv_out = shape("encoder.conv_out.weight")
        latent_channels = conv_out[0] // 2 if conv_out else 0
        if latent_channels == 16:
            return Detection("flux1d", "a 16-channel VAE (FLUX.1 / Z-Image latents)", "vae")
        if latent_channels == 4:
            # SD 1.5's and SDXL's VAEs have the same layout: the name is all that tells them apart.
            lowered = name.lower()
            base = "sdxl" if ("xl" in lowered or "sdxl" in lowered) else "sd15"
            return Detection(base, f"a 4-channel VAE; {'SDXL' if base == 'sdxl' else 'SD 1.5'} by its name", "vae")
        return Detection(None, f"a VAE with {latent_channels} latent channels matches no supported architecture", "vae")
    return None


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
