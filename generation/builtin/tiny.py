"""Tiny pipelines of every supported family, made locally from configs: nothing is downloaded.

`build_tiny_components(family)` / `build_tiny_model(family, path)` make tiny SD 1.5, SDXL, FLUX and
Z-Image pipelines for the engine tests, shaped like the real ones where it matters to the engine (an
8x VAE, 4 or 16 latent channels, packed FLUX latents, CLIP/T5/Qwen tokenizers), in the spirit of
diffusers' own fast tests (`get_dummy_components()`), but with tokenizers written by
`generation.builtin.tokenizers` instead of fetched from `hf-internal-testing/*`. Their weights are
random: the built-in model users see is the trained one in `generation/builtin/model/`.

Imported only by the worker tooling and the tests: it needs torch, diffusers and transformers.
"""

from pathlib import Path

import torch

from generation.builtin import write_model_folder
from generation.builtin.tokenizers import tiny_clip_tokenizer, tiny_qwen_tokenizer, tiny_t5_tokenizer

SEED = 0


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


def build_tiny_model(family: str, path: Path, *, version: str | None = None) -> Path:
    """Save a tiny `family` pipeline in diffusers format into `path`; skipped if already there."""

    def save(staging: Path) -> None:
        build_tiny_pipeline(family).save_pretrained(staging, safe_serialization=True)

    return write_model_folder(path, version or f"stepwise-tiny-{family}-v1", save)


def build_tiny_content_checker(path: Path, *, flags_everything: bool) -> Path:
    """A tiny `StableDiffusionSafetyChecker` folder (checker and CLIP image processor) whose answer
    is fixed: its concept thresholds are below (flags everything) or above (flags nothing) any
    cosine similarity."""
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPImageProcessor

    torch.manual_seed(SEED)
    config = CLIPConfig(
        text_config={"hidden_size": 32, "intermediate_size": 37, "num_attention_heads": 4, "num_hidden_layers": 2,
                     "vocab_size": 1000},
        vision_config={"hidden_size": 32, "intermediate_size": 37, "num_attention_heads": 4,
                       "num_hidden_layers": 2, "image_size": 32, "patch_size": 4},
        projection_dim=32,
    )
    checker = StableDiffusionSafetyChecker(config).eval()
    threshold = -2.0 if flags_everything else 2.0
    with torch.no_grad():
        checker.concept_embeds_weights.fill_(threshold)
        checker.special_care_embeds_weights.fill_(2.0)
    path = Path(path)
    checker.save_pretrained(path / "safety_checker")
    CLIPImageProcessor(crop_size={"height": 32, "width": 32}, size={"shortest_edge": 32}).save_pretrained(
        path / "feature_extractor")
    return path
