"""job_plan (the passes of a refiner or hires-fix job) against the shared vectors; static/js/steps.js's
jobPlan is checked against the same file (tests/js/steps.test.mjs)."""

import json
from pathlib import Path

import pytest

from generation.steps import job_plan, refiner_start, upscaled_size

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "job_plans.json").read_text())


def _plan(v):
    return job_plan(architecture=v["architecture"], task_type=v["taskType"], steps=v["steps"], strength=v["strength"],
                    scheduler_order=v["schedulerOrder"], refiner_start_step=v.get("refinerStartStep"),
                    hires_steps=v.get("hiresSteps"), hires_strength=v.get("hiresStrength"))


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["expected"]["label"])
def test_job_plan_matches_the_shared_vector(vector):
    plan = _plan(vector)
    expected = vector["expected"]
    assert plan.steps == expected["steps"]
    assert plan.evaluations == expected["evaluations"]
    assert plan.label() == expected["label"]
    assert [{"name": p.name, "steps": p.plan.steps, "firstStep": p.plan.first_step, "requested": p.plan.requested,
             "offset": p.offset} for p in plan.passes] == expected["passes"]


def test_it_splits_the_schedule_exactly_for_the_refiner():
    plan = job_plan(architecture="sdxl", task_type="textToImage", steps=30, strength=1.0, refiner_start_step=24)
    assert plan.label() == "30 steps: 24 base + 6 refiner"
    base, refiner = plan.passes
    assert (base.plan.steps, refiner.plan.steps, refiner.plan.first_step, refiner.offset) == (24, 6, 25, 24)
    # One counter across both: step 24 is the base's last, 25 the refiner's first (25th of the schedule).
    assert plan.locate(24) == (base, 24)
    assert plan.locate(25) == (refiner, 25)
    assert plan.locate(30) == (refiner, 30)


def test_it_counts_the_hires_pass_as_steps_times_strength():
    plan = job_plan(architecture="sd15", task_type="textToImage", steps=30, strength=1.0, hires_steps=50,
                    hires_strength=0.58)
    assert plan.label() == "58 steps: 30 base + 28 hires"  # the float trap: int(50 * 0.58) == 28
    hires = plan.passes[1]
    assert plan.locate(31) == (hires, 23)  # the hires pass runs steps 23..50 of its own 50-step schedule
    assert plan.locate(58) == (hires, 50)


def test_refiner_start_reads_a_step_or_a_percentage():
    assert refiner_start(steps=30, start_step=24) == 24
    assert refiner_start(steps=30, start_percentage=80) == 24
    assert refiner_start(steps=25, start_percentage=50) == 12  # rounded down
    assert refiner_start(steps=30, start_percentage=83.5) == 25  # Runware sends a float


def test_upscaled_size_keeps_the_size_multiple():
    assert upscaled_size(512, 512, upscale=1.5, multiple=8) == (768, 768)
    assert upscaled_size(520, 344, upscale=1.5, multiple=64) == (768, 512)
    assert upscaled_size(256, 256, upscale=2.0, multiple=8) == (512, 512)
