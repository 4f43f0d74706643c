"""The built-in model and the tiny test pipelines, made locally from configs: nothing is downloaded.

- `build_builtin_model(path)` writes "Stepwise Tiny": a Stable Diffusion 1.5 *architecture* with random
  weights, small enough that a 512x512, 20-step image takes seconds on a laptop CPU. It lets a fresh
  install (and CI) run the whole product without any real model. Its images are soft abstract
  colour fields, not pictures.
- `build_tiny_components(family)` / `build_tiny_model(family, path)` make equally tiny SDXL, FLUX and
  Z-Image pipelines for the engine tests, shaped like the real ones where it matters to the engine
  (an 8x VAE, 4 or 16 latent channels, packed FLUX latents, CLIP/T5/Qwen tokenizers), in the spirit of
  diffusers' own fast tests (`get_dummy_components()`), but with tokenizers whose vocabularies this
  module writes itself instead of fetching `hf-internal-testing/*` from the hub.

Imported only by the worker and the tests: it needs torch, diffusers and transformers.
"""

import functools
import os
import shutil
import string
import tempfile
from collections import Counter
from pathlib import Path

import torch

# Bump when the recipe changes: an existing folder with another version is rebuilt.
from generation.builtin_marker import BUILTIN_VERSION, MARKER, is_complete  # noqa: F401  (re-exported)
SEED = 0

# Words that get a token of their own; anything else falls back to characters or bytes.
WORDS = """
a an the of and or with without in on at by for from to into over under near behind above below
is are this that very high low best quality detailed masterpiece photo photograph picture image
painting drawing sketch illustration render art artwork style portrait landscape closeup close up
wide shot cinematic lighting light dark night day sunset sunrise morning evening golden hour
studio soft hard dramatic moody bright colorful vibrant pastel black white red orange yellow green
blue purple pink brown gray grey silver gold
cat dog bird horse fox wolf bear lion tiger dragon fish owl rabbit
man woman boy girl person people child old young face eyes hair hands smile
house castle city street road bridge tower room window door garden park forest tree trees flower
flowers grass field mountain mountains hill river lake sea ocean beach island sky cloud clouds sun
moon star stars rain snow fog storm fire water ice stone rock sand desert jungle valley
car train ship boat plane robot space planet galaxy
oil watercolor digital anime cartoon realistic photorealistic hyperrealistic fantasy surreal
abstract minimalist vintage retro futuristic cyberpunk steampunk medieval ancient modern
sharp focus blurry blur bokeh depth field 4k 8k hdr ugly bad worst deformed noise noisy text
watermark signature lowres jpeg artifacts extra fingers cropped
""".split()


# ---------------------------------------------------------------------------------------------
# Tokenizers from vocabularies written here
# ---------------------------------------------------------------------------------------------


