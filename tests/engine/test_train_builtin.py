"""The built-in model's training run: deterministic from its seed, resumable, and it writes a model the
engine loads. A tiny plan (a few steps of each phase) keeps this to seconds."""

import json

import torch

from generation.builtin import train
from generation.builtin.quality import builtin_source
from generation.engine import Engine, GenerationInput

TINY = train.Plan(vae_steps=6, vae_batch=2, vae_crops=(64, 64), pool_128=8, pool_256=8, unet_128_steps=4,
                  unet_128_batch=4, unet_256_steps=4, unet_256_batch=2)


def weights(workdir):
    state = torch.load(workdir / "checkpoint.pt", weights_only=False)
    return state["phase"], {name: tensor for part in ("vae", "ema") for name, tensor in state[part].items()}


def test_a_run_stopped_and_resumed_ends_where_an_uninterrupted_one_does(tmp_path):
    straight = tmp_path / "straight"
    assert train.train(workdir=straight, out=tmp_path / "model-a", plan=TINY, threads=1)

    interrupted = tmp_path / "interrupted"
    # Stop in the middle of the 128-px phase, then run again: it picks up from the checkpoint.
    assert not train.train(workdir=interrupted, out=tmp_path / "model-b", plan=TINY, threads=1, max_steps=8)
    assert weights(interrupted)[0] == "unet_128"
    assert train.train(workdir=interrupted, out=tmp_path / "model-b", plan=TINY, threads=1)

    phase_a, a = weights(straight)
    phase_b, b = weights(interrupted)
    assert phase_a == phase_b == "done"
    assert all(torch.equal(a[name], b[name]) for name in a)


def test_it_logs_the_loss_and_writes_a_model_the_engine_runs(tmp_path):
    train.train(workdir=tmp_path / "work", out=tmp_path / "model", plan=TINY, threads=1)
    log = [json.loads(line) for line in (tmp_path / "work" / "train.log").read_text().splitlines()]
    assert {entry["phase"] for entry in log} >= {"vae"} and any("psnr" in entry for entry in log)
    index = json.loads((tmp_path / "model" / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline"
    assert json.loads((tmp_path / "model" / "training.json").read_text())["phase"] == "done"

    inp = GenerationInput(task_type="textToImage", prompt="a red circle on a blue background", negative_prompt=None,
                          width=64, height=64, steps=2, cfg_scale=4.0, scheduler="Euler", seed=1)
    image = Engine(device="cpu").generate(builtin_source(tmp_path / "model"), inp, on_step=lambda *a: None,
                                          should_cancel=lambda: False)
    assert image.size == (64, 64)
