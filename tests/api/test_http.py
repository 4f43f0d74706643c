"""POST /v1 with the Django test client: auth, errors, sync and async imageInference, files."""

import base64
import io
import uuid

import pytest
from PIL import Image as PILImage

from tests.api.conftest import WS_DB
from tests.conftest import png_bytes


def task_uuid():
    return str(uuid.uuid4())


def post(client, tasks, key=None, **headers):
    if key:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return client.post("/v1", data=tasks if isinstance(tasks, str) else __import__("json").dumps(tasks),
                       content_type="application/json", **headers)


def t2i(**fields):
    return {"taskType": "imageInference", "taskUUID": task_uuid(), "model": "stepwise:1@1",
            "positivePrompt": "a lighthouse at dusk", "width": 128, "height": 128, "steps": 4, **fields}


def test_it_needs_an_api_key(client, db):
    response = post(client, [{"taskType": "modelSearch", "taskUUID": task_uuid()}])
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "missingApiKey"


def test_it_refuses_a_bad_bearer_key(client, alice_key):
    response = post(client, [{"taskType": "ping", "ping": True}], key="sw_wrong" + alice_key[8:])
    assert response.status_code == 401
    error = response.json()["errors"][0]
    assert error["code"] == "invalidApiKey" and error["parameter"] == "apiKey" and error["taskType"] == "authentication"


def test_it_refuses_a_revoked_key(client, alice, alice_key):
    from webapp.api.models import ApiKey
    from webapp.api.services import api_key_revoke

    api_key_revoke(key=ApiKey.objects.get(user=alice))
    response = post(client, [{"taskType": "modelSearch", "taskUUID": task_uuid()}], key=alice_key)
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "invalidApiKey"


def test_it_accepts_an_authentication_object_first(client, alice_key, builtin_model):
    tid = task_uuid()
    response = post(client, [{"taskType": "authentication", "apiKey": alice_key},
                             {"taskType": "modelSearch", "taskUUID": tid}])
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body
    assert body["data"][0]["taskUUID"] == tid and body["data"][0]["results"][0]["air"] == "stepwise:1@1"


def test_it_records_when_a_key_was_last_used(client, alice, alice_key, db):
    from webapp.api.models import ApiKey

    assert ApiKey.objects.get(user=alice).last_used_at is None
    post(client, [{"taskType": "ping", "ping": True}], key=alice_key)
    assert ApiKey.objects.get(user=alice).last_used_at is not None


@pytest.mark.parametrize("body, code", [
    ("[{", "invalidJSON"),
    ('{"taskType": "ping"}', "invalidRequestBody"),
    ("[]", "invalidRequestBody"),
    ("\"hello\"", "invalidRequestBody"),
])
def test_it_reports_malformed_bodies(client, alice_key, body, code):
    response = post(client, body, key=alice_key)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == code


def test_a_get_is_refused(client, db):
    response = client.get("/v1")
    assert response.status_code == 405
    assert response.json()["errors"][0]["code"] == "methodNotAllowed"


def test_it_reports_each_bad_field_and_stores_nothing(client, alice_key, builtin_model):
    from webapp.studio.models import Job, Upload

    tid = task_uuid()
    response = post(client, [t2i(taskUUID=tid, width=100, CFGScale="loud", lora=[{"model": "x:1@1", "weight": 1}],
                                 seedImage="data:image/png;base64,AAAA", scheduler="Nope")], key=alice_key)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert {e["taskUUID"] for e in errors} == {tid}
    assert {e["taskType"] for e in errors} == {"imageInference"}
    by_parameter = {e["parameter"]: e for e in errors}
    assert {"width", "CFGScale", "lora", "seedImage", "scheduler"} <= set(by_parameter)
    assert by_parameter["lora"]["code"] == "invalidLora"
    assert by_parameter["scheduler"]["code"] == "invalidScheduler"
    assert by_parameter["CFGScale"]["type"] == "float"
    assert by_parameter["CFGScale"]["message"].startswith("CFGScale ")  # the API keeps its field names
    assert Job.objects.count() == 0 and Upload.objects.count() == 0


