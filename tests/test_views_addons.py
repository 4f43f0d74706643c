"""The create form's add-ons: LoRA rows (model + weight), embeddings, VAE, clip skip, prompt weighting,
posted through the one validator and restored by "reuse these parameters"."""

import json

import pytest
from django.urls import reverse

from tests.conftest import PASSWORD
from webapp.studio.models import Job, ModelEntry, Team


@pytest.fixture
def addons(builtin_model, alice):
    house = ModelEntry.objects.create(air="local:house@1", name="House style", kind="lora", path="/l/h.st",
                                      trigger_words="hsx style, warm light", default_weight=0.6)
    house.teams.add(Team.objects.get(name="Studio A"))
    return {
        "house": house,
        "detail": ModelEntry.objects.create(air="local:detail@1", name="Detail", kind="lycoris", path="/l/d.st"),
        "xl": ModelEntry.objects.create(air="local:xl@1", name="XL only", kind="lora", architecture="sdxl",
                                        path="/l/x.st"),
        "neg": ModelEntry.objects.create(air="local:easyneg@1", name="EasyNegative", kind="embedding", path="/e"),
        "vae": ModelEntry.objects.create(air="local:mse@1", name="MSE", kind="vae", path="/v"),
    }


def login(client, username):
    client.login(username=username, password=PASSWORD)
    return client


def form(**fields):
    return {"positivePrompt": "a lighthouse at dusk", "model": "stepwise:1@1", "steps": "20", "CFGScale": "7",
            "scheduler": "Euler", "numberResults": "1", "width": "512", "height": "512", **fields}


def test_the_form_offers_the_add_ons_this_team_may_use(client, addons, bob, charlie):
    body = login(client, "bob").get(reverse("create", args=["text-to-image"])).content.decode()
    assert "House style · SD 1.5" in body and "Detail · SD 1.5" in body and 'value="local:easyneg@1"' in body
    data = json.loads(body.split('id="addons-data" type="application/json">')[1].split("</script>")[0])
    house = next(lora for lora in data["loras"] if lora["air"] == "local:house@1")
    assert house["triggerWords"] == ["hsx style", "warm light"] and house["defaultWeight"] == 0.6
    client.logout()
    body = login(client, "charlie").get(reverse("create", args=["text-to-image"])).content.decode()
    assert "House style" not in body and "Detail · SD 1.5" in body


def test_several_loras_with_their_weights_become_one_job(client, addons):
    data = form(loraModel=["local:house@1", "local:detail@1"], loraWeight=["1.25", "-0.5"],
                embeddings=["local:easyneg@1"], vae="local:mse@1", clipSkip="1")
    response = login(client, "alice").post(reverse("create", args=["text-to-image"]), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    params = Job.objects.get().params
    assert params["lora"] == [{"model": "local:house@1", "weight": 1.25}, {"model": "local:detail@1", "weight": -0.5}]
    assert params["embeddings"] == [{"model": "local:easyneg@1"}]
    assert params["vae"] == "local:mse@1" and params["clipSkip"] == 1

    # Reuse restores every add-on.
    page = client.get(reverse("create", args=["text-to-image"]) + f"?reuse={Job.objects.get().id}")
    values = page.context["values"]
    assert values["lora"] == params["lora"] and values["embeddings"] == ["local:easyneg@1"]
    assert values["vae"] == "local:mse@1" and values["clipSkip"] == "1"
    assert page.context["addons_json"]["initialLoras"] == params["lora"]


def test_a_lora_for_another_architecture_is_named_next_to_its_field(client, addons):
    data = form(loraModel=["local:xl@1"], loraWeight=["1"], promptWeighting="sdEmbeds")
    response = login(client, "alice").post(reverse("create", args=["text-to-image"]), data)
    assert response.status_code == 400
    assert "made for SDXL" in response.context["errors"]["lora"]
    assert 'id="lora-error"' in response.content.decode()
    # The re-rendered form keeps the row the user added.
    assert response.context["addons_json"]["initialLoras"] == [{"model": "local:xl@1", "weight": "1"}]
    assert Job.objects.count() == 0


def test_prompt_weighting_is_a_checkbox_with_a1111_syntax(client, addons):
    data = form(positivePrompt="a (lighthouse:1.3) at dusk", promptWeighting="sdEmbeds")
    assert login(client, "alice").post(reverse("create", args=["text-to-image"]), data).status_code == 302
    assert Job.objects.get().params["promptWeighting"] == "sdEmbeds"
