"""The product document's step advice (generation/advice.py): one set of rules for the create page
(through its JSON view), the job page and the validator."""

from generation import schedulers
from generation.advice import step_advice, steps_to_reach

EULER = schedulers.resolve("Euler", "sd15")
DPM = schedulers.resolve("DPM++ 2M Karras", "sd15")
ANCESTRAL = schedulers.resolve("Euler Ancestral", "sd15")


def advise(*, architecture="sd15", recommended=(25, 30), scheduler=EULER, task="textToImage", steps=28, strength=None):
    return step_advice(model_name="SD model", architecture=architecture, recommended_steps=recommended,
                       scheduler=scheduler, task_type=task, steps=steps, strength=strength)


def keys(advice):
    return [item.key for item in advice]


def test_it_names_the_documents_numbers_at_low_strength():
    low = next(a for a in advise(task="imageToImage", steps=20, strength=0.3) if a.key == "low-strength")
    assert low.text == "At strength 0.3, 20 steps run only 6 — 50 would run 15: raise steps at low strength."
    assert low.level == "warn"
    assert steps_to_reach(15, architecture="sd15", task_type="imageToImage", strength=0.3) == 50


def test_it_says_a_distilled_model_over_its_range_wastes_compute():
    advice = advise(architecture="sd15_lcm", recommended=(4, 8), steps=30)
    assert advice[0].text == "This distilled model is meant for 4-8 steps; 30 wastes compute."
    assert "converge" not in keys(advice)


def test_sweet_spot_convergence_and_stochastic_schedulers():
    assert keys(advise(steps=28)) == ["sweet-spot", "fast-extra"]
    assert "converge" in keys(advise(scheduler=DPM, steps=28))
    assert "converge" in keys(advise(steps=10))
    assert "stochastic" in keys(advise(scheduler=ANCESTRAL, steps=28))


def test_below_the_range_it_names_the_model_and_its_range():
    below = advise(steps=10)[0]
    assert (below.key, below.level) == ("below-range", "warn")
    assert below.text.startswith("SD model is recommended at 25-30 steps")


def test_zero_effective_steps_is_an_error_and_nothing_else():
    advice = advise(task="inpainting", steps=10, strength=0.05)
    assert keys(advice) == ["no-steps"]
    assert advice[0].level == "error"


def test_outpainting_below_strength_0_7_stays_flat():
    assert "outpaint-strength" in keys(advise(task="outpainting", steps=30, strength=0.6))
    assert "outpaint-strength" not in keys(advise(task="outpainting", steps=30, strength=0.9))


def test_strength_is_ignored_for_text_to_image():
    assert keys(advise(steps=28, strength=0.1)) == keys(advise(steps=28))
