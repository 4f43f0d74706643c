"""The websocket protocol (/v1) with channels' WebsocketCommunicator and the real job runner."""

import asyncio
import base64
import io
import uuid

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from PIL import Image as PILImage

from tests.api.conftest import WS_DB
from tests.conftest import png_bytes

pytestmark = [WS_DB]


def task_uuid():
    return str(uuid.uuid4())


async def connect(path="/v1"):
    from webapp.asgi import application

    communicator = WebsocketCommunicator(application, path, headers=[(b"host", b"testserver")])
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def auth(communicator, key, **extra):
    await communicator.send_json_to([{"taskType": "authentication", "apiKey": key, **extra}])
    return await communicator.receive_json_from(timeout=5)


async def settle(communicator):
    """Wait until the consumer has handled everything sent so far (it handles messages in order)."""
    await communicator.send_json_to([{"taskType": "ping", "ping": True}])
    assert (await communicator.receive_json_from(timeout=10))["data"][0]["pong"] is True


async def receive_until(communicator, predicate, timeout=10, limit=200):
    """Messages up to and including the first for which predicate(message) is true."""
    seen = []
    for _ in range(limit):
        message = await communicator.receive_json_from(timeout=timeout)
        seen.append(message)
        if predicate(message):
            return seen
    raise AssertionError(f"predicate never true in {seen}")


def t2i(**fields):
    return {"taskType": "imageInference", "taskUUID": task_uuid(), "model": "stepwise:1@1",
            "positivePrompt": "a lighthouse at dusk", "width": 128, "height": 128, "steps": 4, **fields}


async def job_for(task_uuid_, timeout=10):
    """The job the socket made for this task (the consumer handles messages on its own time)."""
    from webapp.studio.models import Job

    for _ in range(int(timeout / 0.05)):
        job = await database_sync_to_async(Job.objects.filter(api_task_uuid=task_uuid_).first)()
        if job is not None:
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"no job for task {task_uuid_}")


async def test_it_authenticates_and_answers_ping(alice_key, builtin_model):
    communicator = await connect()
    reply = await auth(communicator, alice_key)
    assert reply["data"][0]["taskType"] == "authentication"
    session_id = reply["data"][0]["connectionSessionUUID"]
    uuid.UUID(session_id)
    await communicator.send_json_to([{"taskType": "ping", "ping": True}])
    assert await communicator.receive_json_from() == {"data": [{"taskType": "ping", "pong": True}]}
    await communicator.disconnect()


async def test_it_refuses_a_bad_key(alice_key, builtin_model):
    communicator = await connect()
    reply = await auth(communicator, "sw_not-a-real-key-at-all-000000000000")
    assert reply == {"errors": [{"code": "invalidApiKey", "message": reply["errors"][0]["message"],
                                 "parameter": "apiKey", "type": "string", "taskType": "authentication",
                                 "documentation": "/docs/api/#errors"}]}
    # Still not authenticated: a task is refused, naming the missing authentication.
    tid = task_uuid()
    await communicator.send_json_to([t2i(taskUUID=tid)])
    reply = await communicator.receive_json_from()
    assert reply["errors"][0]["code"] == "missingApiKey"
    assert reply["errors"][0]["taskUUID"] == tid
    await communicator.disconnect()


async def test_it_refuses_a_revoked_key(alice, alice_key, builtin_model):
    from webapp.api.models import ApiKey
    from webapp.api.services import api_key_revoke

    key = await database_sync_to_async(ApiKey.objects.get)(user=alice)
    await database_sync_to_async(api_key_revoke)(key=key)
    communicator = await connect()
    reply = await auth(communicator, alice_key)
    assert reply["errors"][0]["code"] == "invalidApiKey"
    await communicator.disconnect()


