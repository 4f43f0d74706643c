"""Add-ons on the engine, with tiny artefacts these tests build (never downloaded): LoRAs in kohya and
PEFT format, textual-inversion embeddings (SD 1.5 and SDXL), a VAE, clip skip and weighted prompts."""

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from generation.builtin.tiny import build_tiny_components, build_tiny_model
from generation.engine import AddOn, Engine, ModelLoadError, ModelSource
from tests.engine.helpers import make_input, never


@pytest.fixture(scope="module")
def sd15(tmp_path_factory):
    return ModelSource(air="test:tiny-sd15@1", architecture="sd15",
                       path=str(build_tiny_model("sd15", tmp_path_factory.mktemp("tiny") / "sd15")))


@pytest.fixture(scope="module")
def sdxl(tiny_dirs):
    return ModelSource(air="test:tiny-sdxl@1", architecture="sdxl", path=str(tiny_dirs["sdxl"]))


@pytest.fixture(scope="module")
def components():
    return {family: build_tiny_components(family) for family in ("sd15", "sdxl")}


@pytest.fixture
def engine():
    # A fresh engine per test: add-ons stay on a cached model, and each test starts clean.
    return Engine(device="cpu", cache_size=2)


def _linears(module, *, only_attention=False):
    return [(name, child) for name, child in module.named_modules()
            if isinstance(child, torch.nn.Linear) and (not only_attention or "attn" in name)]


def kohya_lora(path, components, *, seed, rank=4, scale=0.5):
    """A kohya-format LoRA (lora_unet_*/lora_te_* with lora_down, lora_up, alpha) for the tiny SD 1.5."""
    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for prefix, module in (("lora_unet_", components["unet"]), ("lora_te_text_model_", components["text_encoder"])):
        for name, linear in _linears(module, only_attention=prefix == "lora_unet_"):
            if prefix.startswith("lora_te") and name.startswith("text_model."):
                name = name[len("text_model."):]
            key = prefix + name.replace(".", "_")
            tensors[key + ".lora_down.weight"] = torch.randn(rank, linear.in_features, generator=generator) * scale
            tensors[key + ".lora_up.weight"] = torch.randn(linear.out_features, rank, generator=generator) * scale
            tensors[key + ".alpha"] = torch.tensor(float(rank))
    save_file(tensors, str(path))
    return str(path)


def peft_lora(path, components, *, seed, rank=4, scale=0.5):
    """A diffusers/PEFT-format LoRA (unet.<module>.lora_A/lora_B) for the tiny SD 1.5's UNet."""
    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for name, linear in _linears(components["unet"], only_attention=True):
        tensors[f"unet.{name}.lora_A.weight"] = torch.randn(rank, linear.in_features, generator=generator) * scale
        tensors[f"unet.{name}.lora_B.weight"] = torch.randn(linear.out_features, rank, generator=generator) * scale
    save_file(tensors, str(path))
    return str(path)


def run(engine, source, **fields):
    fields.setdefault("steps", 2)
    image = engine.generate(source, make_input(**fields), on_step=lambda *a: None, should_cancel=never)
    return np.asarray(image, dtype=np.int16)


def differ(a, b):
    return np.abs(a - b).max() > 0


# -- LoRA ---------------------------------------------------------------------------------------


def test_lora_weight_zero_equals_none_weight_one_changes_and_nothing_leaks(engine, sd15, components, tmp_path):
    lora = AddOn(air="local:style@1", path=kohya_lora(tmp_path / "style.safetensors", components["sd15"], seed=1))
    plain = run(engine, sd15)
    assert np.array_equal(run(engine, sd15, loras=(AddOn(lora.air, lora.path, weight=0.0),)), plain)
    styled = run(engine, sd15, loras=(lora,))
    assert differ(styled, plain)
    # The next job without a LoRA is the first one again: the adapter is off, not gone.
    assert np.array_equal(run(engine, sd15), plain)
    assert engine.loaded_addons(sd15.air)["lora"] == ["local:style@1"]
    # And switching it on again gives the same image: loaded once, weights set per job.
    assert np.array_equal(run(engine, sd15, loras=(lora,)), styled)


def test_a_negative_weight_and_a_failing_job_leave_nothing_switched_on(engine, sd15, components, tmp_path):
    lora = AddOn(air="local:style@1", path=kohya_lora(tmp_path / "style.safetensors", components["sd15"], seed=1))
    plain = run(engine, sd15)
    assert differ(run(engine, sd15, loras=(AddOn(lora.air, lora.path, weight=-2.0),)), plain)
    with pytest.raises(ValueError):  # fails after the adapters were switched on
        run(engine, sd15, loras=(lora,), task_type="imageToImage", strength=0.5, seed_image=None)
    assert np.array_equal(run(engine, sd15), plain)


