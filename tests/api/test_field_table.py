"""The rule: every field a Runware client can send is honoured or refused by name, never dropped.

The SDK's own request dataclasses (runware 0.5.24, `types.py`) are walked, and a request built by
the SDK's own request builder with every field set is checked against the server's field table.
Then each refusal, each no-op value, the nested `inputs`, `lycoris`, `__BLANK__` and `ttl` through
POST /v1.
"""

import base64
import dataclasses
import io
import time

import pytest
import runware
from PIL import Image as PILImage
from runware import types

from tests.api.conftest import WS_DB
from tests.api.test_http import post, t2i, task_uuid
from tests.conftest import png_bytes
from webapp.api.protocol import field_table

# The SDK's client-side bookkeeping: never part of the request (a callback, and extra fields
# merged into the request by name).
SDK_ONLY = {"onPartialImages", "extraArgs"}
KNOWN = {**field_table.HONOURED, **field_table.REFUSED}


def test_every_field_of_the_sdks_image_inference_is_honoured_or_refused():
    names = {f.name for f in dataclasses.fields(types.IImageInference)} - SDK_ONLY
    assert "webhookURL" in names and "inputs" in names  # the walk sees the SDK's fields
    missing = sorted(n for n in names if n not in KNOWN)
    assert missing == []
    # checkNsfw is an InitVar the SDK turns into safety.checkContent; raw clients send checkNSFW.
    assert "checkNSFW" in KNOWN and "safety" in KNOWN


def test_every_nested_input_is_honoured_or_refused(alice, builtin_model):
    from webapp.studio.fields import InvalidRequest
    from webapp.studio.schema import NESTED_INPUTS, validate_inference

    for name in {f.name for f in dataclasses.fields(types.IInputs)}:
        if name in field_table.INPUTS_HONOURED:
            assert name in NESTED_INPUTS
            continue
        with pytest.raises(InvalidRequest) as caught:
            validate_inference({"positivePrompt": "a red circle", "inputs": {name: ["x"]}}, user=alice)
        named = {e.parameter for e in caught.value.errors}
        assert f"inputs.{name}" in named or NESTED_INPUTS.get(name) in named, name


def test_every_field_of_the_sdks_model_search_is_known():
    names = {f.name for f in dataclasses.fields(types.IModelSearch)} - {"additional_params"}
    assert sorted(n for n in names if n not in field_table.MODEL_SEARCH_HONOURED) == []


def _sample(field: dataclasses.Field):
    """A value that asks for something, for any field of IImageInference."""
    special = {
        "model": "stepwise:1@1", "positivePrompt": "a red circle", "deliveryMethod": "async",
        "outputType": "URL", "outputFormat": "PNG", "numberResults": 1,
    }
    if field.name in special:
        return special[field.name]
    return {"acceleratorOptions": types.IAcceleratorOptions(teaCache=True),
            "advancedFeatures": types.IAdvancedFeatures(layerDiffuse=True),
            "safety": types.ISafety(checkContent=True),
            "settings": {"clipSkip": 2},
            "inputs": {"seedImage": "x", "mask": "y", "referenceImages": ["z"]},
            "ultralytics": {"confidence": 0.5},
            "providerSettings": types.IOpenAIProviderSettings(quality="high"),
            "outpaint": {"top": 64},
            "refiner": {"model": "civitai:1@2", "startStep": 10},
            "instantID": {"inputImage": "x"},
            "photoMaker": {"style": "photo"},
            "acePlusPlus": {"taskType": "portrait"},
            "puLID": {"idWeight": 1},
            "lora": [types.ILora(model="civitai:1@2", weight=1.0)],
            "lycoris": [types.ILycoris(model="civitai:1@2", weight=1.0)],
            "embeddings": [{"model": "civitai:1@2"}],
            "ipAdapters": [{"model": "civitai:1@2", "guideImage": "x"}],
            "controlNet": [], "referenceImages": ["x"],
            "promptWeighting": "compel", "scheduler": "Euler", "vae": "civitai:1@2",
            }.get(field.name, _by_type(field))


def _by_type(field):
    text = str(field.type)
    if "bool" in text:
        return True
    if "float" in text:
        return 0.5
    if "int" in text:
        return 2
    return "https://example.com/x"