async def test_it_reports_malformed_json_non_arrays_and_unknown_tasks(alice_key, builtin_model):
    communicator = await connect()
    await communicator.send_to(text_data="[{not json")
    reply = await communicator.receive_json_from()
    assert reply["errors"][0]["code"] == "invalidJSON"
    await communicator.send_json_to({"taskType": "ping"})
    reply = await communicator.receive_json_from()
    assert reply["errors"][0]["code"] == "invalidRequestBody"
    await auth(communicator, alice_key)
    tid = task_uuid()
    await communicator.send_json_to([{"taskType": "videoInference", "taskUUID": tid}])
    reply = await communicator.receive_json_from()
    assert reply["errors"][0]["code"] == "unsupportedTaskType"
    assert reply["errors"][0]["taskUUID"] == tid
    assert reply["errors"][0]["taskType"] == "videoInference"
    await communicator.disconnect()


async def test_it_generates_one_result_per_image_as_each_is_done(alice, alice_key, builtin_model, run_job):
    communicator = await connect()
    await auth(communicator, alice_key)
    tid = task_uuid()
    await communicator.send_json_to([t2i(taskUUID=tid, numberResults=2, seed=77, includeCost=True)])
    assert await communicator.receive_nothing(timeout=0.3)
    job = await job_for(tid)
    assert job.owner_id == alice.id and job.origin == "api"
    await run_job(job.id)
    first = await communicator.receive_json_from(timeout=10)
    second = await communicator.receive_json_from(timeout=10)
    items = [first["data"][0], second["data"][0]]
    assert [len(first["data"]), len(second["data"])] == [1, 1]
    assert {i["taskUUID"] for i in items} == {tid}
    assert {i["taskType"] for i in items} == {"imageInference"}
    assert [i["seed"] for i in items] == [77, 78]
    assert all(i["imageURL"].startswith("http://testserver/files/signed/") for i in items)
    assert all(isinstance(i["cost"], float) for i in items)
    assert all("imageBase64Data" not in i and "status" not in i for i in items)
    # Nothing more: no progress events for a client that did not ask for them.
    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()


async def test_it_sends_progress_only_when_asked_with_the_effective_step_count(
        alice_key, builtin_model, run_job):
    communicator = await connect()
    await auth(communicator, alice_key)
    upload = base64.b64encode(png_bytes(128, 128)).decode()
    tid = task_uuid()
    # Image to image: 8 steps at strength 0.5 run 4.
    await communicator.send_json_to([t2i(taskUUID=tid, steps=8, seedImage=upload, strength=0.5,
                                         includeProgress=True)])
    await settle(communicator)
    job = await job_for(tid)
    await run_job(job.id)
    messages = await receive_until(communicator, lambda m: m.get("data", [{}])[0].get("imageUUID"))
    progress = [item for m in messages for item in m["data"] if item["taskType"] == "imageInferenceProgress"]
    assert [p["step"] for p in progress] == [1, 2, 3, 4]
    assert {p["totalSteps"] for p in progress} == {4}
    assert {p["taskUUID"] for p in progress} == {tid}
    assert all("previewDataURI" not in p for p in progress)
    await communicator.disconnect()


async def test_it_adds_previews_only_with_include_previews(alice_key, builtin_model, run_job):
    communicator = await connect()
    await auth(communicator, alice_key)
    tid = task_uuid()
    await communicator.send_json_to([t2i(taskUUID=tid, includeProgress=True, includePreviews=True)])
    await settle(communicator)
    job = await job_for(tid)
    await run_job(job.id)
    messages = await receive_until(communicator, lambda m: m.get("data", [{}])[0].get("imageUUID"))
    progress = [item for m in messages for item in m["data"] if item["taskType"] == "imageInferenceProgress"]
    assert len(progress) == 4
    assert any(p.get("previewDataURI", "").startswith("data:image/jpeg;base64,") for p in progress)
    await communicator.disconnect()


