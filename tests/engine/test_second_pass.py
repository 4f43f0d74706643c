"""Jobs of two passes on tiny real pipelines: the SDXL refiner and the hires fix. The step counts are
exactly generation.steps.job_plan's, and one step counter runs 1..total across both passes."""

import numpy as np
import pytest

from generation.builtin.tiny import build_tiny_model
from generation.engine import Engine, GenerationCancelled, ModelSource
from generation.inputs import HiresFix, Refiner
from generation.steps import job_plan
from tests.engine.helpers import Recorder, count_evaluations, make_input, never


@pytest.fixture(scope="module")
def refiner_source(tmp_path_factory):
    # A second tiny SDXL model: its own folder and AIR id, so the engine caches it separately, and
    # its own UNet weights (the tiny builder is seeded, so they are nudged), so that it draws differently.
    import torch
    from diffusers import UNet2DConditionModel

    path = build_tiny_model("sdxl", tmp_path_factory.mktemp("refiner") / "sdxl-refiner")
    unet = UNet2DConditionModel.from_pretrained(path / "unet")
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for weight in unet.parameters():
            weight.add_(torch.randn(weight.shape, generator=generator) * 0.05)
    unet.save_pretrained(path / "unet")
    return ModelSource(air="test:tiny-refiner@1", architecture="sdxl", path=str(path))


def run(engine, source, inp, should_cancel=never):
    recorder = Recorder()
    image = engine.generate(source, inp, on_step=recorder, should_cancel=should_cancel)
    return image, recorder


def pixels(image):
    return np.asarray(image).astype(int)


# -- Refiner ------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheduler", ["Euler", "DPM++ 2M Karras", "DDIM", "Euler a", "UniPC"])
@pytest.mark.parametrize(("steps", "start"), [(10, 8), (6, 1), (7, 6)])
def test_the_refiner_split_runs_exactly_the_planned_steps(engine, source, refiner_source, scheduler, steps, start):
    base = source("sdxl")
    plan = job_plan(architecture="sdxl", task_type="textToImage", steps=steps, strength=1.0,
                    refiner_start_step=start)
    inp = make_input(steps=steps, scheduler=scheduler, refiner=Refiner(source=refiner_source, start_step=start))
    with count_evaluations(engine, base) as base_calls, count_evaluations(engine, refiner_source) as refiner_calls:
        image, recorder = run(engine, base, inp)
    assert image.size == (64, 64)
    # One counter across both models, without a gap or a repeat, every call with the job's total.
    assert recorder.steps == list(range(1, steps + 1))
    assert recorder.totals == {plan.steps}
    # Each model ran exactly its part of the schedule (cfg > 1: two batched halves per evaluation).
    assert len(base_calls) == start
    assert len(refiner_calls) == steps - start


def test_the_refiner_changes_the_end_of_the_image(engine, source, refiner_source):
    base = source("sdxl")
    plain, _ = run(engine, base, make_input(steps=6, seed=3))
    refined, _ = run(engine, base, make_input(steps=6, seed=3, refiner=Refiner(source=refiner_source, start_step=4)))
    again, _ = run(engine, base, make_input(steps=6, seed=3, refiner=Refiner(source=refiner_source, start_step=4)))
    assert np.array_equal(pixels(refined), pixels(again))
    assert not np.array_equal(pixels(plain), pixels(refined))


def test_the_refiner_handed_the_base_itself_equals_the_plain_run(engine, source):
    # Handing over to the very same weights must give the uninterrupted run: nothing lost at the seam.
    base = source("sdxl")
    plain, _ = run(engine, base, make_input(steps=6, seed=9, scheduler="Euler"))
    split, _ = run(engine, base, make_input(steps=6, seed=9, scheduler="Euler", refiner=Refiner(source=base,
                                                                                             start_step=3)))
    assert np.abs(pixels(plain) - pixels(split)).max() <= 2


def test_a_one_model_cache_runs_the_refiner_in_the_base_s_place(source, refiner_source):
    engine = Engine(device="cpu", cache_size=1)
    _, recorder = run(engine, source("sdxl"), make_input(steps=5, refiner=Refiner(source=refiner_source,
                                                                                    start_step=3)))
    assert recorder.steps == [1, 2, 3, 4, 5]
    assert engine.loaded_models() == [refiner_source.air]


def test_the_refiner_refuses_what_it_cannot_split(engine, source, refiner_source):
    with pytest.raises(ValueError, match="first-order"):
        run(engine, source("sdxl"), make_input(steps=5, scheduler="Heun",
                                               refiner=Refiner(source=refiner_source, start_step=3)))
    with pytest.raises(ValueError, match="SDXL"):
        run(engine, source("sd15"), make_input(steps=5, refiner=Refiner(source=refiner_source, start_step=3)))
    with pytest.raises(ValueError, match="start"):
        run(engine, source("sdxl"), make_input(steps=5, refiner=Refiner(source=refiner_source, start_step=5)))


def test_cancelling_in_the_base_never_reaches_the_refiner(engine, source, refiner_source):
    recorder = Recorder()
    with pytest.raises(GenerationCancelled):
        engine.generate(source("sdxl"), make_input(steps=6, refiner=Refiner(source=refiner_source, start_step=4)),
                        on_step=recorder, should_cancel=lambda: len(recorder.calls) >= 2)
    assert max(recorder.steps) <= 3


# -- Hires fix ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("steps", "hires_steps", "strength"), [(4, 6, 0.5), (3, 10, 0.58), (5, 4, 1.0)])
def test_the_hires_fix_runs_steps_times_strength_after_the_first_pass(engine, source, steps, hires_steps, strength):
    plan = job_plan(architecture="sd15", task_type="textToImage", steps=steps, strength=1.0,
                    hires_steps=hires_steps, hires_strength=strength)
    inp = make_input(steps=steps, hires=HiresFix(upscale=2.0, steps=hires_steps, strength=strength))
    with count_evaluations(engine, source("sd15")) as calls:
        image, recorder = run(engine, source("sd15"), inp)
    assert image.size == (128, 128)
    assert recorder.steps == list(range(1, plan.steps + 1))
    assert recorder.totals == {plan.steps}
    assert len(calls) == plan.steps
    # The second pass's previews are of the upscaled image.
    assert np.asarray(recorder.calls[-1][2]).shape[:2] != np.asarray(recorder.calls[0][2]).shape[:2]


def test_the_hires_fix_keeps_the_first_pass_composition(engine, source):
    inp = make_input(steps=4, seed=5, width=64, height=64)
    first, _ = run(engine, source("sd15"), inp)
    low, _ = run(engine, source("sd15"), make_input(steps=4, seed=5, hires=HiresFix(upscale=1.5, steps=10,
                                                                                   strength=0.1)))
    assert low.size == (96, 96)
    # At a low strength the second pass only polishes the upscaled first pass.
    upscaled = pixels(first.resize((96, 96)))
    assert np.abs(pixels(low) - upscaled).mean() < 40


def test_the_hires_fix_refuses_a_pass_with_no_step(engine, source):
    with pytest.raises(ValueError, match="hires steps"):
        run(engine, source("sd15"), make_input(steps=3, hires=HiresFix(upscale=2.0, steps=10, strength=0.05)))
    with pytest.raises(ValueError, match="text-to-image"):
        run(engine, source("sd15"), make_input("imageToImage", steps=3, strength=0.5,
                                               hires=HiresFix(upscale=2.0, steps=4, strength=0.5)))
