"""Every scheduler Stepwise accepts resolves, builds and runs on a real pipeline of its family;
each job gets its own scheduler and never changes the cached pipeline's."""

import numpy as np
import pytest

from generation import schedulers
from tests.engine.helpers import Recorder, make_input, never

SD_NAMES = [spec.name for spec in schedulers.SCHEDULERS]
FLOW_NAMES = [spec.name for spec in schedulers.FLOW_SCHEDULERS]


@pytest.mark.parametrize("family", ["sd15", "sdxl", "flux", "zimage"])
def test_every_accepted_name_resolves(family):
    for name in schedulers.all_accepted_names(family):
        spec = schedulers.resolve(name, family, default="Euler")
        assert family in spec.families


@pytest.mark.parametrize("name", SD_NAMES)
def test_every_sd_scheduler_runs_on_the_builtin_model(engine, source, name):
    spec = schedulers.resolve(name, "sd15")
    for task_type, steps, strength, expected in [("textToImage", 3, None, 3), ("imageToImage", 10, 0.5, 5)]:
        recorder = Recorder()
        image = engine.generate(source("sd15"), make_input(task_type, steps=steps, strength=strength, scheduler=name),
                                on_step=recorder, should_cancel=never)
        assert image.size == (64, 64)
        assert recorder.steps == list(range(1, expected + 1)), (spec.class_name, task_type)


@pytest.mark.parametrize("family", ["flux", "zimage"])
@pytest.mark.parametrize("name", FLOW_NAMES)
def test_every_flow_scheduler_runs_on_flux_and_zimage(engine, source, family, name):
    for task_type, steps, strength, expected in [("textToImage", 3, None, 3), ("imageToImage", 10, 0.5, 5)]:
        recorder = Recorder()
        engine.generate(source(family), make_input(task_type, steps=steps, strength=strength, scheduler=name),
                        on_step=recorder, should_cancel=never)
        assert recorder.steps == list(range(1, expected + 1))


def _pixels(engine, source, **kwargs):
    image = engine.generate(source, make_input(**kwargs), on_step=Recorder(), should_cancel=never)
    return np.asarray(image)


def test_a_job_scheduler_never_changes_the_cached_pipeline(engine, source):
    sd = source("sd15")
    engine.load(sd)
    pipelines = engine._cache[sd.air]
    engine.generate(sd, make_input("imageToImage", steps=4, strength=0.5), on_step=Recorder(), should_cancel=never)
    cached = {kind: (pipe.scheduler, dict(pipe.scheduler.config)) for kind, pipe in pipelines.items()}

    euler = _pixels(engine, sd, scheduler="Euler", steps=4)
    _pixels(engine, sd, scheduler="DPM++ 2M Karras", steps=4)
    _pixels(engine, sd, scheduler="Heun", steps=4)
    euler_again = _pixels(engine, sd, scheduler="Euler", steps=4)

    for kind, (scheduler, config) in cached.items():
        assert pipelines[kind].scheduler is scheduler
        assert dict(pipelines[kind].scheduler.config) == config
    assert np.array_equal(euler, euler_again)


def test_different_schedulers_really_run_differently(engine, source):
    euler = _pixels(engine, source("sd15"), scheduler="Euler", steps=4)
    dpm = _pixels(engine, source("sd15"), scheduler="DPM++ 2M Karras", steps=4)
    assert not np.array_equal(euler, dpm)


@pytest.mark.parametrize("steps", [30, 50])
@pytest.mark.parametrize("name", SD_NAMES)
def test_every_sd_scheduler_runs_to_the_end_on_a_zero_terminal_snr_model(name, steps):
    """The built-in model's betas reach zero SNR, so Karras sigmas start near 4096 and the first
    timesteps repeat; every scheduler must still take exactly its steps and end at the last sigma."""
    import torch
    from diffusers import EulerDiscreteScheduler

    from generation.builtin import SHIPPED_MODEL_DIR

    config = EulerDiscreteScheduler.load_config(SHIPPED_MODEL_DIR / "scheduler")
    scheduler = schedulers.build(schedulers.resolve(name, "sd15"), config)
    scheduler.set_timesteps(steps)
    latents = torch.ones(1, 4, 4, 4)
    for timestep in scheduler.timesteps:
        latents = scheduler.step(torch.zeros_like(latents), timestep, latents).prev_sample
    assert torch.isfinite(latents).all(), name