def test_two_loras_combine(engine, sd15, components, tmp_path):
    first = AddOn(air="local:a@1", path=kohya_lora(tmp_path / "a.safetensors", components["sd15"], seed=1))
    second = AddOn(air="local:b@1", path=kohya_lora(tmp_path / "b.safetensors", components["sd15"], seed=2))
    only_first = run(engine, sd15, loras=(first,))
    only_second = run(engine, sd15, loras=(second,))
    both = run(engine, sd15, loras=(first, second))
    assert differ(both, only_first) and differ(both, only_second)
    pipe = engine._cache[sd15.air]["text"]
    assert sorted(pipe.get_list_adapters()["unet"]) == sorted(engine._adapters[sd15.air].values())


def test_peft_format_loads_too(engine, sd15, components, tmp_path):
    lora = AddOn(air="local:peft@1", path=peft_lora(tmp_path / "peft.safetensors", components["sd15"], seed=3))
    plain = run(engine, sd15)
    assert differ(run(engine, sd15, loras=(lora,)), plain)
    assert np.array_equal(run(engine, sd15), plain)


def test_a_lora_that_does_not_fit_is_refused_by_name(engine, sd15, components, tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"lora_unet_nowhere_to_q.lora_down.weight": torch.zeros(4, 5),
               "lora_unet_nowhere_to_q.lora_up.weight": torch.zeros(5, 4)}, str(path))
    plain = run(engine, sd15)
    with pytest.raises(ModelLoadError, match="local:other@1"):
        run(engine, sd15, loras=(AddOn(air="local:other@1", path=str(path)),))
    assert np.array_equal(run(engine, sd15), plain)
    # A good LoRA loaded just before the bad one is switched off again too.
    good = AddOn(air="local:good@1", path=kohya_lora(tmp_path / "good.safetensors", components["sd15"], seed=6))
    with pytest.raises(ModelLoadError):
        run(engine, sd15, loras=(good, AddOn(air="local:other@1", path=str(path))))
    assert np.array_equal(run(engine, sd15), plain)


# -- Embeddings ---------------------------------------------------------------------------------


def test_an_embedding_token_changes_the_conditioning(engine, sd15, tmp_path):
    path = tmp_path / "emb.safetensors"
    save_file({"emb_params": torch.randn(2, 32, generator=torch.Generator().manual_seed(4)) * 2}, str(path))
    embedding = AddOn(air="local:shiny@1", path=str(path), token="shinystyle")
    prompt = "a red fox, shinystyle"
    without = run(engine, sd15, prompt=prompt)
    with_embedding = run(engine, sd15, prompt=prompt, embeddings=(embedding,))
    assert differ(with_embedding, without)
    # In the negative prompt too; and a prompt without the token is unchanged.
    assert differ(run(engine, sd15, negative_prompt="shinystyle", embeddings=(embedding,)),
                  run(engine, sd15, negative_prompt="blurry"))
    assert np.array_equal(run(engine, sd15, prompt=prompt), with_embedding)  # the token stays known
    assert engine.loaded_addons(sd15.air)["embeddings"] == ["local:shiny@1"]


def test_an_sdxl_embedding_loads_into_both_text_encoders(engine, sdxl, tmp_path):
    path = tmp_path / "xl.safetensors"
    generator = torch.Generator().manual_seed(5)
    save_file({"clip_l": torch.randn(1, 32, generator=generator), "clip_g": torch.randn(1, 32, generator=generator)},
              str(path))
    embedding = AddOn(air="local:xlemb@1", path=str(path), token="xlstyle")
    before = run(engine, sdxl, prompt="a fox xlstyle")
    after = run(engine, sdxl, prompt="a fox xlstyle", embeddings=(embedding,))
    assert differ(after, before)
    pipe = engine._cache[sdxl.air]["text"]
    assert "xlstyle" in pipe.tokenizer.get_vocab() and "xlstyle" in pipe.tokenizer_2.get_vocab()


# -- VAE ----------------------------------------------------------------------------------------


def test_a_vae_override_changes_the_decode_and_is_restored(engine, sd15, tmp_path):
    from diffusers import AutoencoderKL

    base_vae = build_tiny_components("sd15")["vae"]
    torch.manual_seed(99)
    other = AutoencoderKL.from_config(base_vae.config)
    path = tmp_path / "vae.safetensors"
    save_file(other.state_dict(), str(path))
    vae = AddOn(air="local:vae@1", path=str(path))
    plain = run(engine, sd15)
    swapped = run(engine, sd15, vae=vae)
    assert differ(swapped, plain)
    assert np.array_equal(run(engine, sd15), plain)
    assert engine._cache[sd15.air]["text"].vae is not engine._vaes[(sd15.air, "local:vae@1")]