def test_it_names_an_unknown_model(client, alice_key, builtin_model):
    response = post(client, [t2i(model="civitai:1@2")], key=alice_key)
    error = response.json()["errors"][0]
    assert error["code"] == "invalidModel" and error["parameter"] == "model"


def test_it_accepts_the_sdks_empty_defaults_and_refuses_unknown_fields(client, alice_key, builtin_model):
    response = post(client, [t2i(deliveryMethod="async", lora=[], controlNet=[], embeddings=[], ttl=60)],
                    key=alice_key)
    assert response.status_code == 200, response.json()
    assert response.json()["data"][0]["status"] == "processing"
    response = post(client, [t2i(somethingNew={"a": 1})], key=alice_key)
    error = response.json()["errors"][0]
    assert error["code"] == "unknownParameter" and error["parameter"] == "somethingNew"


def test_a_missing_task_uuid_is_an_error(client, alice_key, builtin_model):
    task = t2i()
    del task["taskUUID"]
    response = post(client, [task], key=alice_key)
    assert response.json()["errors"][0]["code"] == "missingTaskUUID"


@WS_DB
def test_sync_inference_waits_and_returns_every_image(client, alice, alice_key, builtin_model, worker_threads,
                                                     settings):
    settings.STEPWISE_GPU_HOUR_PRICE = 3.6
    settings.ALLOWED_HOSTS = ["studio.example"]
    tid = task_uuid()
    response = post(client, [t2i(taskUUID=tid, numberResults=3, seed=10, includeCost=True, outputFormat="PNG")],
                    key=alice_key, HTTP_HOST="studio.example:8000")
    assert response.status_code == 200, response.json()
    items = response.json()["data"]
    assert [i["seed"] for i in items] == [10, 11, 12]
    assert {i["taskUUID"] for i in items} == {tid}
    assert all(i["imageURL"].startswith("http://studio.example:8000/files/signed/") for i in items)
    from webapp.studio.models import Job

    job = Job.objects.get(api_task_uuid=tid)
    assert job.owner == alice and job.origin == "api" and job.status == "succeeded"
    # The costs of a request add up to its GPU seconds at the admin's price.
    assert sum(i["cost"] for i in items) == pytest.approx(job.gpu_seconds / 3600 * 3.6, abs=1e-6)
    # The URL needs no session, and serves the requested format.
    path = items[0]["imageURL"].removeprefix("http://studio.example:8000")
    anonymous = client.__class__()
    image = anonymous.get(path, HTTP_HOST="studio.example:8000")
    assert image.status_code == 200
    assert PILImage.open(io.BytesIO(b"".join(image.streaming_content))).format == "PNG"
    # And the images are in the owner's gallery like any other.
    from webapp.studio import access

    assert access.images_visible_to(alice).filter(job=job).count() == 3


@WS_DB
def test_a_failed_job_comes_back_as_an_error(client, alice_key, builtin_model, worker_threads, fake_engine):
    fake_engine.fail_with = RuntimeError("boom")
    tid = task_uuid()
    response = post(client, [t2i(taskUUID=tid), {"taskType": "ping", "ping": True}], key=alice_key)
    body = response.json()
    assert response.status_code == 200  # the ping succeeded
    assert body["data"] == [{"taskType": "ping", "pong": True}]
    assert body["errors"][0]["taskUUID"] == tid and body["errors"][0]["code"] == "inferenceFailed"


@WS_DB
def test_sync_inference_gives_up_after_the_timeout(client, alice_key, builtin_model, settings):
    settings.STEPWISE_API_SYNC_TIMEOUT = 0.3
    tid = task_uuid()
    response = post(client, [t2i(taskUUID=tid)], key=alice_key)
    error = response.json()["errors"][0]
    assert error["code"] == "timeout" and error["taskUUID"] == tid
    # Still queued: the client can poll it.
    response = post(client, [{"taskType": "getResponse", "taskUUID": tid}], key=alice_key)
    assert response.json()["data"] == [{"taskType": "imageInference", "taskUUID": tid, "status": "processing"}]