async def test_one_progress_event_of_several_steps_becomes_one_item_per_step(alice_key, builtin_model):
    """The worker sends the steps since its last delivery in one event; a client still gets every
    step as its own item (in one message), with the preview on the newest."""
    from webapp.studio import events

    communicator = await connect()
    await auth(communicator, alice_key)
    tid = task_uuid()
    await communicator.send_json_to([t2i(taskUUID=tid, steps=8, includeProgress=True, includePreviews=True)])
    await settle(communicator)
    job = await job_for(tid)
    await database_sync_to_async(events.send)(events.job_group(job.id), events.progress_message(
        job.id, steps=[3, 4, 5], total_steps=8, image_index=0, images_done=0,
        phase_info={"name": "Forms", "description": ""}, preview_data_uri="data:image/jpeg;base64,AAAA"))
    message = await communicator.receive_json_from(timeout=5)
    assert [(item["taskType"], item["step"], item["totalSteps"]) for item in message["data"]] == [
        ("imageInferenceProgress", 3, 8), ("imageInferenceProgress", 4, 8), ("imageInferenceProgress", 5, 8)]
    assert [item.get("previewDataURI") for item in message["data"]] == [None, None, "data:image/jpeg;base64,AAAA"]
    await communicator.disconnect()


async def test_it_reports_a_failed_job_as_an_error_for_its_task(alice_key, builtin_model, run_job, fake_engine):
    communicator = await connect()
    await auth(communicator, alice_key)
    fake_engine.fail_with = RuntimeError("the GPU caught fire")
    tid = task_uuid()
    await communicator.send_json_to([t2i(taskUUID=tid)])
    job = await job_for(tid)
    await run_job(job.id)
    reply = await communicator.receive_json_from(timeout=10)
    error = reply["errors"][0]
    assert error["code"] == "inferenceFailed"
    assert error["taskUUID"] == tid and error["taskType"] == "imageInference"
    assert "the GPU caught fire" in error["message"]
    await communicator.disconnect()


async def test_one_bad_task_does_not_fail_the_others(alice_key, builtin_model, run_job):
    communicator = await connect()
    await auth(communicator, alice_key)
    good, bad = task_uuid(), task_uuid()
    await communicator.send_json_to([t2i(taskUUID=bad, steps=500), {"taskType": "ping", "ping": True},
                                     t2i(taskUUID=good)])
    first = await communicator.receive_json_from()
    assert first["errors"][0]["taskUUID"] == bad
    assert first["errors"][0]["parameter"] == "steps"
    assert first["errors"][0]["code"] == "invalidSteps"
    assert first["errors"][0]["type"] == "integer"
    assert (await communicator.receive_json_from())["data"][0]["pong"] is True
    job = await job_for(good)
    await run_job(job.id)
    reply = await communicator.receive_json_from(timeout=10)
    assert reply["data"][0]["taskUUID"] == good
    from webapp.studio.models import Job
    assert await database_sync_to_async(Job.objects.count)() == 1  # nothing stored for the bad task
    await communicator.disconnect()


async def test_it_returns_every_output_type(alice_key, builtin_model, run_job):
    communicator = await connect()
    await auth(communicator, alice_key)
    tid = task_uuid()
    await communicator.send_json_to([t2i(taskUUID=tid, outputType=["URL", "base64Data", "dataURI"],
                                         outputFormat="WEBP", outputQuality=80)])
    job = await job_for(tid)
    await run_job(job.id)
    item = (await communicator.receive_json_from(timeout=10))["data"][0]
    assert item["imageURL"].endswith(".webp")
    assert item["imageDataURI"].startswith("data:image/webp;base64,")
    image = PILImage.open(io.BytesIO(base64.b64decode(item["imageBase64Data"])))
    assert image.format == "WEBP" and image.size == (128, 128)
    await communicator.disconnect()


async def test_it_refuses_a_reused_task_uuid(alice_key, builtin_model):
    communicator = await connect()
    await auth(communicator, alice_key)
    tid = task_uuid()
    await communicator.send_json_to([t2i(taskUUID=tid, deliveryMethod="async")])
    assert (await communicator.receive_json_from())["data"][0]["status"] == "processing"
    await communicator.send_json_to([t2i(taskUUID=tid)])
    assert (await communicator.receive_json_from())["errors"][0]["code"] == "conflictTaskUUID"
    await communicator.disconnect()