def _byte_alphabet() -> list[str]:
    """The 256 symbols byte-level BPE writes raw bytes as (GPT-2's mapping), in byte order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    symbols, extra = [], 0
    for byte in range(256):
        if byte in printable:
            symbols.append(chr(byte))
        else:
            symbols.append(chr(256 + extra))
            extra += 1
    return symbols


def _learn_merges(words: list[list[str]]) -> list[tuple[str, str]]:
    """Plain BPE training: merge the most frequent adjacent pair until every word is one symbol.

    Ties go to the alphabetically first pair, so every machine gets the same merges (the
    `tokenizers` trainer breaks ties by hash order). Learnt merges never get in each other's way
    the way hand-written ones do ("t o" for "to" stopping "photo" halfway).
    """
    words = [list(word) for word in words]
    merges = []
    while True:
        words = [word for word in words if len(word) > 1]  # finished words have no pairs left
        counts = Counter(pair for word in words for pair in zip(word, word[1:]))
        if not counts:
            return merges
        best = min(counts, key=lambda pair: (-counts[pair], pair))
        merges.append(best)
        for word in words:
            i = 0
            while i < len(word) - 1:
                if (word[i], word[i + 1]) == best:
                    word[i:i + 2] = [best[0] + best[1]]
                else:
                    i += 1


@functools.cache
def _bpe(words: tuple[tuple[str, ...], ...], *, base: tuple[str, ...], specials: tuple[str, ...]):
    """Vocabulary (specials, base symbols, then each merge's result) and merges for `words`.

    Cached: learning takes a second or two, and a tiny SDXL or FLUX needs it more than once.
    """
    merges = _learn_merges(words)
    vocab: dict[str, int] = {}
    for token in [*specials, *base, *(left + right for left, right in merges)]:
        vocab.setdefault(token, len(vocab))
    return vocab, merges


def tiny_clip_tokenizer():
    """A CLIP tokenizer (byte-level BPE, `</w>` word ends) with a small English vocabulary."""
    from transformers import CLIPTokenizer

    alphabet = _byte_alphabet()
    vocab, merges = _bpe(
        tuple((*word[:-1], word[-1] + "</w>") for word in WORDS),  # CLIP marks the end of each word
        base=tuple(alphabet + [symbol + "</w>" for symbol in alphabet]),
        specials=("<|startoftext|>", "<|endoftext|>"),
    )
    return CLIPTokenizer(vocab=dict(vocab), merges=list(merges), model_max_length=77)


def tiny_t5_tokenizer():
    """A T5 tokenizer (unigram, `▁` word starts) with a small English vocabulary."""
    from transformers import T5Tokenizer

    # Whole words are cheap (score -1), single characters expensive (-5): words win when they fit.
    alphabet = sorted(set(string.ascii_letters + string.digits + string.punctuation))
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    pieces += [("▁" + word, -1.0) for word in WORDS]
    pieces += [(c, -5.0) for c in alphabet]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=512)


# Qwen's chat format, which the Z-Image pipeline applies to every prompt.
QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def tiny_qwen_tokenizer():
    """A Qwen2 tokenizer (byte-level BPE, `Ġ` marks a leading space) with a small vocabulary."""
    from transformers import AddedToken, Qwen2Tokenizer

    specials = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
    # Each word both at the start of a text and after a space ("Ġ" is the byte symbol of a space).
    words = tuple(tuple(word) for word in WORDS) + tuple(("Ġ", *word) for word in WORDS)
    vocab, merges = _bpe(words, base=tuple(_byte_alphabet()), specials=specials)
    tokenizer = Qwen2Tokenizer(vocab=dict(vocab), merges=list(merges), model_max_length=512)
    # The chat markers must stay whole tokens, never be split into bytes.
    tokenizer.add_tokens([AddedToken(t, special=True, normalized=False) for t in specials[1:]])
    tokenizer.chat_template = QWEN_CHAT_TEMPLATE
    return tokenizer


# ---------------------------------------------------------------------------------------------
# Components
# ---------------------------------------------------------------------------------------------


def _tiny_vae(latent_channels: int, **config):
    """An AutoencoderKL with the real 8x downsampling (4 blocks), but few channels."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4,
        block_out_channels=[32, 32, 64, 64],
        layers_per_block=1,
        latent_channels=latent_channels,
        norm_num_groups=32,
        **config,
    )


def _tiny_clip_text_encoder(tokenizer, *, with_projection: bool = False):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=77,
        projection_dim=32,
        hidden_act="gelu",
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return (CLIPTextModelWithProjection if with_projection else CLIPTextModel)(config)


def _sd_scheduler_config() -> dict:
    # Stable Diffusion 1.5's training noise schedule (scheduler/scheduler_config.json of the original).
    return dict(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        steps_offset=1,
        timestep_spacing="leading",
        prediction_type="epsilon",
    )


def _make_colourful(vae) -> None:
    """Random decoders turn latents into grey or pixel noise; make this one paint soft colour blobs.

    Purely cosmetic, so that the built-in model's images (and the previews next to them) look like
    abstract colour fields rather than static: every 3x3 decoder kernel becomes a box filter (its
    spatial mean, so each layer blurs while it mixes channels), then the output layer gets a gain
    and a bias that spread the colours over the RGB range.
    """
    with torch.no_grad():
        for conv in vae.decoder.modules():
            if isinstance(conv, torch.nn.Conv2d) and conv.kernel_size == (3, 3) and conv is not vae.decoder.conv_out:
                conv.weight.copy_(3.0 * conv.weight.mean(dim=(2, 3), keepdim=True).expand_as(conv.weight))
        vae.decoder.conv_out.weight.mul_(2.5)
        vae.decoder.conv_out.bias.copy_(torch.tensor([-0.3, 0.3, 0.1]))


