"""The API's add-ons: modelSearch categories, and lora, embeddings, vae, clipSkip and promptWeighting
on imageInference (validated by the one schema)."""

import pytest

from tests.api.test_http import post, t2i, task_uuid
from webapp.studio.models import Job, ModelEntry, Team


@pytest.fixture
def addons(builtin_model, alice):
    """SD 1.5 add-ons open to every team, an SDXL LoRA, and a LoRA only Studio A may use."""
    made = {
        "style": ModelEntry.objects.create(air="local:style@1", name="Style", kind="lora", path="/l/style.safetensors",
                                           trigger_words="ohwx style", default_weight=0.7),
        "locon": ModelEntry.objects.create(air="local:locon@1", name="LoCon", kind="lycoris", path="/l/locon.st"),
        "xl": ModelEntry.objects.create(air="local:xl-detail@1", name="XL detail", kind="lora", architecture="sdxl",
                                        path="/l/xl.safetensors"),
        "house": ModelEntry.objects.create(air="local:house@1", name="House", kind="lora", path="/l/house.st"),
        "neg": ModelEntry.objects.create(air="local:easyneg@1", name="EasyNegative", kind="embedding",
                                         path="/e/easynegative.safetensors"),
        "vae": ModelEntry.objects.create(air="local:mse@1", name="MSE VAE", kind="vae", path="/v/mse.safetensors"),
        "flux": ModelEntry.objects.create(air="local:flux@1", name="Flux", architecture="flux1d", path="/f"),
    }
    made["house"].teams.add(Team.objects.get(name="Studio A"))
    return made


def errors_by_parameter(response):
    return {e["parameter"]: e for e in response.json()["errors"]}


def test_the_sdks_add_on_fields_are_validated_and_stored(client, alice_key, addons):
    response = post(client, [t2i(lora=[{"model": "local:style@1", "weight": 1.5}, {"model": "local:locon@1"}],
                                 embeddings=[{"model": "local:easyneg@1"}], vae="local:mse@1", clipSkip=1,
                                 deliveryMethod="async")], key=alice_key)
    assert response.status_code == 200, response.json()
    params = Job.objects.get().params
    assert params["lora"] == [{"model": "local:style@1", "weight": 1.5}, {"model": "local:locon@1", "weight": 1.0}]
    assert params["embeddings"] == [{"model": "local:easyneg@1"}]
    assert params["vae"] == "local:mse@1" and params["clipSkip"] == 1


def test_a_lora_without_weight_takes_its_default_and_prompt_weighting_is_stored(client, bob_key, addons):
    response = post(client, [t2i(lora=[{"model": "local:house@1"}, {"model": "local:style@1"}],
                                 promptWeighting="sdEmbeds", deliveryMethod="async")], key=bob_key)
    assert response.status_code == 200, response.json()
    params = Job.objects.get().params
    assert params["lora"][1] == {"model": "local:style@1", "weight": 0.7}
    assert params["promptWeighting"] == "sdEmbeds"


@pytest.mark.parametrize("fields,parameter,fragment", [
    ({"lora": [{"model": "local:xl-detail@1"}]}, "lora", "made for SDXL; Stepwise Shapes (built-in) is SD 1.5"),
    ({"lora": [{"model": "local:style@1", "weight": 4.5}]}, "lora", "lora[0].weight must be a number from -4 to 4"),
    ({"lora": [{"model": "local:style@1"}, {"model": "local:style@1"}]}, "lora", "twice"),
    ({"lora": [{"model": "local:style@1", "scale": 1}]}, "lora", "unsupported keys: scale"),
    ({"lora": {"model": "local:style@1"}}, "lora", "must be a list"),
    ({"lora": [{"model": "local:easyneg@1"}]}, "lora", "Unknown LoRA"),
    ({"embeddings": [{"model": "local:style@1"}]}, "embeddings", "Unknown embedding"),
    ({"embeddings": [{"model": "local:easyneg@1", "weight": 0.5}]}, "embeddings", "full strength"),
    ({"vae": "local:style@1"}, "vae", "Unknown VAE"),
    ({"vae": "not an air"}, "vae", "AIR id"),
    ({"clipSkip": 3}, "clipSkip", "between 0 and 2"),
    ({"promptWeighting": "fancy"}, "promptWeighting", "compel, sdEmbeds"),
    ({"promptWeighting": "compel", "clipSkip": 1}, "promptWeighting", "cannot be combined with clipSkip"),
    ({"model": "local:style@1"}, "model", "is a LoRA, not a checkpoint"),
])
def test_bad_add_ons_are_refused_by_name_and_nothing_is_stored(client, alice_key, addons, fields, parameter,
                                                                fragment):
    response = post(client, [t2i(**fields)], key=alice_key)
    assert response.status_code == 400
    error = errors_by_parameter(response)[parameter]
    assert fragment in error["message"], error
    assert Job.objects.count() == 0