async def test_async_delivery_answers_at_once_and_get_response_reports_each_generation(
        alice_key, builtin_model, run_job):
    communicator = await connect()
    await auth(communicator, alice_key)
    tid = task_uuid()
    await communicator.send_json_to([t2i(taskUUID=tid, numberResults=2, deliveryMethod="async")])
    ack = await communicator.receive_json_from()
    assert ack == {"data": [{"taskType": "imageInference", "taskUUID": tid, "status": "processing"}]}
    await communicator.send_json_to([{"taskType": "getResponse", "taskUUID": tid}])
    pending = await communicator.receive_json_from()
    assert pending["data"] == [{"taskType": "imageInference", "taskUUID": tid, "status": "processing"}] * 2
    job = await job_for(tid)
    await run_job(job.id)
    # Async results are not pushed: they wait for getResponse.
    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.send_json_to([{"taskType": "getResponse", "taskUUID": tid}])
    done = await communicator.receive_json_from()
    assert [i["status"] for i in done["data"]] == ["success", "success"]
    assert all(i["imageURL"] and i["imageUUID"] for i in done["data"])
    await communicator.disconnect()


async def test_get_response_does_not_show_other_peoples_tasks(alice_key, charlie_key, builtin_model):
    alice_socket = await connect()
    await auth(alice_socket, alice_key)
    tid = task_uuid()
    await alice_socket.send_json_to([t2i(taskUUID=tid, deliveryMethod="async")])
    await alice_socket.receive_json_from()
    charlie_socket = await connect()
    await auth(charlie_socket, charlie_key)
    await charlie_socket.send_json_to([{"taskType": "getResponse", "taskUUID": tid}])
    assert (await charlie_socket.receive_json_from())["errors"][0]["code"] == "taskNotFound"
    await alice_socket.disconnect()
    await charlie_socket.disconnect()


async def test_a_resumed_session_gets_the_results_that_finished_while_away(alice_key, builtin_model, run_job):
    communicator = await connect()
    session_id = (await auth(communicator, alice_key))["data"][0]["connectionSessionUUID"]
    tid = task_uuid()
    await communicator.send_json_to([t2i(taskUUID=tid, numberResults=2)])
    job = await job_for(tid)
    await communicator.disconnect()
    await run_job(job.id)  # finishes while nobody is connected

    communicator = await connect()
    reply = await auth(communicator, alice_key, connectionSessionUUID=session_id)
    assert reply["data"][0]["connectionSessionUUID"] == session_id
    items = [(await communicator.receive_json_from(timeout=5))["data"][0] for _ in range(2)]
    assert [i["taskUUID"] for i in items] == [tid, tid]
    assert len({i["imageUUID"] for i in items}) == 2
    await communicator.disconnect()

    # Delivered once: a second resume has nothing more to send.
    communicator = await connect()
    await auth(communicator, alice_key, connectionSessionUUID=session_id)
    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()


async def test_a_new_session_does_not_get_another_sessions_results(alice_key, builtin_model, run_job):
    communicator = await connect()
    await auth(communicator, alice_key)
    tid = task_uuid()
    await communicator.send_json_to([t2i(taskUUID=tid)])
    job = await job_for(tid)
    await communicator.disconnect()
    await run_job(job.id)
    communicator = await connect()
    reply = await auth(communicator, alice_key)  # no connectionSessionUUID: a fresh session
    assert reply["data"][0]["connectionSessionUUID"]
    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()


async def test_another_user_cannot_resume_a_session(alice_key, charlie_key, builtin_model):
    communicator = await connect()
    session_id = (await auth(communicator, alice_key))["data"][0]["connectionSessionUUID"]
    await communicator.disconnect()
    communicator = await connect()
    reply = await auth(communicator, charlie_key, connectionSessionUUID=session_id)
    assert reply["data"][0]["connectionSessionUUID"] != session_id
    await communicator.disconnect()


