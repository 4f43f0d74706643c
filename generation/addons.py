"""Add-ons on a cached pipeline: LoRA adapters, textual inversions, VAE overrides and weighted prompts.

Used by the engine only (torch, diffusers, compel). The engine decides *when* (once per cached
pipeline, per job, restored after); this module knows *how*:

- LoRA and LyCORIS: diffusers' `load_lora_weights` reads kohya, LyCORIS (LoCon) and diffusers/PEFT
  files alike and turns them into PEFT adapters on the UNet/transformer and text encoders, one
  named adapter per catalog entry. `set_adapters` picks a job's adapters and weights.
- Embeddings: `load_textual_inversion` adds the entry's token to the tokenizer(s); SDXL embeddings
  carry one tensor per text encoder (`clip_l`, `clip_g`).
- VAE: a standalone VAE, in the diffusers layout or the original (LDM) one, built with the
  checkpoint's own VAE config.
- Prompt weighting: compel turns a weighted prompt into embeddings for SD 1.5 and SDXL; AUTOMATIC1111's
  `(word:1.3)` syntax (Runware's sdEmbeds) is translated to compel's first (`generation/prompts.py`).
"""

import contextlib
import hashlib
from pathlib import Path

import torch

from generation.inputs import AddOn, ModelLoadError
from generation.prompts import a1111_to_compel


def adapter_name(air: str) -> str:
    """A PEFT adapter name for a catalog entry: module-name safe (AIR ids have ':' and '@')."""
    return "lora_" + hashlib.sha1(air.encode()).hexdigest()[:12]


def load_lora(pipe, addon: AddOn) -> str:
    """Load a LoRA/LyCORIS file as a named adapter on the pipeline's (shared) components."""
    if not hasattr(pipe, "load_lora_weights"):
        raise ValueError(f"LoRA {addon.air}: {type(pipe).__name__} cannot load LoRA adapters.")
    if not Path(addon.path).is_file():
        raise ModelLoadError(f"LoRA {addon.air}: {addon.path} does not exist.")
    name = adapter_name(addon.air)
    try:
        pipe.load_lora_weights(addon.path, adapter_name=name)
    except Exception as exc:  # diffusers raises many types for a file that does not fit
        # A half-loaded adapter must not stay behind on the shared modules.
        with contextlib.suppress(Exception):  # nothing was registered under that name
            pipe.delete_adapters([name])
        raise ModelLoadError(f"LoRA {addon.air} does not fit this model: {exc}") from exc
    return name


def _read_tensors(path: str) -> dict:
    from safetensors.torch import load_file

    return load_file(path)


def load_embedding(pipe, addon: AddOn, family: str) -> None:
    """Add a textual-inversion embedding under its token to the tokenizer(s) and text encoder(s)."""
    if not Path(addon.path).is_file():
        raise ModelLoadError(f"Embedding {addon.air}: {addon.path} does not exist.")
    try:
        tensors = _read_tensors(addon.path)
    except Exception as exc:
        raise ModelLoadError(f"Embedding {addon.air}: not a readable safetensors file ({exc}).") from exc
    pairs = [(pipe.tokenizer, pipe.text_encoder)]
    if family == "sdxl":
        if "clip_l" not in tensors or "clip_g" not in tensors:
            raise ModelLoadError(f"Embedding {addon.air} is not an SDXL embedding (it lacks clip_l and clip_g).")
        vectors = [tensors["clip_l"], tensors["clip_g"]]
        pairs.append((pipe.tokenizer_2, pipe.text_encoder_2))
    else:
        candidates = [v for k, v in tensors.items() if k == "emb_params" or k.startswith("string_to_param")]
        if len(candidates) != 1 and len(tensors) != 1:
            raise ModelLoadError(f"Embedding {addon.air}: expected one embedding tensor (emb_params), "
                                 f"found {', '.join(sorted(tensors))}.")
        vectors = [candidates[0] if candidates else next(iter(tensors.values()))]
    for (tokenizer, text_encoder), vector in zip(pairs, vectors, strict=True):
        if vector.shape[-1] != text_encoder.get_input_embeddings().weight.shape[-1]:
            raise ModelLoadError(f"Embedding {addon.air} is {vector.shape[-1]} wide; this model's text encoder is "
                                 f"{text_encoder.get_input_embeddings().weight.shape[-1]} wide.")
        try:
            pipe.load_textual_inversion(vector.reshape(-1, vector.shape[-1]), token=addon.token,
                                        tokenizer=tokenizer, text_encoder=text_encoder)
        except ValueError as exc:
            raise ModelLoadError(f"Embedding {addon.air} (token {addon.token!r}): {exc}") from exc


