"""The built-in model and the tiny test models: deterministic, idempotent, offline."""

import hashlib

import pytest

from generation import builtin


def digest(folder):
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*")) if path.is_file()
    }


def test_the_builtin_model_is_a_complete_sd15_diffusers_folder(builtin_dir):
    assert builtin.is_complete(builtin_dir)
    for part in ("model_index.json", "unet/config.json", "vae/config.json", "text_encoder/config.json",
                 "tokenizer/tokenizer_config.json", "scheduler/scheduler_config.json"):
        assert (builtin_dir / part).is_file(), part
    assert '"StableDiffusionPipeline"' in (builtin_dir / "model_index.json").read_text()


def test_building_again_is_a_no_op(builtin_dir):
    before = {path: path.stat().st_mtime_ns for path in builtin_dir.rglob("*") if path.is_file()}
    assert builtin.build_builtin_model(builtin_dir) == builtin_dir
    after = {path: path.stat().st_mtime_ns for path in builtin_dir.rglob("*") if path.is_file()}
    assert before == after


def test_the_builtin_model_is_the_same_on_every_machine(builtin_dir, tmp_path):
    again = builtin.build_builtin_model(tmp_path / "again")
    assert digest(again) == digest(builtin_dir)


def test_an_older_recipe_is_replaced(tmp_path):
    target = builtin.build_tiny_model("zimage", tmp_path / "model", version="stepwise-tiny-zimage-v0")
    builtin.build_tiny_model("zimage", target)
    assert builtin.is_complete(target, "stepwise-tiny-zimage-v1")


def test_a_folder_that_is_not_ours_is_never_overwritten(tmp_path):
    target = tmp_path / "someones-model"
    target.mkdir()
    (target / "model_index.json").write_text("{}")
    with pytest.raises(FileExistsError, match="not a Stepwise tiny model"):
        builtin.build_builtin_model(target)
    assert (target / "model_index.json").read_text() == "{}"


def test_the_vae_downsamples_8x_like_the_real_ones():
    for family in ("sd15", "sdxl", "flux", "zimage"):
        vae = builtin.build_tiny_components(family)["vae"]
        assert 2 ** (len(vae.config.block_out_channels) - 1) == 8


def test_the_tokenizers_know_words_and_never_need_the_hub():
    clip = builtin.tiny_clip_tokenizer()
    ids = clip("a photo of a cat").input_ids
    assert ids[0] == clip.bos_token_id and ids[-1] == clip.eos_token_id
    assert clip.convert_ids_to_tokens(ids[1:-1]) == ["a</w>", "photo</w>", "of</w>", "a</w>", "cat</w>"]
    assert clip.model_max_length == 77

    t5 = builtin.tiny_t5_tokenizer()
    assert t5.convert_ids_to_tokens(t5("a photo of a cat").input_ids) == ["▁a", "▁photo", "▁of", "▁a", "▁cat", "</s>"]

    qwen = builtin.tiny_qwen_tokenizer()
    text = qwen.apply_chat_template([{"role": "user", "content": "a cat"}], tokenize=False, add_generation_prompt=True)
    tokens = qwen.convert_ids_to_tokens(qwen(text).input_ids)
    assert tokens[0] == "<|im_start|>" and "<|im_end|>" in tokens


def test_an_unknown_family_is_refused():
    with pytest.raises(ValueError, match="sd3"):
        builtin.build_tiny_components("sd3")
