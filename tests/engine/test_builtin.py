"""The built-in model: a shipped, trained SD 1.5-architecture folder that draws what its prompts say,
and the tiny random pipelines of every family the engine tests use."""

import json

import numpy as np
import pytest
from PIL import Image

from generation import builtin
from generation.builtin import quality, shapes, tiny
from generation.builtin.tokenizers import tiny_clip_tokenizer, tiny_qwen_tokenizer, tiny_t5_tokenizer


def test_the_builtin_model_is_a_standard_sd15_diffusers_folder(builtin_dir):
    assert builtin.is_complete(builtin_dir)
    index = json.loads((builtin_dir / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline"
    assert index["unet"] == ["diffusers", "UNet2DConditionModel"]
    assert index["vae"] == ["diffusers", "AutoencoderKL"]
    assert index["text_encoder"] == ["transformers", "CLIPTextModel"]
    vae = json.loads((builtin_dir / "vae" / "config.json").read_text())
    assert 2 ** (len(vae["block_out_channels"]) - 1) == 8 and vae["latent_channels"] == 4


def test_the_shipped_weights_stay_small():
    size = sum(path.stat().st_size for path in builtin.SHIPPED_MODEL_DIR.rglob("*") if path.is_file())
    assert size < 40 * 2**20


def test_installing_again_is_a_no_op(builtin_dir):
    before = {path: path.stat().st_mtime_ns for path in builtin_dir.rglob("*") if path.is_file()}
    assert builtin.install_builtin_model(builtin_dir) == builtin_dir
    after = {path: path.stat().st_mtime_ns for path in builtin_dir.rglob("*") if path.is_file()}
    assert before == after


def test_an_install_of_other_weights_is_replaced(tmp_path):
    target = builtin.install_builtin_model(tmp_path / "model")
    (target / builtin.MARKER).write_text("stepwise-shapes-older\n")
    (target / "unet" / "leftover.bin").write_text("old")
    builtin.install_builtin_model(target)
    assert builtin.is_complete(target) and not (target / "unet" / "leftover.bin").exists()


def test_a_folder_that_is_not_ours_is_never_overwritten(tmp_path):
    target = tmp_path / "someones-model"
    target.mkdir()
    (target / "model_index.json").write_text("{}")
    with pytest.raises(FileExistsError, match="not a Stepwise model"):
        builtin.install_builtin_model(target)
    assert (target / "model_index.json").read_text() == "{}"


def test_words_outside_its_vocabulary_are_ignored(engine, builtin_dir):
    engine.load(quality.builtin_source(builtin_dir))
    tokenizer = engine._cache[quality.builtin_source(builtin_dir).air]["text"].tokenizer
    plain = tokenizer("a red circle on a blue background").input_ids
    assert tokenizer("A big, shiny RED circle on the blue background, 4k!").input_ids == plain
    words = ["red", "circle", "on", "blue", "background"]
    assert tokenizer.convert_ids_to_tokens(plain[1:-1]) == [f"{w}</w>" for w in words]


def test_it_draws_the_colours_its_prompts_ask_for(engine, builtin_dir):
    # A few prompts of the grammar at the model's defaults, through the worker's engine.
    source = quality.builtin_source(builtin_dir)
    for scene, seed in quality.grammar_prompts(8)[::2]:
        reading = shapes.read_image(quality.generate(engine, source, scene.caption, seed=seed))
        assert (reading.background, reading.colour) == (scene.background, scene.colour), scene.caption


def test_its_previews_use_a_projection_fitted_to_its_vae(engine, builtin_dir):
    import torch
    import torch.nn.functional as F

    from generation.previews import LATENT_FORMATS, latent_format

    fitted, published = latent_format("sd15", builtin_dir), LATENT_FORMATS["sd15"]
    assert fitted != published and len(fitted[0]) == 4 and fitted[1] is not None and len(fitted[1]) == 3

    # On drawn scenes, the fitted projection of the latents is far closer to the picture than SD 1.5's.
    source = quality.builtin_source(builtin_dir)
    engine.load(source)
    vae = engine._cache[source.air]["text"].vae
    scenes = [scene for scene, _ in quality.grammar_prompts(8)]
    pixels = torch.from_numpy(np.stack([np.asarray(shapes.draw(s), dtype=np.float32) for s in scenes]))
    pixels = pixels.permute(0, 3, 1, 2) / 127.5 - 1
    with torch.no_grad():
        latents = vae.encode(pixels).latent_dist.mean * vae.config.scaling_factor
    target = F.avg_pool2d(pixels, 8)

    def error(fmt):
        factors, bias = torch.tensor(fmt[0]), torch.tensor(fmt[1] or [0.0, 0.0, 0.0])
        rgb = torch.einsum("nchw,cr->nrhw", latents, factors) + bias[None, :, None, None]
        return (rgb - target).pow(2).mean().sqrt().item()

    assert error(fitted) < 0.3 and error(fitted) < error(published) / 2

    # And the last preview of a job shows its final image, at latent resolution.
    previews = []
    scene, seed = quality.grammar_prompts(1)[0]
    inp = quality.GenerationInput(task_type="textToImage", prompt=scene.caption, negative_prompt=None, width=256,
                                  height=256, steps=10, cfg_scale=4.0, scheduler="Euler", seed=seed)
    image = engine.generate(source, inp, on_step=lambda s, t, p: previews.append(p), should_cancel=lambda: False)
    final = np.asarray(image.resize((32, 32), Image.Resampling.BOX), dtype=np.float32)
    assert np.abs(np.asarray(previews[-1], dtype=np.float32) - final).mean() < 40


def test_more_steps_converge_on_the_final_image(engine, builtin_dir):
    curve = quality.steps_curve(engine, quality.builtin_source(builtin_dir), counts=(2, 5, 10, 20), reference=40)
    assert curve[2] > curve[5] > curve[10] > curve[20]


def test_inpainting_keeps_what_is_outside_the_mask(engine, builtin_dir):
    in_prompt, kept = quality.inpainting(engine, quality.builtin_source(builtin_dir))
    assert kept < 1.0
    assert in_prompt > 0.5


def test_the_tiny_vaes_downsample_8x_like_the_real_ones():
    for family in ("sd15", "sdxl", "flux", "zimage"):
        vae = tiny.build_tiny_components(family)["vae"]
        assert 2 ** (len(vae.config.block_out_channels) - 1) == 8


def test_the_tokenizers_know_words_and_never_need_the_hub():
    clip = tiny_clip_tokenizer()
    ids = clip("a photo of a cat").input_ids
    assert ids[0] == clip.bos_token_id and ids[-1] == clip.eos_token_id
    assert clip.convert_ids_to_tokens(ids[1:-1]) == ["a</w>", "photo</w>", "of</w>", "a</w>", "cat</w>"]
    assert clip.model_max_length == 77

    t5 = tiny_t5_tokenizer()
    assert t5.convert_ids_to_tokens(t5("a photo of a cat").input_ids) == ["▁a", "▁photo", "▁of", "▁a", "▁cat", "</s>"]

    qwen = tiny_qwen_tokenizer()
    text = qwen.apply_chat_template([{"role": "user", "content": "a cat"}], tokenize=False, add_generation_prompt=True)
    tokens = qwen.convert_ids_to_tokens(qwen(text).input_ids)
    assert tokens[0] == "<|im_start|>" and "<|im_end|>" in tokens


def test_a_tiny_model_of_another_recipe_is_replaced(tmp_path):
    target = tiny.build_tiny_model("zimage", tmp_path / "model", version="stepwise-tiny-zimage-v0")
    tiny.build_tiny_model("zimage", target)
    assert builtin.is_complete(target, "stepwise-tiny-zimage-v1")


def test_an_unknown_family_is_refused():
    with pytest.raises(ValueError, match="sd3"):
        tiny.build_tiny_components("sd3")