def load_vae(addon: AddOn, reference, *, device: str, dtype: torch.dtype):
    """A standalone VAE with the checkpoint's VAE config (`reference` is the checkpoint's own VAE)."""
    from diffusers import AutoencoderKL

    path = Path(addon.path)
    if not path.exists():
        raise ModelLoadError(f"VAE {addon.air}: {path} does not exist.")
    try:
        if path.is_dir():
            vae = AutoencoderKL.from_pretrained(path, local_files_only=True)
        else:
            state = _read_tensors(str(path))
            vae = AutoencoderKL.from_config(reference.config)
            if not any(key.startswith("encoder.down_blocks.") for key in state):
                from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint

                state = convert_ldm_vae_checkpoint(state, dict(reference.config))
            vae.load_state_dict(state, strict=True)
    except Exception as exc:  # a VAE of another shape or layout
        raise ModelLoadError(f"VAE {addon.air} does not fit this model: {exc}") from exc
    return vae.to(device=device, dtype=dtype).eval()


def weighted_prompt_kwargs(pipe, family: str, *, prompt: str, negative_prompt: str | None, syntax: str,
                           clip_skip: int) -> dict:
    """The pipeline's `prompt_embeds` (and pooled, negative) arguments for a weighted prompt.

    `syntax` is "compel" (compel's own `(word)1.3`, `word++`) or "sdEmbeds" (AUTOMATIC1111's
    `(word:1.3)`, `(word)`, `[word]`). The embeddings equal the pipeline's own for a prompt without
    weights: same hidden layer (clip skip included), same padding to 77 tokens.
    """
    from compel import Compel, DiffusersTextualInversionManager, ReturnedEmbeddingsType

    if syntax == "sdEmbeds":
        prompt = a1111_to_compel(prompt)
        negative_prompt = a1111_to_compel(negative_prompt) if negative_prompt else negative_prompt
    if clip_skip:
        # compel reaches the final layer norm through `text_model`, which transformers 5's CLIP lacks.
        raise ValueError("clipSkip cannot be combined with promptWeighting.")
    manager = DiffusersTextualInversionManager(pipe)
    if family == "sd15":
        compel = Compel(tokenizer=pipe.tokenizer, text_encoder=pipe.text_encoder, textual_inversion_manager=manager,
                        returned_embeddings_type=ReturnedEmbeddingsType.LAST_HIDDEN_STATES_NORMALIZED,
                        device=pipe.text_encoder.device)
        with torch.no_grad():
            positive = compel(prompt)
            negative = compel(negative_prompt or "")
        return {"prompt_embeds": positive, "negative_prompt_embeds": negative}
    if family == "sdxl":
        compel = Compel(tokenizer=[pipe.tokenizer, pipe.tokenizer_2], text_encoder=[pipe.text_encoder,
                        pipe.text_encoder_2], textual_inversion_manager=manager,
                        returned_embeddings_type=ReturnedEmbeddingsType.PENULTIMATE_HIDDEN_STATES_NON_NORMALIZED,
                        requires_pooled=[False, True], device=pipe.text_encoder.device)
        with torch.no_grad():
            positive, pooled = compel(prompt)
            if negative_prompt or not pipe.config.get("force_zeros_for_empty_prompt", True):
                negative, negative_pooled = compel(negative_prompt or "")
            else:
                # What the SDXL pipeline does for an empty negative prompt.
                negative, negative_pooled = torch.zeros_like(positive), torch.zeros_like(pooled)
        return {"prompt_embeds": positive, "pooled_prompt_embeds": pooled,
                "negative_prompt_embeds": negative, "negative_pooled_prompt_embeds": negative_pooled}
    raise ValueError(f"promptWeighting does not apply to the {family} family.")


def clip_skip_prompt_kwargs(pipe, *, prompt: str, negative_prompt: str | None, clip_skip: int) -> dict:
    """SD 1.5's prompt embeddings with `clip_skip` layers skipped, as diffusers' `encode_prompt` makes them.

    Done here because that code reaches the final layer norm through `text_encoder.text_model`,
    which transformers 5's CLIP text model no longer has (it is the text model itself).
    """
    encoder = pipe.text_encoder
    final_layer_norm = encoder.text_model.final_layer_norm if hasattr(encoder, "text_model") else \
        encoder.final_layer_norm

    def encode(text: str):
        text = pipe.maybe_convert_prompt(text, pipe.tokenizer)  # multi-vector embedding tokens
        ids = pipe.tokenizer(text, padding="max_length", max_length=pipe.tokenizer.model_max_length,
                             truncation=True, return_tensors="pt").input_ids.to(encoder.device)
        with torch.no_grad():
            hidden = encoder(ids, output_hidden_states=True).hidden_states[-(clip_skip + 1)]
            return final_layer_norm(hidden)

    return {"prompt_embeds": encode(prompt), "negative_prompt_embeds": encode(negative_prompt or "")}