def test_charlie_cannot_use_a_lora_open_to_studio_a_only(client, charlie_key, addons):
    response = post(client, [t2i(lora=[{"model": "local:house@1", "weight": 1}])], key=charlie_key)
    assert "Unknown LoRA 'local:house@1', or not enabled for your team." in errors_by_parameter(response)["lora"][
        "message"]


def test_weighting_and_clip_skip_are_refused_for_flux_by_name(client, alice_key, addons):
    flux = {"model": "local:flux@1", "width": 1024, "height": 1024}
    refused = errors_by_parameter(post(client, [t2i(**flux, promptWeighting="compel", clipSkip=2)], key=alice_key))
    assert "not FLUX.1 dev" in refused["promptWeighting"]["message"]
    assert "no CLIP layers to skip" in refused["clipSkip"]["message"]
    # Runware's ComfyUI node always sends clipSkip 0: that asks for nothing and is fine anywhere.
    response = post(client, [t2i(**flux, clipSkip=0, deliveryMethod="async")], key=alice_key)
    assert response.status_code == 200, response.json()
    assert "clipSkip" not in Job.objects.get().params


def test_the_catalogs_clip_skip_is_the_default(client, alice_key, addons, builtin_model):
    builtin_model.default_clip_skip = 1
    builtin_model.save()
    post(client, [t2i(deliveryMethod="async")], key=alice_key)
    assert Job.objects.get().params["clipSkip"] == 1


def test_the_runner_turns_stored_add_ons_into_engine_inputs(addons):
    from generation.inputs import AddOn, ModelLoadError
    from webapp.jobs.runner import job_addons

    params = {"lora": [{"model": "local:style@1", "weight": -1.5}], "embeddings": [{"model": "local:easyneg@1"}],
              "vae": "local:mse@1", "clipSkip": 2, "promptWeighting": "compel"}
    assert job_addons(params) == {
        "loras": (AddOn("local:style@1", "/l/style.safetensors", weight=-1.5),),
        "embeddings": (AddOn("local:easyneg@1", "/e/easynegative.safetensors", token="easyneg"),),
        "vae": AddOn("local:mse@1", "/v/mse.safetensors"),
        "clip_skip": 2,
        "prompt_weighting": "compel",
        "mask_margin": None,
    }
    addons["vae"].delete()
    with pytest.raises(ModelLoadError, match="local:mse@1 is no longer in the catalog"):
        job_addons(params)


def test_the_a1111_parameters_record_the_add_ons():
    from webapp.studio.images import a1111_parameters

    text = a1111_parameters({"positivePrompt": "a fox", "steps": 20, "scheduler": "Euler", "CFGScale": 7,
                             "width": 512, "height": 512, "model": "stepwise:1@1",
                             "lora": [{"model": "local:style@1", "weight": 0.8}], "clipSkip": 1,
                             "vae": "local:mse@1", "embeddings": [{"model": "local:easyneg@1"}]},
                            seed=3, model_name="Shapes", steps_run=20)
    assert text.startswith("a fox <lora:style:0.8>\n")
    assert "Clip skip: 2" in text and "VAE: mse" in text and "Embeddings: easyneg" in text


def test_model_search_lists_each_kind_with_runware_categories(client, alice_key, charlie_key, builtin_model):
    ModelEntry.objects.create(air="local:ohwx@1", name="Ohwx person", kind="lora", path="/l",
                              trigger_words="ohwx, red hair", default_weight=0.8)
    ModelEntry.objects.create(air="local:locon@1", name="LoCon detail", kind="lycoris", path="/c")
    ModelEntry.objects.create(air="local:easyneg@1", name="EasyNegative", kind="embedding", path="/e")
    vae = ModelEntry.objects.create(air="local:xlvae@1", name="XL VAE", kind="vae", architecture="sdxl", path="/v")
    vae.teams.add(Team.objects.get(name="Studio A"))
    ModelEntry.objects.create(air="local:nsfw@1", name="Checker", kind="safety_checker", path="/s")

    def search(key, **filters):
        response = post(client, [{"taskType": "modelSearch", "taskUUID": task_uuid(), **filters}], key=key)
        return response.json()["data"][0]

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




def test_mask_margin_is_stored_for_inpainting_and_refused_elsewhere_by_name(client, alice_key, addons):
    from tests.conftest import png_bytes

    image = "data:image/png;base64," + __import__("base64").b64encode(png_bytes(128, 128)).decode()
    inpaint = t2i(seedImage=image, maskImage=image, maskMargin=64, deliveryMethod="async")
    response = post(client, [inpaint], key=alice_key)
    assert response.status_code == 200, response.json()
    assert Job.objects.get().params["maskMargin"] == 64
    assert "32 and 128" in errors_by_parameter(post(client, [{**inpaint, "taskUUID": task_uuid(), "maskMargin": 8}],
                                                    key=alice_key))["maskMargin"]["message"]
    refused = errors_by_parameter(post(client, [t2i(maskMargin=64)], key=alice_key))
    assert "inpainting only" in refused["maskMargin"]["message"]