@WS_DB
def test_async_over_http_then_get_response(client, alice_key, builtin_model, worker_threads):
    tid = task_uuid()
    response = post(client, [t2i(taskUUID=tid, deliveryMethod="async", outputType="base64Data",
                                 numberResults=2)], key=alice_key)
    assert response.json() == {"data": [{"taskType": "imageInference", "taskUUID": tid, "status": "processing"}]}
    for thread in worker_threads:
        thread.join(30)
    items = post(client, [{"taskType": "getResponse", "taskUUID": tid}], key=alice_key).json()["data"]
    assert [i["status"] for i in items] == ["success", "success"]
    image = PILImage.open(io.BytesIO(base64.b64decode(items[0]["imageBase64Data"])))
    assert image.format == "JPEG" and image.size == (128, 128)


def test_image_upload_returns_a_uuid_and_a_signed_url(client, alice, alice_key, db):
    from webapp.studio.models import Upload

    tid = task_uuid()
    response = post(client, [{"taskType": "imageUpload", "taskUUID": tid,
                              "image": base64.b64encode(png_bytes(96, 80)).decode()}], key=alice_key)
    item = response.json()["data"][0]
    upload = Upload.objects.get(id=item["imageUUID"])
    assert upload.owner == alice and (upload.width, upload.height) == (96, 80)
    path = item["imageURL"].removeprefix("http://testserver")
    served = client.__class__().get(path)
    assert served.status_code == 200
    assert PILImage.open(io.BytesIO(b"".join(served.streaming_content))).size == (96, 80)
    assert client.__class__().get(path.replace("/uploads/", "/uploads/x")).status_code == 404


def test_image_upload_refuses_what_is_not_an_image(client, alice_key, db):
    tid = task_uuid()
    response = post(client, [{"taskType": "imageUpload", "taskUUID": tid, "image": "bm90IGFuIGltYWdl"}],
                    key=alice_key)
    error = response.json()["errors"][0]
    assert error["code"] == "invalidImage" and error["parameter"] == "image" and error["taskUUID"] == tid


def test_an_upload_is_only_usable_by_its_owner(client, alice_key, charlie_key, builtin_model):
    upload = post(client, [{"taskType": "imageUpload", "taskUUID": task_uuid(),
                            "image": base64.b64encode(png_bytes(128, 128)).decode()}],
                  key=alice_key).json()["data"][0]
    response = post(client, [t2i(seedImage=upload["imageUUID"], deliveryMethod="async")], key=charlie_key)
    error = response.json()["errors"][0]
    assert error["code"] == "invalidSeedImage" and error["parameter"] == "seedImage"


def test_a_url_seed_image_is_refused_unless_fetching_is_enabled(client, alice_key, builtin_model):
    response = post(client, [t2i(seedImage="https://example.com/cat.png")], key=alice_key)
    error = response.json()["errors"][0]
    assert error["parameter"] == "seedImage" and "disabled" in error["message"]


def test_model_search_filters_and_respects_team_visibility(client, alice_key, charlie_key, builtin_model):
    from webapp.studio.models import ModelEntry, Team

    private = ModelEntry.objects.create(air="civitai:5@6", name="Studio A house style", architecture="sdxl",
                                        path="/models/a.safetensors")
    private.teams.add(Team.objects.get(name="Studio A"))
    ModelEntry.objects.create(air="civitai:7@8", name="Switched off", architecture="sd15", path="/x", enabled=False)

    def search(key, **filters):
        return post(client, [{"taskType": "modelSearch", "taskUUID": task_uuid(), **filters}], key=key).json()

    assert {r["air"] for r in search(alice_key)["data"][0]["results"]} == {"stepwise:1@1", "civitai:5@6"}
    assert {r["air"] for r in search(charlie_key)["data"][0]["results"]} == {"stepwise:1@1"}
    sdxl = search(alice_key, architecture="sdxl")["data"][0]
    assert sdxl["totalResults"] == 1 and sdxl["results"][0]["private"] is True
    assert search(alice_key, visibility="public")["data"][0]["totalResults"] == 1
    assert search(alice_key, category="lora")["data"][0]["totalResults"] == 0
    page = search(alice_key, limit=1, offset=1)["data"][0]
    assert page["totalResults"] == 2 and len(page["results"]) == 1
    assert search(alice_key, limit=500)["errors"][0]["parameter"] == "limit"