def test_a_request_the_sdk_builds_with_every_field_set_names_only_known_fields():
    values = {f.name: _sample(f) for f in dataclasses.fields(types.IImageInference)
              if f.name not in SDK_ONLY and f.init}
    request = types.IImageInference(**values)
    client = runware.Runware(api_key="unused")
    built = client._buildImageRequest(request, request.positivePrompt, [], {"inputImages": ["x"]},
                                      [{"model": "m"}], {"inputImages": []}, {"idWeight": 1}, {"style": "photo"})
    assert {"webhookURL", "uploadEndpoint", "ttl", "safety", "inputs", "lycoris", "settings"} <= set(built)
    assert sorted(k for k in built if k not in KNOWN) == []


# Through POST /v1 ----------------------------------------------------------------------------------


def errors_of(response):
    return {e["parameter"]: e for e in response.json().get("errors", [])}


REFUSALS = {
    "checkNSFW": True,
    "safety": {"checkContent": True, "mode": "blur"},
    "advancedFeatures": {"layerDiffuse": True},
    "acceleration": "high",
    "acceleratorOptions": {"teaCache": True, "teaCacheDistance": 0.5},
    "resolution": "1k",
    "settings": {"clipSkip": 1},
    "instantID": {"inputImages": ["x"]},
    "photoMaker": {"style": "photo"},
    "ultralytics": {"confidence": 0.5},
    "providerSettings": {"openai": {"quality": "high"}},
    "upscaleFactor": 2,
    "useCache": True,
}


@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_each_unsupported_feature_is_refused_by_name(client, alice_key, builtin_model, name):
    from webapp.studio.models import Job

    response = post(client, [t2i(**{name: REFUSALS[name]})], key=alice_key)
    errors = errors_of(response)
    expected = name
    assert errors[expected]["code"] == "unsupportedParameter", response.json()
    assert errors[expected]["documentation"].endswith("/docs/api/#fields")
    assert Job.objects.count() == 0


def test_a_content_check_is_refused_because_no_checker_is_installed(client, alice_key, builtin_model):
    error = errors_of(post(client, [t2i(checkNSFW=True)], key=alice_key))["checkNSFW"]
    assert "no content checker" in error["message"]


@WS_DB
@pytest.mark.parametrize("noop", [
    {"clipSkip": 0}, {"acceleration": "none"}, {"acceleratorOptions": {"teaCache": False, "deepCache": False}},
    {"safety": {"checkContent": False, "mode": "blur"}}, {"checkNSFW": False}, {"lora": []}, {"lycoris": []},
    {"advancedFeatures": {"layerDiffuse": False}}, {"settings": {}}, {"useCache": False},
])
def test_a_no_op_value_counts_as_absent(client, alice_key, builtin_model, noop):
    response = post(client, [t2i(deliveryMethod="async", **noop)], key=alice_key)
    assert "errors" not in response.json(), response.json()
    assert response.json()["data"][0]["status"] == "processing"


def test_an_unknown_field_is_refused_by_name(client, alice_key, builtin_model):
    from webapp.studio.models import Job

    response = post(client, [t2i(guidanceRescale=0.7, sharpness=2)], key=alice_key)
    errors = errors_of(response)
    assert errors["guidanceRescale"]["code"] == "unknownParameter" and "sharpness" in errors
    assert Job.objects.count() == 0
    search = post(client, [{"taskType": "modelSearch", "taskUUID": task_uuid(), "sort": "new"}], key=alice_key)
    assert errors_of(search)["sort"]["code"] == "unknownParameter"


def test_every_error_links_to_its_documentation(client, alice_key, builtin_model):
    error = errors_of(post(client, [t2i(steps=500)], key=alice_key))["steps"]
    assert error["documentation"] == "/docs/api/#fields"
    error = post(client, [{"taskType": "videoInference", "taskUUID": task_uuid()}], key=alice_key).json()["errors"][0]
    assert error["documentation"] == "/docs/api/#errors"


# Nested inputs, __BLANK__, ttl ------------------------------------------------------------------


def b64(data):
    return base64.b64encode(data).decode()


def test_nested_inputs_are_the_flat_fields(alice, builtin_model):
    from webapp.studio.schema import validate_inference

    seed = b64(png_bytes(128, 128))
    valid = validate_inference({"positivePrompt": "a red circle", "inputs": {"seedImage": seed}}, user=alice)
    assert valid.task_type == "imageToImage" and valid.seed_image is not None
    valid = validate_inference({"positivePrompt": "a red circle",
                                "inputs": {"seedImage": seed, "mask": b64(png_bytes(128, 128, (255, 255, 255)))}},
                               user=alice)
    assert valid.task_type == "inpainting" and valid.mask_image is not None


