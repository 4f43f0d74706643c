"""Export a diffusers SD 1.5 folder as one original-layout (LDM) checkpoint, for the single-file tests.

The layout of the `.safetensors` files people download from CivitAI. Test tooling only: it lets the
tests load a single-file checkpoint without downloading one.
"""

from pathlib import Path

# diffusers resnet parameter names -> original (LDM) UNet names
_UNET_RESNET = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "time_emb_proj": "emb_layers.1",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "conv_shortcut": "skip_connection",
}
# diffusers VAE attention parameter names -> original names
_VAE_ATTENTION = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def _rename_prefix(rest: str, names: dict) -> str:
    for new, old in names.items():
        if rest.startswith(new + "."):
            return old + rest[len(new):]
    return rest


def _unet_to_ldm(state: dict, config: dict) -> dict:
    """diffusers UNet2DConditionModel keys -> `model.diffusion_model.*` (the inverse of
    diffusers' `convert_ldm_unet_checkpoint`, for SD 1.x-style UNets)."""
    from diffusers.loaders.single_file_utils import DIFFUSERS_TO_LDM_MAPPING

    fixed = DIFFUSERS_TO_LDM_MAPPING["unet"]["layers"]
    per_level = config["layers_per_block"] + 1  # resnets per down level, +1 for the downsampler slot
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if key in fixed:
            new = fixed[key]
        elif parts[0] == "down_blocks":
            level, kind = int(parts[1]), parts[2]
            if kind == "downsamplers":
                new = f"input_blocks.{(level + 1) * per_level}.0.op.{parts[-1]}"
            else:
                block, rest = level * per_level + int(parts[3]) + 1, ".".join(parts[4:])
                new = (f"input_blocks.{block}.0.{_rename_prefix(rest, _UNET_RESNET)}" if kind == "resnets"
                       else f"input_blocks.{block}.1.{rest}")
        elif parts[0] == "mid_block":
            rest = ".".join(parts[3:])
            new = (f"middle_block.{2 * int(parts[2])}.{_rename_prefix(rest, _UNET_RESNET)}" if parts[1] == "resnets"
                   else f"middle_block.1.{rest}")
        elif parts[0] == "up_blocks":
            level, kind = int(parts[1]), parts[2]
            if kind == "upsamplers":
                has_attention = any(k.startswith(f"up_blocks.{level}.attentions.") for k in state)
                new = f"output_blocks.{level * per_level + per_level - 1}.{2 if has_attention else 1}.conv.{parts[-1]}"
            else:
                block, rest = level * per_level + int(parts[3]), ".".join(parts[4:])
                new = (f"output_blocks.{block}.0.{_rename_prefix(rest, _UNET_RESNET)}" if kind == "resnets"
                       else f"output_blocks.{block}.1.{rest}")
        else:
            raise ValueError(f"No original-layout name for UNet parameter {key!r}.")
        out["model.diffusion_model." + new] = value
    return out


def _vae_to_ldm(state: dict, config: dict) -> dict:
    """diffusers AutoencoderKL keys -> `first_stage_model.*` (inverse of `convert_ldm_vae_checkpoint`)."""
    from diffusers.loaders.single_file_utils import DIFFUSERS_TO_LDM_MAPPING

    fixed = DIFFUSERS_TO_LDM_MAPPING["vae"]
    levels = len(config["block_out_channels"])
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        side = parts[0]
        if key in fixed:
            new = fixed[key]
        elif parts[1] in ("down_blocks", "up_blocks"):
            # The original decoder numbers its levels from the bottom: up.0 is the last one.
            level = int(parts[2]) if parts[1] == "down_blocks" else levels - 1 - int(parts[2])
            name = "down" if parts[1] == "down_blocks" else "up"
            if parts[3] in ("downsamplers", "upsamplers"):
                new = f"{side}.{name}.{level}.{name}sample.conv.{parts[-1]}"
            else:
                rest = ".".join(parts[5:]).replace("conv_shortcut", "nin_shortcut")
                new = f"{side}.{name}.{level}.block.{parts[4]}.{rest}"
        elif parts[1] == "mid_block" and parts[2] == "resnets":
            rest = ".".join(parts[4:]).replace("conv_shortcut", "nin_shortcut")
            new = f"{side}.mid.block_{int(parts[3]) + 1}.{rest}"
        elif parts[1] == "mid_block" and parts[2] == "attentions":
            new = f"{side}.mid.attn_1.{_rename_prefix('.'.join(parts[4:]), _VAE_ATTENTION)}"
            if value.ndim == 2:  # the original attention projections are 1x1 convolutions
                value = value[:, :, None, None]
        else:
            raise ValueError(f"No original-layout name for VAE parameter {key!r}.")
        out["first_stage_model." + new] = value
    return out


def _clip_to_ldm(state: dict) -> dict:
    """CLIPTextModel keys -> `cond_stage_model.transformer.text_model.*`. transformers 5 saves
    them without the `text_model.` level that original checkpoints (and transformers 4) have."""
    return {
        "cond_stage_model.transformer." + (k if k.startswith("text_model.") else "text_model." + k): v
        for k, v in state.items()
    }


def export_sd15_single_file(model_dir: Path, path: Path) -> Path:
    """Write a diffusers SD 1.5 folder (e.g. the built-in model) as one original-layout checkpoint.

    The layout of the `.safetensors` files people download from CivitAI: `model.diffusion_model.*`
    (UNet), `first_stage_model.*` (VAE), `cond_stage_model.transformer.*` (CLIP text encoder). It
    lets tests, and admins trying the single-file path, load a checkpoint without downloading one.
    Load it back with `StableDiffusionPipeline.from_single_file(path, config=model_dir)`.
    """
    import json

    from safetensors.torch import load_file, save_file

    model_dir = Path(model_dir)
    unet_config = json.loads((model_dir / "unet" / "config.json").read_text())
    vae_config = json.loads((model_dir / "vae" / "config.json").read_text())
    checkpoint = {
        **_unet_to_ldm(load_file(model_dir / "unet" / "diffusion_pytorch_model.safetensors"), unet_config),
        **_vae_to_ldm(load_file(model_dir / "vae" / "diffusion_pytorch_model.safetensors"), vae_config),
        **_clip_to_ldm(load_file(model_dir / "text_encoder" / "model.safetensors")),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in checkpoint.items()}, str(path))
    return path
