"""The product document's step advice (generation/advice.py): one set of rules for the create page
(through its JSON view), the job page and the validator. One recommendation at a time, never two
that contradict each other; cost sentences in the user's own numbers; phases by position."""

import pytest
from django.urls import reverse

from generation import schedulers
from generation.advice import cost_sentence, range_note, step_advice, steps_to_reach
from generation.architectures import ARCHITECTURES, phase_for_step, phase_ranges

EULER = schedulers.resolve("Euler", "sd15")
DPM = schedulers.resolve("DPM++ 2M Karras", "sd15")
ANCESTRAL = schedulers.resolve("Euler Ancestral", "sd15")


def advise(*, architecture="sd15", recommended=(25, 30), scheduler=EULER, task="textToImage", steps=28, strength=None):
    return step_advice(model_name="SD model", architecture=architecture, recommended_steps=recommended,
                       scheduler=scheduler, task_type=task, steps=steps, strength=strength)


def keys(advice):
    return [item.key for item in advice]


def test_it_names_the_documents_numbers_at_low_strength():
    assert [a.as_dict() for a in advise(task="imageToImage", steps=20, strength=0.3)] == [{
        "level": "warn", "key": "low-strength",
        "text": "At strength 0.3, 20 steps run only 6 — 50 would run 15: raise steps at low strength."}]
    assert steps_to_reach(15, architecture="sd15", task_type="imageToImage", strength=0.3) == 50


def test_at_50_steps_and_strength_0_3_the_advice_does_not_contradict_itself():
    advice = advise(task="imageToImage", steps=50, strength=0.3)
    assert keys(advice) == ["low-strength-ok"]
    assert advice[0].text == "At strength 0.3, 50 steps run 15: enough refinement at low strength."
    assert "go higher only" not in advice[0].text


@pytest.mark.parametrize("steps", range(1, 101))
@pytest.mark.parametrize("scheduler", [EULER, DPM, ANCESTRAL])
@pytest.mark.parametrize("task,strength", [("textToImage", None), ("imageToImage", 0.3), ("imageToImage", 0.8),
                                           ("outpainting", 0.6)])
def test_there_is_never_more_than_one_recommendation(steps, scheduler, task, strength):
    advice = advise(scheduler=scheduler, task=task, steps=steps, strength=strength)
    assert len(advice) <= 1
    assert len(advise(architecture="sd15_lcm", recommended=(4, 8), scheduler=scheduler, task=task, steps=steps,
                      strength=strength)) <= 1


def test_the_model_defaults_sit_inside_their_range_and_open_without_a_warning():
    from generation.builtin import CATALOG_DEFAULTS

    for arch in ARCHITECTURES.values():
        low, high = arch.recommended_steps
        assert low <= arch.default_steps <= high, arch.key
        scheduler = schedulers.resolve(arch.default_scheduler, arch.family)
        advice = step_advice(model_name=arch.label, architecture=arch.key, recommended_steps=arch.recommended_steps,
                             scheduler=scheduler, task_type="textToImage", steps=arch.default_steps, strength=None)
        assert all(item.level not in ("warn", "error") for item in advice), (arch.key, advice)
    builtin = (CATALOG_DEFAULTS["min_steps"], CATALOG_DEFAULTS["max_steps"])
    assert builtin[0] <= CATALOG_DEFAULTS["default_steps"] <= builtin[1]
    advice = advise(recommended=builtin, steps=CATALOG_DEFAULTS["default_steps"])
    assert keys(advice) == ["sweet-spot"]


def test_dpm_2m_karras_at_30_steps_is_the_documents_final_render_not_a_warning():
    assert [a.level for a in advise(scheduler=DPM, steps=30)] == ["ok"]
    assert keys(advise(scheduler=DPM, steps=45)) == ["detail"]


def test_it_says_a_distilled_model_over_its_range_wastes_compute():
    advice = advise(architecture="sd15_lcm", recommended=(4, 8), steps=30)
    assert [a.text for a in advice] == ["This distilled model is meant for 4-8 steps; 30 wastes compute."]
    assert keys(advise(architecture="sd15_lcm", recommended=(4, 8), steps=6)) == ["distilled-ok"]


def test_below_the_range_it_names_the_model_and_its_range():
    below = advise(scheduler=DPM, steps=10)[0]
    assert (below.key, below.level) == ("below-range", "warn")
    assert below.text == "SD model is recommended at 25-30 steps; 10 is below its range."
    # A fast scheduler that already converged: the document's "great for prototyping", not a warning.
    assert [(a.key, a.level) for a in advise(steps=15)] == [("prototype", "info")]


def test_stochastic_schedulers_above_the_range_do_not_converge():
    assert keys(advise(scheduler=ANCESTRAL, steps=40)) == ["stochastic"]
    assert keys(advise(steps=40)) == ["above-range"]


def test_zero_effective_steps_is_an_error_and_nothing_else():
    advice = advise(task="inpainting", steps=10, strength=0.05)
    assert keys(advice) == ["no-steps"]
    assert advice[0].level == "error"


