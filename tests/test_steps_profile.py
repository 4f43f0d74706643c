"""manage.py steps_profile on the built-in model: similarity to the reference rises with steps for
Euler, the recommendation is one of the swept counts, stochastic schedulers are reported as not
converging, and the result is stored for the forms and the catalog."""

import io
import json
import os

import pytest
from django.core.management import CommandError, call_command

from generation.profile import Point, Profile, chart_svg, recommend
from webapp.studio.models import StepProfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def installed_builtin(tmp_path_factory):
    import torch

    from generation.builtin import BUILTIN_DIRNAME, install_builtin_model

    torch.set_num_threads(1)
    return install_builtin_model(tmp_path_factory.mktemp("models") / BUILTIN_DIRNAME)


@pytest.fixture
def builtin_entry(builtin_model, installed_builtin):
    builtin_model.path = str(installed_builtin)
    builtin_model.save()
    return builtin_model


def profile(*args):
    out = io.StringIO()
    call_command("steps_profile", "--model", "stepwise:1@1", "--size", "64x64", "--prompts", "2", *args, "--json",
                 stdout=out)
    return json.loads(out.getvalue())


def test_similarity_rises_with_steps_for_euler_and_the_result_is_stored(builtin_entry, tmp_path):
    data = profile("--scheduler", "Euler", "--steps", "2,4,8", "--reference", "16", "--svg", str(tmp_path / "c.svg"))
    assert {"model", "scheduler", "size", "reference_steps", "points", "recommended_steps"} <= data.keys()
    assert (data["model"], data["scheduler"], data["size"], data["reference_steps"]) == ("stepwise:1@1", "Euler",
                                                                                          "64x64", 16)
    similarity = [p["similarity"] for p in data["points"]]
    assert [p["steps"] for p in data["points"]] == [2, 4, 8]
    assert similarity[0] < similarity[1] < similarity[2] <= 1
    assert all(p["seconds"] > 0 for p in data["points"]) and data["seconds_per_step"] > 0
    assert data["recommended_steps"] in (2, 4, 8) and data["converges"] is True
    stored = StepProfile.objects.get(model=builtin_entry, scheduler="Euler", width=64, height=64)
    assert stored.result == data
    assert (tmp_path / "c.svg").read_text().startswith("<svg")


def test_a_stochastic_scheduler_is_reported_as_not_converging(builtin_entry):
    data = profile("--scheduler", "Euler Ancestral", "--steps", "2,4", "--reference", "8")
    assert data["stochastic"] is True and data["converges"] is False and data["recommended_steps"] is None
    assert "does not converge" in data["notes"][0]


def test_bad_arguments_name_themselves(builtin_entry):
    for args, field in [(["--steps", "4,x"], "--steps"), (["--size", "big"], "--size"),
                        (["--scheduler", "Nope"], "--scheduler"), (["--steps", "8,60"], "steps")]:
        with pytest.raises(CommandError, match=field):
            profile(*args)
    with pytest.raises(CommandError, match="--model"):
        call_command("steps_profile", "--model", "nobody:1@1")


def test_the_recommendation_is_the_smallest_count_within_the_tolerance():
    points = [Point(4, 0.60, 0.1), Point(8, 0.80, 0.2), Point(12, 0.93, 0.3), Point(20, 0.97, 0.5)]
    assert recommend(points, tolerance=0.95) == (12, 0.97)
    result = Profile(model="m", scheduler="Euler", size="512x512", reference_steps=50, prompts=3, points=points,
                     seconds_per_step=0.025, tolerance=0.95, ceiling=0.97, recommended_steps=12, stochastic=False,
                     converges=True)
    assert result.measured_sentence() == "measured on this server: 12 steps reach 93% of the 50-step result"
    assert result.saving_sentence(30) == "12 instead of 30 steps: 60% less GPU time."
    svg = chart_svg(result)
    assert svg.count("<circle") == 4 and svg.count('class="cost"') == 4 and "12 steps" in svg


def _store(entry, **overrides):
    points = [Point(4, 0.6, 0.1), Point(8, 0.8, 0.2), Point(12, 0.93, 0.3), Point(16, 0.97, 0.4)]
    result = Profile(model=entry.air, scheduler="Euler", size="512x512", reference_steps=50, prompts=3,
                     points=points, seconds_per_step=0.025, tolerance=0.95, ceiling=0.97, recommended_steps=12,
                     stochastic=False, converges=True)
    return StepProfile.objects.create(model=entry, scheduler="Euler", width=512, height=512,
                                      result={**result.as_dict(), **overrides})


def test_the_page_the_forms_and_the_catalog_show_the_measured_profile(client, alice, builtin_model, admin_client):
    from django.urls import reverse

    from tests.conftest import PASSWORD

    _store(builtin_model)
    client.login(username="alice", password=PASSWORD)
    page = client.get(reverse("model_steps", args=[builtin_model.id])).content.decode()
    assert "Measured on this server: 12 steps reach 93% of the 50-step result." in page
    assert "12 instead of 20 steps: 40% less GPU time." in page and "<svg" in page
    assert 'data-testid="profile-submit"' not in page  # staff only
    create = client.get(reverse("create", args=["text-to-image"])).content.decode()
    assert "Measured on this server: 12 steps reach 93% of the 50-step result (Euler, 512x512)." in create
    guide = client.get(reverse("guide")).content.decode()
    assert 'data-testid="measured-note"' in guide
    catalog = admin_client.get(reverse("admin:studio_modelentry_changelist")).content.decode()
    assert "measured 12" in catalog


def test_staff_queue_a_profile_from_the_page_and_the_admin_action(admin_client, builtin_model, monkeypatch):
    from django.urls import reverse

    from webapp.jobs import queue

    queued = []
    monkeypatch.setattr(queue, "model_profile_steps", lambda **kw: queued.append(kw))
    response = admin_client.post(reverse("model_steps", args=[builtin_model.id]),
                                 {"scheduler": "UniPC", "width": "256", "height": "256", "prompts": "2"})
    assert response.status_code == 302
    assert queued == [{"entry": builtin_model, "scheduler": "UniPC", "width": 256, "height": 256, "prompts": 2}]
    admin_client.post(reverse("admin:studio_modelentry_changelist"),
                      {"action": "profile_steps", "_selected_action": [builtin_model.id]})
    assert queued[-1] == {"entry": builtin_model}
