"""The built-in model's training run: deterministic from its seed, resumable, and it writes a model the
engine loads. A tiny plan (a few steps of each phase) keeps this to seconds."""

import dataclasses
import json
import random

import pytest
import torch

from generation.builtin import train
from generation.builtin.quality import builtin_source
from generation.engine import Engine, GenerationInput

TINY = train.Plan(vae_steps=6, vae_batch=2, vae_crops=(64, 64), pool_128=8, pool_256=8, unet_128_steps=4,
                  unet_128_batch=4, unet_256_steps=4, unet_256_batch=2, decoder_steps=3, decoder_batch=2,
                  probe_images=4)


def weights(workdir):
    state = torch.load(workdir / "checkpoint.pt", weights_only=False)
    return state["phase"], {name: tensor for part in ("vae", "ema") for name, tensor in state[part].items()}


def test_a_run_stopped_and_resumed_ends_where_an_uninterrupted_one_does(tmp_path):
    straight = tmp_path / "straight"
    assert train.train(workdir=straight, out=tmp_path / "model-a", plan=TINY, threads=1)

    interrupted = tmp_path / "interrupted"
    # Stop in the middle of the 128-px phase, then in the decoder's, then run again: each run picks up
    # from the checkpoint.
    assert not train.train(workdir=interrupted, out=tmp_path / "model-b", plan=TINY, threads=1, max_steps=8)
    assert weights(interrupted)[0] == "unet_128"
    assert not train.train(workdir=interrupted, out=tmp_path / "model-b", plan=TINY, threads=1, max_steps=7)
    assert weights(interrupted)[0] == "decoder"
    assert train.train(workdir=interrupted, out=tmp_path / "model-b", plan=TINY, threads=1)

    phase_a, a = weights(straight)
    phase_b, b = weights(interrupted)
    assert phase_a == phase_b == "done"
    assert all(torch.equal(a[name], b[name]) for name in a)

    # It logged its loss (and the VAE's PSNR), and wrote a model the engine runs.
    log = [json.loads(line) for line in (straight / "train.log").read_text().splitlines()]
    assert {entry["phase"] for entry in log} >= {"vae"} and any("psnr" in entry for entry in log)
    model = tmp_path / "model-a"
    assert json.loads((model / "model_index.json").read_text())["_class_name"] == "StableDiffusionPipeline"
    assert json.loads((model / "training.json").read_text())["phase"] == "done"
    inp = GenerationInput(task_type="textToImage", prompt="a red circle on a blue background", negative_prompt=None,
                          width=64, height=64, steps=2, cfg_scale=4.0, scheduler="Euler", seed=1)
    image = Engine(device="cpu").generate(builtin_source(model), inp, on_step=lambda *a: None,
                                          should_cancel=lambda: False)
    assert image.size == (64, 64)


def test_without_its_checkpoint_a_run_resumes_from_the_model_it_shipped(tmp_path):
    # The model folder in the repository is the checkpoint that travels: fp16 weights and its progress.
    model = tmp_path / "model"
    assert not train.train(workdir=tmp_path / "first", out=model, plan=TINY, threads=1, max_steps=8)
    assert json.loads((model / "training.json").read_text())["phase"] == "unet_128"

    (tmp_path / "second").mkdir()
    trainer = train.Trainer(tmp_path / "second", TINY)
    assert trainer.load(model=model)
    assert (trainer.phase, trainer.step, trainer.warmup_from) == ("unet_128", 2, 2)
    assert train.train(workdir=tmp_path / "second", out=model, plan=TINY, threads=1)
    assert json.loads((model / "training.json").read_text())["phase"] == "done"


