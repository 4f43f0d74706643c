"""The step count users see is the step count the real pipelines run.

For each case the engine's on_step must fire exactly effective_steps(...).steps times, as 1..N in
order with total N, and the model must be evaluated effective_steps(...).evaluations times (counted
with a forward hook on the UNet/transformer): 2N-1 for order-2 schedulers.
"""

import pytest
import torch
from PIL import Image

from generation import schedulers
from generation.architectures import ARCHITECTURES
from generation.steps import effective_steps
from tests.engine.helpers import ARCHITECTURE, Recorder, count_evaluations, make_input, never

OUTPAINT_LEFT = {"top": 0, "right": 0, "bottom": 0, "left": 64, "blur": 8}


def plan_for(family, inp):
    spec = schedulers.resolve(inp.scheduler, ARCHITECTURES[ARCHITECTURE[family]].family)
    strength = 1.0 if inp.strength is None else inp.strength
    return effective_steps(architecture=ARCHITECTURE[family], task_type=inp.task_type, steps=inp.steps,
                           strength=strength, scheduler_order=spec.order)


def run_and_count(engine, source, inp):
    recorder = Recorder()
    with count_evaluations(engine, source) as evaluations:
        engine.generate(source, inp, on_step=recorder, should_cancel=never)
    return recorder, len(evaluations)


SD15_CASES = [
    # task, steps, strength, scheduler
    ("textToImage", 4, None, "Euler"),
    ("imageToImage", 50, 0.58, "Euler"),  # the float trap: 28, not 29
    ("imageToImage", 40, 0.5, "Euler"),
    ("imageToImage", 20, 0.3, "DPM++ 2M Karras"),
    ("imageToImage", 10, 1.0, "Euler a"),
    ("inpainting", 10, 0.5, "Euler"),
    ("inpainting", 50, 0.58, "UniPC"),
    ("outpainting", 6, 0.9, "Euler"),
    # Order 2: N steps, 2N-1 evaluations
    ("textToImage", 4, None, "Heun"),
    ("imageToImage", 10, 0.5, "Heun"),
    ("imageToImage", 5, 0.6, "KDPM2 a"),
    ("inpainting", 6, 0.5, "KDPM2"),
    ("outpainting", 4, 1.0, "DPM++ SDE"),
]


@pytest.mark.parametrize("task_type,steps,strength,scheduler", SD15_CASES)
def test_builtin_sd15_reports_exactly_the_steps_it_runs(engine, source, task_type, steps, strength, scheduler):
    outpaint = OUTPAINT_LEFT if task_type == "outpainting" else None
    inp = make_input(task_type, steps=steps, strength=strength, scheduler=scheduler, outpaint=outpaint,
                     width=128 if outpaint else 64)
    plan = plan_for("sd15", inp)

    recorder, evaluations = run_and_count(engine, source("sd15"), inp)

    assert recorder.steps == list(range(1, plan.steps + 1))
    assert recorder.totals == {plan.steps}
    assert evaluations == plan.evaluations


def test_the_float_trap_runs_28_steps_not_29(engine, source):
    recorder, evaluations = run_and_count(engine, source("sd15"), make_input("imageToImage", steps=50, strength=0.58))
    assert recorder.steps[-1] == 28 and evaluations == 28


def test_plms_reports_n_steps_for_its_n_plus_one_evaluations(engine, source):
    # PNDM (PLMS) evaluates its first step twice; effective_steps does not model that warm-up,
    # so its plan undercounts evaluations by one, but the steps reported are still exactly N.
    inp = make_input(steps=5, scheduler="PNDM")
    recorder, evaluations = run_and_count(engine, source("sd15"), inp)
    assert recorder.steps == [1, 2, 3, 4, 5]
    assert evaluations == plan_for("sd15", inp).evaluations + 1


def test_diffusers_calls_back_once_per_evaluation_with_order_2_schedulers(builtin_dir):
    # What the engine's evaluation -> step mapping relies on, checked on the raw pipeline.
    from diffusers import HeunDiscreteScheduler, StableDiffusionImg2ImgPipeline

    pipe = StableDiffusionImg2ImgPipeline.from_pretrained(builtin_dir, local_files_only=True)
    pipe.scheduler = HeunDiscreteScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    indices = []

    def callback(pipeline, i, t, callback_kwargs):
        indices.append(i)
        return callback_kwargs

    pipe("a fox", image=Image.new("RGB", (64, 64), (90, 120, 30)), strength=0.5, num_inference_steps=10,
         generator=torch.Generator().manual_seed(0), callback_on_step_end=callback)

    plan = effective_steps(architecture="sd15", task_type="imageToImage", steps=10, strength=0.5, scheduler_order=2)
    assert plan.steps == 5
    assert indices == list(range(plan.evaluations)) == list(range(9))


OTHER_CASES = [
    ("textToImage", 3, None),
    ("imageToImage", 28, 0.6),  # SDXL 16, FLUX and Z-Image 17
    ("imageToImage", 20, 0.3),
    ("inpainting", 5, 0.5),  # SDXL 2, FLUX and Z-Image 3
    ("outpainting", 4, 0.9),
]


@pytest.mark.parametrize("family", ["sdxl", "flux", "zimage"])
@pytest.mark.parametrize("task_type,steps,strength", OTHER_CASES)
def test_sdxl_flux_and_zimage_report_exactly_the_steps_they_run(engine, source, family, task_type, steps, strength):
    outpaint = OUTPAINT_LEFT if task_type == "outpainting" else None
    inp = make_input(task_type, steps=steps, strength=strength, outpaint=outpaint, width=128 if outpaint else 64)
    plan = plan_for(family, inp)

    recorder, evaluations = run_and_count(engine, source(family), inp)

    assert recorder.steps == list(range(1, plan.steps + 1))
    assert recorder.totals == {plan.steps}
    assert evaluations == plan.evaluations


def test_flow_matching_rounds_up_where_sd_rounds_down(engine, source):
    flux, _ = run_and_count(engine, source("flux"), make_input("imageToImage", steps=28, strength=0.6))
    sdxl, _ = run_and_count(engine, source("sdxl"), make_input("imageToImage", steps=28, strength=0.6))
    assert (flux.steps[-1], sdxl.steps[-1]) == (17, 16)
