"""The second passes through the API: the SDXL `refiner` (Runware's field, as the unmodified SDK
builds it) and the Stepwise extensions `hiresFix` (text-to-image) and `upscale` (image-to-image).
Validated by the one schema; every refusal names its field; the job's step total is both passes'."""

import base64

import pytest
import runware
from runware import IImageInference, IRefiner

from tests.api.test_http import post, t2i, task_uuid
from tests.conftest import png_bytes
from webapp.studio.models import Job, ModelEntry


@pytest.fixture
def sdxl(builtin_model):
    """An SDXL base and refiner (no files: the validator only reads the catalog), an SD 1.5 model."""
    return {
        "base": ModelEntry.objects.create(air="local:xl-base@1", name="XL base", architecture="sdxl", path="/m/b"),
        "refiner": ModelEntry.objects.create(air="local:xl-refiner@1", name="XL refiner", architecture="sdxl",
                                             path="/m/r"),
        "sd15": ModelEntry.objects.create(air="local:sd15@1", name="SD 1.5 model", architecture="sd15", path="/m/s"),
        "lora": ModelEntry.objects.create(air="local:xl-lora@1", name="XL LoRA", kind="lora", architecture="sdxl",
                                          path="/m/l.safetensors"),
    }


def xl(**fields):
    return t2i(**{"model": "local:xl-base@1", "width": 1024, "height": 1024, "steps": 30, "scheduler": "Euler",
                  "deliveryMethod": "async", **fields})


def errors_of(response):
    return {e["parameter"]: e for e in response.json().get("errors", [])}


# -- Refiner ------------------------------------------------------------------------------------


def test_the_unmodified_sdk_s_refiner_is_accepted_and_splits_the_steps(client, alice_key, sdxl):
    # The request exactly as the official SDK's own builder puts IRefiner on the wire.
    request = IImageInference(positivePrompt="a lighthouse at dusk", model="local:xl-base@1", width=1024,
                              height=1024, steps=30, scheduler="Euler", deliveryMethod="async",
                              refiner=IRefiner(model="local:xl-refiner@1", startStep=24))
    built = runware.Runware(api_key="unused")._buildImageRequest(request, request.positivePrompt, None, None, None,
                                                                 None, None, None)
    assert built["refiner"] == {"model": "local:xl-refiner@1", "startStep": 24}
    response = post(client, [{**built, "taskType": "imageInference", "taskUUID": task_uuid()}], key=alice_key)
    assert response.status_code == 200, response.json()
    job = Job.objects.get()
    assert job.params["refiner"] == {"model": "local:xl-refiner@1", "startStep": 24}
    assert job.total_steps == 30  # 24 base + 6 refiner, one counter


def test_a_start_percentage_becomes_a_start_step(client, alice_key, sdxl):
    response = post(client, [xl(refiner={"model": "local:xl-refiner@1", "startStepPercentage": 80})], key=alice_key)
    assert response.status_code == 200, response.json()
    assert Job.objects.get().params["refiner"] == {"model": "local:xl-refiner@1", "startStep": 24,
                                                   "startStepPercentage": 80.0}


@pytest.mark.parametrize(("refiner", "fields", "parameter", "words"), [
    ({"model": "local:sd15@1", "startStep": 20}, {}, "refiner.model", "must be an SDXL model"),
    ({"model": "local:nope@1", "startStep": 20}, {}, "refiner.model", "Unknown refiner model"),
    ({"model": "local:xl-lora@1", "startStep": 20}, {}, "refiner.model", "Unknown refiner model"),
    ({"model": "not an air", "startStep": 20}, {}, "refiner.model", "AIR id"),
    ({"model": "local:xl-refiner@1", "startStep": 30}, {}, "refiner.startStep", "between 1 and 29"),
    ({"model": "local:xl-refiner@1", "startStep": 0}, {}, "refiner.startStep", "between 1 and 29"),
    ({"model": "local:xl-refiner@1"}, {}, "refiner.startStep", "one of startStep or startStepPercentage"),
    ({"model": "local:xl-refiner@1", "startStep": 20, "startStepPercentage": 50}, {}, "refiner.startStep", "one of"),
    ({"model": "local:xl-refiner@1", "startStepPercentage": 1}, {}, "refiner.startStepPercentage", "no step"),
    ({"model": "local:xl-refiner@1", "startStepPercentage": 120}, {}, "refiner.startStepPercentage", "between"),
    ({"model": "local:xl-refiner@1", "startStep": 20, "aesthetic": 6}, {}, "refiner", "unsupported keys"),
    ({"model": "local:xl-refiner@1", "startStep": 20}, {"scheduler": "Heun"}, "refiner", "first-order"),
    ({"model": "local:xl-refiner@1", "startStep": 20}, {"promptWeighting": "compel"}, "refiner", "plain text"),
    ("local:xl-refiner@1", {}, "refiner", "must be an object"),
])
def test_each_refiner_error_names_its_field(client, alice_key, sdxl, refiner, fields, parameter, words):
    response = post(client, [xl(refiner=refiner, **fields)], key=alice_key)
    errors = errors_of(response)
    assert parameter in errors, response.json()
    assert words in errors[parameter]["message"]
    assert Job.objects.count() == 0