# -- Clip skip and prompt weighting --------------------------------------------------------------


def test_clip_skip_changes_the_conditioning(engine, sd15, sdxl):
    assert differ(run(engine, sd15, clip_skip=1), run(engine, sd15))
    assert differ(run(engine, sdxl, clip_skip=1), run(engine, sdxl))
    with pytest.raises(ValueError, match="clip_skip"):
        run(engine, sd15, clip_skip=3)


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_a_prompt_without_weights_equals_the_plain_path(engine, sd15, sdxl, family):
    source = sd15 if family == "sd15" else sdxl
    plain = run(engine, source, prompt="a red fox")
    weighted_path = run(engine, source, prompt="a red fox", prompt_weighting="compel")
    assert np.abs(weighted_path - plain).max() <= 1  # the same embeddings, up to float rounding
    heavier = run(engine, source, prompt="a (red fox)1.6", prompt_weighting="compel")
    assert differ(heavier, plain)
    # AUTOMATIC1111's syntax (sdEmbeds) means the same.
    assert np.array_equal(run(engine, source, prompt="a (red fox:1.6)", prompt_weighting="sdEmbeds"), heavier)


def test_clip_skip_on_sd15_is_diffusers_clip_skip(engine, sd15):
    # Our SD 1.5 encoding with clip skip: the penultimate hidden state through the final layer norm.
    engine.load(sd15)
    pipe = engine._cache[sd15.air]["text"]
    from generation.addons import clip_skip_prompt_kwargs

    ids = pipe.tokenizer("a red fox", padding="max_length", max_length=pipe.tokenizer.model_max_length,
                         truncation=True, return_tensors="pt").input_ids
    with torch.no_grad():
        hidden = pipe.text_encoder(ids, output_hidden_states=True).hidden_states
        expected = pipe.text_encoder.final_layer_norm(hidden[-2])
        last = pipe.text_encoder(ids).last_hidden_state
    got = clip_skip_prompt_kwargs(pipe, prompt="a red fox", negative_prompt=None, clip_skip=1)["prompt_embeds"]
    assert torch.allclose(got, expected) and not torch.allclose(got, last)
    with pytest.raises(ValueError, match="clipSkip cannot be combined"):
        run(engine, sd15, clip_skip=1, prompt_weighting="compel")


def test_weighting_and_clip_skip_are_refused_where_they_do_not_apply(engine, tiny_dirs):
    flux = ModelSource(air="test:flux@1", architecture="flux1d", path=str(tiny_dirs["flux"]))
    with pytest.raises(ValueError, match="prompt weighting"):
        run(engine, flux, prompt_weighting="compel")
    with pytest.raises(ValueError, match="clip skip"):
        run(engine, flux, clip_skip=1)


# -- maskMargin ---------------------------------------------------------------------------------


def test_mask_margin_repaints_a_crop_and_keeps_every_pixel_outside_it(engine, sd15):
    from PIL import Image

    from tests.engine.helpers import Recorder, pattern_image

    source = pattern_image(128, 128)
    mask = Image.new("L", (128, 128), 0)
    mask.paste(255, (8, 8, 24, 24))
    fields = dict(task_type="inpainting", width=128, height=128, strength=1.0, steps=4, seed_image=source,
                  mask_image=mask)
    recorder = Recorder()
    detail = np.asarray(engine.generate(sd15, make_input(**fields, mask_margin=32), on_step=recorder,
                                        should_cancel=never), dtype=np.int16)
    whole = run(engine, sd15, **fields)
    original = np.asarray(source, dtype=np.int16)
    # Outside the crop (mask box 8-24 plus 32 px: up to 56) nothing changed.
    assert np.array_equal(detail[64:, :], original[64:, :]) and np.array_equal(detail[:, 64:], original[:, 64:])
    # Inside the mask, the crop was repainted at full resolution: not what whole-image inpainting paints.
    assert differ(detail[8:24, 8:24], whole[8:24, 8:24])
    assert recorder.steps == [1, 2, 3, 4]  # the step count stays exact


def test_mask_margin_is_for_inpainting_only(engine, sd15):
    with pytest.raises(ValueError, match="mask margin applies to inpainting"):
        run(engine, sd15, mask_margin=32)