def _sd15_components() -> dict:
    from diffusers import EulerDiscreteScheduler, UNet2DConditionModel

    tokenizer = tiny_clip_tokenizer()
    torch.manual_seed(SEED)
    unet = UNet2DConditionModel(
        sample_size=64,  # 512 px / 8
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        # Attention only on the half-resolution level: full-resolution self-attention over 4096
        # tokens would dominate the CPU time.
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=32,
    )
    torch.manual_seed(SEED)
    vae = _tiny_vae(4, sample_size=512, scaling_factor=0.18215)
    _make_colourful(vae)
    torch.manual_seed(SEED)
    text_encoder = _tiny_clip_text_encoder(tokenizer)
    return {
        "unet": unet,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "scheduler": EulerDiscreteScheduler(**_sd_scheduler_config()),
        "safety_checker": None,
        "feature_extractor": None,
        "image_encoder": None,
    }


def _sdxl_components() -> dict:
    from diffusers import EulerDiscreteScheduler, UNet2DConditionModel

    tokenizer = tiny_clip_tokenizer()
    torch.manual_seed(SEED)
    unet = UNet2DConditionModel(
        sample_size=128,
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=6 * 8 + 32,  # 6 size/crop ids x 8 + text_encoder_2 projection
        cross_attention_dim=64,  # both text encoders' hidden states, concatenated
        norm_num_groups=32,
    )
    torch.manual_seed(SEED)
    vae = _tiny_vae(4, sample_size=1024, scaling_factor=0.13025, force_upcast=True)
    torch.manual_seed(SEED)
    text_encoder = _tiny_clip_text_encoder(tokenizer)
    torch.manual_seed(SEED)
    text_encoder_2 = _tiny_clip_text_encoder(tokenizer, with_projection=True)
    return {
        "unet": unet,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "text_encoder_2": text_encoder_2,
        "tokenizer_2": tiny_clip_tokenizer(),
        "scheduler": EulerDiscreteScheduler(**_sd_scheduler_config()),
        "image_encoder": None,
        "feature_extractor": None,
    }


def _flux_components() -> dict:
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel
    from transformers import T5Config, T5EncoderModel

    tokenizer = tiny_clip_tokenizer()
    tokenizer_2 = tiny_t5_tokenizer()
    torch.manual_seed(SEED)
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=64,  # 16 latent channels x a packed 2x2 patch, as in FLUX.1
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=32,  # T5 width
        pooled_projection_dim=32,  # CLIP width
        axes_dims_rope=[4, 4, 8],
    )
    torch.manual_seed(SEED)
    text_encoder = _tiny_clip_text_encoder(tokenizer)
    torch.manual_seed(SEED)
    text_encoder_2 = T5EncoderModel(
        T5Config(
            vocab_size=len(tokenizer_2),
            d_model=32,
            d_kv=8,
            d_ff=64,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            pad_token_id=tokenizer_2.pad_token_id,
            eos_token_id=tokenizer_2.eos_token_id,
        )
    )
    torch.manual_seed(SEED)
    # The FLUX VAE's latent format: 16 channels, shift and scale of FLUX.1's ae.safetensors.
    vae = _tiny_vae(
        16, sample_size=1024, scaling_factor=0.3611, shift_factor=0.1159,
        use_quant_conv=False, use_post_quant_conv=False,
    )
    scheduler = FlowMatchEulerDiscreteScheduler(  # FLUX.1 [dev]'s scheduler config
        num_train_timesteps=1000, shift=3.0, use_dynamic_shifting=True,
        base_shift=0.5, max_shift=1.15, base_image_seq_len=256, max_image_seq_len=4096,
    )
    return {
        "transformer": transformer,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "text_encoder_2": text_encoder_2,
        "tokenizer_2": tokenizer_2,
        "scheduler": scheduler,
        "image_encoder": None,
        "feature_extractor": None,
    }