def test_the_refiner_follows_sdxl_text_to_image_only(client, alice_key, sdxl):
    errors = errors_of(post(client, [t2i(refiner={"model": "local:xl-refiner@1", "startStep": 2})], key=alice_key))
    assert errors["refiner"]["code"] == "incompatibleArchitecture" and "SD 1.5" in errors["refiner"]["message"]
    seed = base64.b64encode(png_bytes(1024, 1024)).decode()
    errors = errors_of(post(client, [xl(seedImage=seed, strength=0.5, refiner={"model": "local:xl-refiner@1",
                                                                                "startStep": 20})], key=alice_key))
    assert "text-to-image only" in errors["refiner"]["message"]


def test_a_refiner_that_asks_for_nothing_counts_as_absent(client, alice_key, sdxl):
    response = post(client, [xl(refiner={"model": None, "startStep": None})], key=alice_key)
    assert response.status_code == 200, response.json()
    assert "refiner" not in Job.objects.get().params


# -- Hires fix ----------------------------------------------------------------------------------


def test_the_hires_fix_is_validated_stored_and_counted(client, alice_key, builtin_model):
    response = post(client, [t2i(steps=30, width=512, height=512, deliveryMethod="async",
                                 hiresFix={"upscale": 2, "strength": 0.5, "steps": 20})], key=alice_key)
    assert response.status_code == 200, response.json()
    job = Job.objects.get()
    assert job.params["hiresFix"] == {"upscale": 2.0, "strength": 0.5, "steps": 20}
    assert job.total_steps == 30 + 10  # the second pass: 20 x 0.5


def test_the_hires_fix_defaults_to_half_strength_and_the_job_s_steps(client, alice_key, builtin_model):
    response = post(client, [t2i(steps=20, deliveryMethod="async", hiresFix={"upscale": 1.5})], key=alice_key)
    assert response.status_code == 200, response.json()
    job = Job.objects.get()
    assert job.params["hiresFix"] == {"upscale": 1.5, "strength": 0.5, "steps": 20}
    assert job.total_steps == 30


@pytest.mark.parametrize(("hires", "fields", "parameter", "words"), [
    ({"upscale": 3}, {}, "hiresFix.upscale", "must be 1.5 or 2"),
    ({"strength": 0.5}, {}, "hiresFix.upscale", "must be 1.5 or 2"),
    ({"upscale": 2, "strength": 1.5}, {}, "hiresFix.strength", "between"),
    ({"upscale": 2, "steps": 0}, {}, "hiresFix.steps", "between 1 and 100"),
    ({"upscale": 2, "strength": 0.05, "steps": 10}, {}, "hiresFix.strength", "no denoising step"),
    ({"upscale": 2}, {"width": 1536, "height": 512}, "hiresFix.upscale", "at most 2048x2048"),
    ({"upscale": 2, "denoiser": "x"}, {}, "hiresFix", "unsupported keys"),
    (True, {}, "hiresFix", "must be an object"),
])
def test_each_hires_fix_error_names_its_field(client, alice_key, builtin_model, hires, fields, parameter, words):
    response = post(client, [t2i(deliveryMethod="async", hiresFix=hires, **fields)], key=alice_key)
    errors = errors_of(response)
    assert parameter in errors, response.json()
    assert words in errors[parameter]["message"]
    assert Job.objects.count() == 0


def test_the_hires_fix_respects_the_server_s_pixel_limit(client, alice_key, builtin_model, settings):
    settings.STEPWISE_MAX_IMAGE_PIXELS = 1000 * 1000
    errors = errors_of(post(client, [t2i(width=768, height=768, hiresFix={"upscale": 1.5})], key=alice_key))
    assert "1152x1152" in errors["hiresFix.upscale"]["message"]