def test_outpainting_below_strength_0_7_stays_flat():
    assert keys(advise(task="outpainting", steps=30, strength=0.6)) == ["outpaint-strength"]
    assert "outpaint-strength" not in keys(advise(task="outpainting", steps=30, strength=0.9))


def test_strength_is_ignored_for_text_to_image():
    assert keys(advise(steps=28, strength=0.1)) == keys(advise(steps=28))


def test_the_cost_sentence_uses_the_users_own_numbers():
    def cost(steps, **kw):
        return cost_sentence(**{"architecture": "sd15", "task_type": "textToImage", "steps": steps, "strength": 1.0,
                                "scheduler_order": 1, "reference_steps": 30, **kw})
    assert cost(20) == "20 steps instead of 30: 33% less compute."
    assert cost(25) == "25 steps instead of 30: 17% less compute."
    assert cost(30) == "30 steps: the same compute as a 30-step run."
    assert cost(45, number_results=2) == "45 steps instead of 30: 50% more compute; 90 model evaluations for 2 images."
    assert cost(50, task_type="imageToImage", strength=0.3) == "15 of 50 steps instead of 30: 50% less compute."
    assert "third" not in cost(25)


def test_the_range_note_is_the_models_own_range():
    assert range_note(model_name="Shapes", distilled=False, recommended_steps=(10, 30)) == (
        "Shapes is recommended at 10-30 steps; go higher only if you see a visible improvement.")


@pytest.mark.parametrize("requested,expected", [
    (4, ["Composition", "Forms", "Details", "Polish"]),
    (8, ["Composition", "Forms", "Forms", "Forms", "Details", "Details", "Details", "Polish"]),
])
def test_phases_follow_the_position_in_the_schedule(requested, expected):
    assert [phase_for_step(step, requested)[0] for step in range(1, requested + 1)] == expected


def test_a_30_step_run_matches_the_documents_ranges_and_every_run_ends_polishing():
    assert [(low, high, name) for low, high, name, _ in phase_ranges(30)] == [
        (1, 5, "Composition"), (6, 15, "Forms"), (16, 27, "Details"), (28, 30, "Polish")]
    assert [(low, high, name) for low, high, name, _ in phase_ranges(50)] == [
        (1, 8, "Composition"), (9, 25, "Forms"), (26, 45, "Details"), (46, 50, "Polish")]
    for requested in range(2, 101):
        assert phase_for_step(1, requested)[0] == "Composition"
        assert phase_for_step(requested, requested)[0] == "Polish"


# Parity: the create page's JSON view, the first render of the form, the job page and the validator
# give the same advice, because they all call generation/advice.py.

CASES = [("text-to-image", "textToImage", "Euler", 20, None), ("text-to-image", "textToImage", "DPM++ 2M Karras", 10,
          None), ("image-to-image", "imageToImage", "Euler", 20, 0.3), ("image-to-image", "imageToImage", "Euler", 50,
          0.3), ("text-to-image", "textToImage", "Euler Ancestral", 45, None)]


@pytest.fixture
def alice_client(client, alice, builtin_model):
    from tests.conftest import PASSWORD

    client.login(username="alice", password=PASSWORD)
    return client


@pytest.mark.parametrize("slug,task,scheduler,steps,strength", CASES)
def test_advice_parity_between_the_create_page_the_job_page_and_the_validator(
        alice, alice_client, builtin_model, slug, task, scheduler, steps, strength):
    import re

    from webapp.studio.access import active_team
    from webapp.studio.models import Job
    from webapp.studio.schema import validate_inference
    from webapp.studio.views.presenters import model_advice

    query = {"model": builtin_model.air, "scheduler": scheduler, "steps": str(steps)}
    if strength is not None:
        query["strength"] = str(strength)
    view = alice_client.get(reverse("create_advice", args=[slug]), query).json()["advice"]
    spec = schedulers.resolve(scheduler, "sd15")
    direct = [a.as_dict() for a in model_advice(builtin_model, scheduler=spec, task_type=task, steps=steps,
                                                strength=strength)]
    assert view == direct and len(view) == 1
    cautions = [item for item in view if item["level"] == "warn"]
    # The job page shows the cautions, computed by the same function
    params = {"taskType": "imageInference", "model": builtin_model.air, "positivePrompt": "a red circle",
              "steps": steps, "scheduler": scheduler, "seed": 1, "numberResults": 1, "width": 256, "height": 256}
    if strength is not None:
        params["strength"] = strength
    job = Job.objects.create(owner=alice, team=active_team(alice), task_type=task, model=builtin_model,
                             params=params, total_steps=steps)
    body = alice_client.get(reverse("job_detail", args=[job.id])).content.decode()
    assert re.findall(r'data-advice="([^"]+)"', body) == [item["key"] for item in cautions]
    # The validator (what the API returns) gives the same cautions
    if task == "textToImage":
        request = validate_inference({k: v for k, v in params.items() if k != "seed"}, user=alice)
        assert request.advice == [item["text"] for item in cautions]