def test_nested_inputs_get_the_same_validation(client, alice_key, builtin_model):
    errors = errors_of(post(client, [t2i(inputs={"seedImage": "not an image"})], key=alice_key))
    assert errors["seedImage"]["code"] == "invalidSeedImage"
    seed = b64(png_bytes(128, 128))
    errors = errors_of(post(client, [t2i(seedImage=seed, inputs={"seedImage": seed})], key=alice_key))
    assert "twice" in errors["seedImage"]["message"]
    errors = errors_of(post(client, [t2i(inputs={"seedImage": seed, "referenceImages": [seed]})], key=alice_key))
    assert errors["referenceImages"]["code"] == "unsupportedParameter"
    errors = errors_of(post(client, [t2i(inputs={"image": seed})], key=alice_key))
    assert errors["inputs.image"]["code"] == "unsupportedParameter"


def test_the_blank_prompt_means_no_prompt(alice, builtin_model):
    from webapp.studio.schema import validate_inference

    valid = validate_inference({"positivePrompt": "__BLANK__", "negativePrompt": "__BLANK__"}, user=alice)
    assert valid.params["positivePrompt"] == "" and "negativePrompt" not in valid.params


@WS_DB
def test_ttl_limits_the_life_of_image_urls(client, alice_key, builtin_model, worker_threads, settings, monkeypatch):
    settings.STEPWISE_SIGNED_URL_SECONDS = 3600
    assert errors_of(post(client, [t2i(ttl=30)], key=alice_key))["ttl"]["code"] == "invalidTtl"
    assert errors_of(post(client, [t2i(ttl=7200)], key=alice_key))["ttl"]["code"] == "invalidTtl"
    short = post(client, [t2i(ttl=60)], key=alice_key).json()["data"][0]["imageURL"]
    long = post(client, [t2i()], key=alice_key).json()["data"][0]["imageURL"]
    anonymous = client.__class__()
    assert anonymous.get(short.removeprefix("http://testserver")).status_code == 200
    later = time.time() + 120
    monkeypatch.setattr("django.core.signing.time.time", lambda: later)
    assert anonymous.get(short.removeprefix("http://testserver")).status_code == 410
    response = anonymous.get(long.removeprefix("http://testserver"))
    assert response.status_code == 200
    assert PILImage.open(io.BytesIO(response.content)).format == "JPEG"


# modelSearch ------------------------------------------------------------------------------------


def test_model_search_tags_match_any_and_distilled_architectures(client, alice_key, builtin_model):
    from webapp.studio.models import ModelEntry

    ModelEntry.objects.create(air="civitai:7@8", name="Fast XL", architecture="sdxl_lightning", path="x")
    ModelEntry.objects.create(air="civitai:9@10", name="Turbo XL", architecture="sdxl_turbo", path="y")

    def search(**fields):
        response = post(client, [{"taskType": "modelSearch", "taskUUID": task_uuid(), **fields}], key=alice_key)
        return sorted(m["air"] for m in response.json()["data"][0]["results"])

    assert search(tags=["builtin", "sdxlturbo"]) == ["civitai:9@10", "stepwise:1@1"]
    assert search(architecture="sdxllightning") == ["civitai:7@8"]
    assert search(architecture="sdxlturbo") == ["civitai:9@10"]
    assert search(architecture="sdxl") == []
    assert search(conditioning="canny") == []



def test_variations_are_a_stepwise_extension_the_api_honours_or_refuses_by_name(client, alice_key, builtin_model):
    from webapp.studio.models import Job

    response = post(client, [t2i(deliveryMethod="async", seed=5, numberResults=2, variationSeed=70,
                                 variationStrength=0.2)], key=alice_key)
    assert response.status_code == 200, response.json()
    params = Job.objects.latest("queued_at").params
    assert (params["seed"], params["variationSeed"], params["variationStrength"]) == (5, 70, 0.2)
    errors = errors_of(post(client, [t2i(variationSeed=70)], key=alice_key))
    assert "no effect without a variationStrength" in errors["variationSeed"]["message"]
    assert "variationStrength" in errors_of(post(client, [t2i(variationStrength=2)], key=alice_key))