def test_the_decoder_phase_changes_the_decoder_and_nothing_else(tmp_path):
    # 6 VAE steps, 4 + 4 UNet steps: stop just before the decoder's fine-tune.
    assert not train.train(workdir=tmp_path, out=tmp_path / "model", plan=TINY, threads=1, max_steps=14)
    before = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert (before["phase"], before["step"]) == ("unet_256", 4)
    assert train.train(workdir=tmp_path, out=tmp_path / "model", plan=TINY, threads=1)
    after = torch.load(tmp_path / "checkpoint.pt", weights_only=False)

    changed = {name for name, tensor in after["vae"].items()
               if name not in before["vae"] or not torch.equal(tensor, before["vae"][name])}
    assert any(".mid_block.attentions." in name for name in changed)  # the decoder's new attention
    assert all(name.startswith(("decoder.", "post_quant_conv.", "encoder.mid_block.attentions.")) for name in changed)
    # The encoder, and so every latent the UNet learnt from, is as it was (its new attention is an exact
    # identity); so are the UNet's weights.
    old, new = train.make_vae(), train.with_mid_attention(train.make_vae())
    old.load_state_dict(before["vae"])
    new.load_state_dict(after["vae"])
    old.requires_grad_(False).eval()  # as `new` is: otherwise CPU kernels can differ in the last bit
    pixels, _ = train.draw_batch(random.Random(5), 2, 64)
    with torch.no_grad():
        assert torch.equal(old.encode(pixels).latent_dist.mean, new.encode(pixels).latent_dist.mean)
        assert not torch.equal(old.decode(old.encode(pixels).latent_dist.mean).sample,
                               new.decode(new.encode(pixels).latent_dist.mean).sample)
    assert all(torch.equal(after["ema"][name], tensor) for name, tensor in before["ema"].items())
    assert after["scaling_factor"] == before["scaling_factor"]


def test_a_model_shipped_before_the_decoder_phase_resumes_into_it(tmp_path):
    model = tmp_path / "model"
    assert train.train(workdir=tmp_path / "first", out=model, plan=TINY, threads=1)
    progress = json.loads((model / "training.json").read_text())
    assert (progress["unet_256_steps_done"], progress["decoder_steps_done"]) == (4, 3)
    del progress["decoder_steps_done"]  # as the model shipped before the phase existed
    (model / "training.json").write_text(json.dumps(progress))

    (tmp_path / "second").mkdir()
    trainer = train.Trainer(tmp_path / "second", TINY)
    assert trainer.load(model=model)
    assert (trainer.phase, trainer.step) == ("decoder", 0)
    assert trainer.vae.config.mid_block_add_attention  # the phase's decoder has its attention


def test_a_plan_is_changed_field_by_field_and_a_bad_field_is_refused_by_name():
    plan = train.plan_with(["unet_256_steps=20000", "decoder_warp=1.5", "unet_channels=64,64,128,128"])
    assert (plan.unet_256_steps, plan.decoder_warp, plan.unet_channels) == (20000, 1.5, (64, 64, 128, 128))
    assert plan.unet_256_batch == train.Plan().unet_256_batch  # the rest as it was
    with pytest.raises(ValueError, match="unet_256_step"):
        train.plan_with(["unet_256_step=20000"])
    with pytest.raises(ValueError, match="unet_256_steps: 'many' is not a valid int"):
        train.plan_with(["unet_256_steps=many"])
    with pytest.raises(ValueError, match="NAME=VALUE"):
        train.plan_with(["unet_256_steps"])


def test_the_command_refuses_a_bad_plan_field_by_name():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="unet_256_step"):
        call_command("train_builtin", "--plan", "unet_256_step=1")


def test_a_plan_with_more_scenes_redraws_the_pool_and_keeps_its_first_scenes(tmp_path):
    vae, tokenizer = train.make_vae(), train.shapes_tokenizer()
    small = train.build_pool(tmp_path / "pool.pt", vae=vae, tokenizer=tokenizer, size=64, count=4, seed=3)
    again = train.build_pool(tmp_path / "pool.pt", vae=vae, tokenizer=tokenizer, size=64, count=4, seed=3)
    larger = train.build_pool(tmp_path / "pool.pt", vae=vae, tokenizer=tokenizer, size=64, count=40, seed=3)
    assert again["captions"] == small["captions"]
    assert len(larger["captions"]) == 40 and larger["captions"][:4] == small["captions"]
    assert torch.equal(larger["latents"][:4], small["latents"])


def test_a_lengthened_phase_warms_up_to_where_its_schedule_is_not_to_the_peak(tmp_path):
    trainer = train.Trainer(tmp_path, dataclasses.replace(TINY, unet_256_steps=4000))
    trainer.phase, trainer.step, trainer.warmup_from = "unet_256", 3000, 3000
    trainer._optimizer_for_phase()
    rates = []
    for step in range(3000, 3400):
        trainer.step = step
        trainer._set_lr(4000)
        rates.append(trainer.active_optimizer.param_groups[0]["lr"])
    peak = train.PEAK_LR["unet_256"]
    assert rates[0] < rates[100] < rates[199]  # the warm-up ramps up ...
    assert max(rates) < 0.3 * peak  # ... to the cosine's value three quarters of the way, about 0.2 of the peak
    assert rates[200] == pytest.approx(rates[199], rel=0.01)  # and the schedule goes on from there
    assert rates[399] < rates[200]