def _zimage_components() -> dict:
    from diffusers import FlowMatchEulerDiscreteScheduler, ZImageTransformer2DModel
    from transformers import Qwen3Config, Qwen3Model

    tokenizer = tiny_qwen_tokenizer()
    torch.manual_seed(SEED)
    transformer = ZImageTransformer2DModel(
        all_patch_size=(2,),
        all_f_patch_size=(1,),
        in_channels=16,
        dim=32,
        n_layers=2,
        n_refiner_layers=1,
        n_heads=2,
        n_kv_heads=2,
        norm_eps=1e-5,
        qk_norm=True,
        cap_feat_dim=16,  # the text encoder's width
        rope_theta=256.0,
        t_scale=1000.0,
        axes_dims=[8, 4, 4],
        axes_lens=[256, 32, 32],
    )
    # These two are created with torch.empty: give them values so outputs are deterministic, not NaN.
    with torch.no_grad():
        transformer.x_pad_token.copy_(torch.ones_like(transformer.x_pad_token))
        transformer.cap_pad_token.copy_(torch.ones_like(transformer.cap_pad_token))
    torch.manual_seed(SEED)
    text_encoder = Qwen3Model(
        Qwen3Config(
            vocab_size=len(tokenizer),
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=2,
            head_dim=8,
            max_position_embeddings=512,
        )
    )
    torch.manual_seed(SEED)
    # Z-Image uses the FLUX VAE (same latent format: 16 channels, shift 0.1159, scale 0.3611).
    vae = _tiny_vae(
        16, sample_size=1024, scaling_factor=0.3611, shift_factor=0.1159,
        use_quant_conv=False, use_post_quant_conv=False,
    )
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3.0, use_dynamic_shifting=False)
    return {
        "transformer": transformer,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "scheduler": scheduler,
    }


_BUILDERS = {"sd15": _sd15_components, "sdxl": _sdxl_components, "flux": _flux_components, "zimage": _zimage_components}


def build_tiny_components(family: str) -> dict:
    """Freshly initialised (seeded, deterministic) components of a tiny pipeline of `family`."""
    try:
        builder = _BUILDERS[family]
    except KeyError:
        raise ValueError(f"No tiny pipeline for family {family!r}; known: {', '.join(_BUILDERS)}.") from None
    return builder()


def pipeline_class(family: str):
    """The text-to-image pipeline class of a family."""
    import diffusers

    names = {"sd15": "StableDiffusionPipeline", "sdxl": "StableDiffusionXLPipeline",
             "flux": "FluxPipeline", "zimage": "ZImagePipeline"}
    return getattr(diffusers, names[family])


def build_tiny_pipeline(family: str):
    components = build_tiny_components(family)
    if family == "sd15":
        return pipeline_class(family)(**components, requires_safety_checker=False)
    return pipeline_class(family)(**components)


# ---------------------------------------------------------------------------------------------
# Writing models to disk
# ---------------------------------------------------------------------------------------------


def build_tiny_model(family: str, path: Path, *, version: str | None = None) -> Path:
    """Save a tiny `family` pipeline in diffusers format into `path`; skipped if already there.

    1. Skip if the marker file says a model of this recipe is complete there.
    2. Refuse to touch a folder that is not ours (no marker): it may hold someone's real model.
    3. Build and save into a temporary sibling folder, so a crash never leaves half a model at `path`.
    4. Write the marker last, then move the folder into place (a rename: atomic on one filesystem).
       A model of an older recipe is replaced; one written meanwhile by another process wins.
    """
    path = Path(path)
    version = version or f"stepwise-tiny-{family}-v1"
    # 1. Already there?
    if is_complete(path, version):
        return path
    # 2. Not ours?
    if path.exists() and any(path.iterdir()) and not (path / MARKER).is_file():
        raise FileExistsError(f"{path} exists and is not a Stepwise tiny model; not overwriting it.")

    # 3. Build next to the destination.
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        pipe = build_tiny_pipeline(family)
        pipe.save_pretrained(staging, safe_serialization=True)
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


def build_builtin_model(path: Path) -> Path:
    """Write the built-in "Stepwise Tiny" SD 1.5-architecture model into `path` (idempotent)."""
    return build_tiny_model("sd15", path, version=BUILTIN_VERSION)


# ---------------------------------------------------------------------------------------------
# Single-file export (the layout CivitAI checkpoints use)
# ---------------------------------------------------------------------------------------------

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
