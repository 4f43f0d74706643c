"""effective_steps against the shared vectors (static/js/steps.js is checked against the same file)."""

import json
from pathlib import Path

import pytest

from generation.steps import effective_steps

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "effective_steps.json").read_text())


def _id(v):
    return f"{v['architecture']}-{v['taskType']}-{v['steps']}x{v['strength']}-order{v['schedulerOrder']}"


@pytest.mark.parametrize("vector", VECTORS, ids=_id)
def test_effective_steps_matches_the_shared_vector(vector):
    plan = effective_steps(architecture=vector["architecture"], task_type=vector["taskType"], steps=vector["steps"],
                           strength=vector["strength"], scheduler_order=vector["schedulerOrder"])
    assert plan.steps == vector["expectedSteps"]
    assert plan.evaluations == vector["expectedEvaluations"]
    assert plan.first_step == vector["steps"] - vector["expectedSteps"] + 1


def test_the_vectors_cover_the_cases_that_matter():
    cases = {(v["architecture"], v["taskType"], v["steps"], v["strength"]): v["expectedSteps"] for v in VECTORS}
    assert cases[("sd15", "imageToImage", 50, 0.58)] == 28  # the float trap: int(50 * 0.58) == 28
    assert cases[("sd15", "imageToImage", 40, 0.5)] == 20
    assert cases[("sd15", "imageToImage", 50, 0.3)] == 15
    assert cases[("sd15", "imageToImage", 20, 0.3)] == 6
    assert cases[("flux1d", "imageToImage", 28, 0.6)] == 17  # flow-matching rounds up
    assert cases[("zimage", "imageToImage", 28, 0.6)] == 17
    assert any(v["schedulerOrder"] == 2 for v in VECTORS)
    assert any(v["strength"] == 1.0 and v["taskType"] != "textToImage" for v in VECTORS)
    assert any(v["expectedSteps"] == 0 for v in VECTORS)
