"""The API's add-ons: modelSearch categories, and lora, embeddings, vae, clipSkip and promptWeighting
on imageInference (validated by the one schema)."""

from tests.api.test_http import post, task_uuid
from webapp.studio.models import ModelEntry, Team


def test_model_search_lists_each_kind_with_runware_categories(client, alice_key, charlie_key, builtin_model):
    ModelEntry.objects.create(air="local:ohwx@1", name="Ohwx person", kind="lora", path="/l",
                              trigger_words="ohwx, red hair", default_weight=0.8)
    ModelEntry.objects.create(air="local:locon@1", name="LoCon detail", kind="lycoris", path="/c")
    ModelEntry.objects.create(air="local:easyneg@1", name="EasyNegative", kind="embedding", path="/e")
    vae = ModelEntry.objects.create(air="local:xlvae@1", name="XL VAE", kind="vae", architecture="sdxl", path="/v")
    vae.teams.add(Team.objects.get(name="Studio A"))
    ModelEntry.objects.create(air="local:nsfw@1", name="Checker", kind="safety_checker", path="/s")

    def search(key, **filters):
        return post(client, [{"taskType": "modelSearch", "taskUUID": task_uuid(), **filters}], key=key).json()["data"][0]

    everything = {r["air"]: r["category"] for r in search(alice_key)["results"]}
    assert everything == {"stepwise:1@1": "checkpoint", "local:ohwx@1": "lora", "local:locon@1": "lycoris",
                          "local:easyneg@1": "embeddings", "local:xlvae@1": "vae", "local:nsfw@1": "safetyChecker"}
    loras = search(alice_key, category="lora")
    assert loras["totalResults"] == 1
    lora = loras["results"][0]
    assert lora["positiveTriggerWords"] == "ohwx, red hair" and lora["defaultWeight"] == 0.8
    assert lora["architecture"] == "sd1x" and "defaultSteps" not in lora
    assert [r["air"] for r in search(alice_key, category="vae", architecture="sdxl")["results"]] == ["local:xlvae@1"]
    # charlie's team was not given the VAE.
    assert search(charlie_key, category="vae")["totalResults"] == 0
    assert [r["air"] for r in search(alice_key, category="checkpoint")["results"]] == ["stepwise:1@1"]
    assert search(alice_key, type="base")["totalResults"] == 1