async def test_it_closes_idle_connections(alice_key, builtin_model, settings):
    settings.STEPWISE_API_IDLE_SECONDS = 1
    communicator = await connect()
    await auth(communicator, alice_key)
    output = await communicator.receive_output(timeout=5)
    assert output["type"] == "websocket.close"
    await communicator.disconnect()


async def test_it_uploads_images_and_uses_them_as_seed_images(alice_key, builtin_model, run_job):
    communicator = await connect()
    await auth(communicator, alice_key)
    upload_uuid = task_uuid()
    data_uri = "data:image/png;base64," + base64.b64encode(png_bytes(128, 128)).decode()
    await communicator.send_json_to([{"taskType": "imageUpload", "taskUUID": upload_uuid, "image": data_uri}])
    item = (await communicator.receive_json_from())["data"][0]
    assert item["taskType"] == "imageUpload" and item["taskUUID"] == upload_uuid
    assert item["imageURL"].startswith("http://testserver/files/signed/uploads/")
    tid = task_uuid()
    await communicator.send_json_to([t2i(taskUUID=tid, seedImage=item["imageUUID"], strength=0.75)])
    job = await job_for(tid)
    assert job.task_type == "imageToImage"
    assert job.params["seedImage"] == item["imageUUID"]
    await communicator.disconnect()


async def test_model_search_answers_from_the_catalog(alice_key, builtin_model):
    communicator = await connect()
    await auth(communicator, alice_key)
    tid = task_uuid()
    await communicator.send_json_to([{"taskType": "modelSearch", "taskUUID": tid, "search": "built-in",
                                      "limit": 20, "offset": 0}])
    item = (await communicator.receive_json_from())["data"][0]
    assert item["taskType"] == "modelSearch" and item["taskUUID"] == tid
    assert item["totalResults"] == 1
    model = item["results"][0]
    assert model["air"] == "stepwise:1@1" and model["architecture"] == "sd1x" and model["version"] == "1"
    assert model["category"] == "checkpoint" and model["private"] is False
    await communicator.disconnect()


async def test_it_refuses_a_host_that_is_not_allowed(builtin_model):
    from webapp.asgi import application

    communicator = WebsocketCommunicator(application, "/v1", headers=[(b"host", b"evil.example")])
    connected, _ = await communicator.connect()
    assert not connected


async def test_results_arrive_even_when_every_notification_is_lost(alice_key, builtin_model, run_job, monkeypatch,
                                                                   settings):
    from webapp.studio import events

    settings.STEPWISE_API_POLL_SECONDS = 0.5
    monkeypatch.setattr(events, "send", lambda group, message: False)  # the channel layer drops everything
    communicator = await connect()
    await auth(communicator, alice_key)
    tid = task_uuid()
    await communicator.send_json_to([t2i(taskUUID=tid, numberResults=2)])
    job = await job_for(tid)
    await run_job(job.id)
    items = [(await communicator.receive_json_from(timeout=5))["data"][0] for _ in range(2)]
    assert [i["taskUUID"] for i in items] == [tid, tid]
    await communicator.disconnect()


async def test_a_malformed_session_uuid_is_refused_not_replaced(alice_key, builtin_model):
    communicator = await connect()
    reply = await auth(communicator, alice_key, connectionSessionUUID="not-a-session")
    error = reply["errors"][0]
    assert error["code"] == "invalidConnectionSessionUUID" and error["parameter"] == "connectionSessionUUID"
    # No session was opened: the client is still not authenticated.
    await communicator.send_json_to([t2i()])
    assert (await communicator.receive_json_from())["errors"][0]["code"] == "missingApiKey"
    # A well-formed one (here, one this server never sent) opens a new session, as before.
    reply = await auth(communicator, alice_key, connectionSessionUUID=str(uuid.uuid4()))
    assert "connectionSessionUUID" in reply["data"][0]
    await communicator.disconnect()