# -- Upscale (image-to-image) ---------------------------------------------------------------------


def test_upscale_makes_the_result_the_source_s_size_times_the_factor(client, alice_key, builtin_model):
    seed = base64.b64encode(png_bytes(300, 200)).decode()
    response = post(client, [t2i(width=None, height=None, seedImage=seed, upscale=2, deliveryMethod="async")],
                    key=alice_key)
    assert response.status_code == 200, response.json()
    job = Job.objects.get()
    assert (job.params["width"], job.params["height"], job.params["upscale"]) == (600, 400, 2.0)
    assert job.params["strength"] == 0.3  # the upscale's default: keep the image, sharpen it
    assert job.total_steps == int(4 * 0.3)


@pytest.mark.parametrize(("fields", "parameter", "words"), [
    ({"upscale": 2, "width": 512, "height": 512}, "width", "upscaled size 600x400"),
    ({"upscale": 4}, "upscale", "must be 1.5 or 2"),
    ({"upscale": 2, "seedImage": "BIG"}, "upscale", "at most 2048x2048"),
])
def test_each_upscale_error_names_its_field(client, alice_key, builtin_model, fields, parameter, words):
    seed = base64.b64encode(png_bytes(1200, 800) if fields.get("seedImage") == "BIG" else png_bytes(300, 200)).decode()
    payload = t2i(**{"width": None, "height": None, **fields, "seedImage": seed})
    errors = errors_of(post(client, [{k: v for k, v in payload.items() if v is not None}], key=alice_key))
    assert parameter in errors, errors
    assert words in errors[parameter]["message"]


def test_upscale_applies_to_image_to_image_only(client, alice_key, builtin_model):
    errors = errors_of(post(client, [t2i(upscale=2)], key=alice_key))
    assert "hiresFix" in errors["upscale"]["message"]


# -- Through the real job runner (the fake engine counts like the real one) ---------------------


@pytest.mark.django_db(transaction=True, databases="__all__")
async def test_a_hires_job_reports_one_step_counter_and_delivers_the_upscaled_image(alice_key, builtin_model,
                                                                                     run_job, fake_engine):
    from PIL import Image as PILImage

    from tests.api.test_ws_protocol import auth, connect, job_for, receive_until, settle
    from tests.api.test_ws_protocol import t2i as ws_t2i

    communicator = await connect()
    await auth(communicator, alice_key)
    tid = task_uuid()
    await communicator.send_json_to([ws_t2i(taskUUID=tid, steps=6, width=128, height=128, includeProgress=True,
                                            outputType="base64Data", outputFormat="PNG",
                                            hiresFix={"upscale": 2, "strength": 0.5, "steps": 8})])
    await settle(communicator)
    job = await job_for(tid)
    await run_job(job.id)
    messages = await receive_until(communicator, lambda m: m.get("data", [{}])[0].get("imageUUID"))
    progress = [item for m in messages for item in m["data"] if item["taskType"] == "imageInferenceProgress"]
    assert [p["step"] for p in progress] == list(range(1, 11))  # 6 base + 8 x 0.5 hires, no gap
    assert {p["totalSteps"] for p in progress} == {10}
    result = messages[-1]["data"][0]
    assert PILImage.open(__import__("io").BytesIO(base64.b64decode(result["imageBase64Data"]))).size == (256, 256)
    (inp,) = fake_engine.generated
    assert (inp.hires.upscale, inp.hires.steps, inp.hires.strength) == (2.0, 8, 0.5)
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_refiner_job_gets_its_refiner_and_fails_cleanly_when_it_left_the_catalog(client, alice_key, sdxl,
                                                                                    fake_engine):
    from tests.api.conftest import _process

    for _ in range(2):
        assert post(client, [xl(refiner={"model": "local:xl-refiner@1", "startStep": 24})],
                    key=alice_key).status_code == 200
    first, second = Job.objects.order_by("queued_at")
    _process(first.id, fake_engine)
    first.refresh_from_db()
    assert (first.status, first.step, first.total_steps) == ("succeeded", 30, 30)
    (inp,) = fake_engine.generated
    assert (inp.refiner.source.air, inp.refiner.source.architecture, inp.refiner.start_step) == \
        ("local:xl-refiner@1", "sdxl", 24)
    sdxl["refiner"].delete()
    _process(second.id, fake_engine)
    second.refresh_from_db()
    assert second.status == "failed" and "local:xl-refiner@1 is no longer in the catalog" in second.error
