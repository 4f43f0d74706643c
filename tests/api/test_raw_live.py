"""Protocol details the SDK does not exercise, against a live server with the real engine:
the progress extension's exact step count, resuming a session, async delivery with getResponse, and
a sync HTTP request."""

import base64
import io
import json
import time
import urllib.request
import uuid
from contextlib import contextmanager

import pytest
from PIL import Image as PILImage
from websockets.sync.client import connect

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(live_server_process):
    return live_server_process


@pytest.fixture(scope="module")
def key(server):
    return server.manage("create_api_key", "bob", "--name", "raw tests").stdout.strip().splitlines()[-1]


@contextmanager
def open_socket(server, key, **auth):
    """An authenticated socket and its connectionSessionUUID."""
    with connect(f"{server.ws_url}/v1", open_timeout=10, max_size=None) as socket:
        socket.send(json.dumps([{"taskType": "authentication", "apiKey": key, **auth}]))
        reply = json.loads(socket.recv(timeout=10))
        yield socket, reply["data"][0]["connectionSessionUUID"]


def receive(socket, timeout=120):
    return json.loads(socket.recv(timeout=timeout))


def http(server, key, tasks, timeout=300):
    request = urllib.request.Request(f"{server.url}/v1", data=json.dumps(tasks).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def wait_until_done(server, key, task_uuid, count=1, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, body = http(server, key, [{"taskType": "getResponse", "taskUUID": task_uuid}])
        items = body.get("data", [])
        if len(items) == count and all(i["status"] == "success" for i in items):
            return items
        # A socket closed right after sending: the server may still be storing the task.
        assert "errors" not in body or body["errors"][0]["code"] == "taskNotFound", body
        time.sleep(0.5)
    raise TimeoutError(task_uuid)


def seed_png_base64() -> str:
    image = PILImage.new("RGB", (128, 128))
    image.putdata([(x * 2, y * 2, 90) for y in range(128) for x in range(128)])
    out = io.BytesIO()
    image.save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def inference(**fields):
    return {"taskType": "imageInference", "taskUUID": str(uuid.uuid4()), "model": "stepwise:1@1",
            "positivePrompt": "a lighthouse on a cliff at dusk", "width": 128, "height": 128, "steps": 4, **fields}


def collect_until_results(socket, task_uuid, count):
    messages: list[dict] = []
    results: list[dict] = []
    while len(results) < count:
        message = receive(socket)
        assert "errors" not in message, message
        messages.append(message)
        for item in message["data"]:
            assert item["taskUUID"] == task_uuid
            if item["taskType"] == "imageInference":
                results.append(item)
    return messages, results


def test_progress_counts_exactly_the_steps_that_run(server, key):
    with open_socket(server, key) as (socket, _):
        # Image to image, 8 steps at strength 0.5: 4 steps really run, for each of the 2 images.
        task = inference(seedImage=seed_png_base64(), strength=0.5, steps=8, numberResults=2,
                         includeProgress=True)
        socket.send(json.dumps([task]))
        messages, results = collect_until_results(socket, task["taskUUID"], 2)
    progress = [item for m in messages for item in m["data"] if item["taskType"] == "imageInferenceProgress"]
    assert [(p["imageIndex"], p["step"]) for p in progress] == [(0, 1), (0, 2), (0, 3), (0, 4),
                                                                 (1, 1), (1, 2), (1, 3), (1, 4)]
    assert {p["totalSteps"] for p in progress} == {4}
    assert all(set(p) == {"taskType", "taskUUID", "step", "totalSteps", "imageIndex"} for p in progress)
    # Each image's result comes right after its own last step, not both at the end.
    kinds = [item["taskType"] for m in messages for item in m["data"]]
    assert kinds.index("imageInference") == 4


def test_previews_come_only_with_include_previews(server, key):
    with open_socket(server, key) as (socket, _):
        task = inference(includeProgress=True, includePreviews=True, steps=5)
        socket.send(json.dumps([task]))
        messages, _ = collect_until_results(socket, task["taskUUID"], 1)
    progress = [item for m in messages for item in m["data"] if item["taskType"] == "imageInferenceProgress"]
    assert [p["step"] for p in progress] == [1, 2, 3, 4, 5]
    assert any(p.get("previewDataURI", "").startswith("data:image/jpeg;base64,") for p in progress)


def test_no_progress_for_a_client_that_did_not_ask(server, key):
    with open_socket(server, key) as (socket, _):
        task = inference(steps=5)
        socket.send(json.dumps([task]))
        messages, results = collect_until_results(socket, task["taskUUID"], 1)
    assert len(messages) == 1 and len(results) == 1


def test_a_resumed_session_gets_results_that_finished_while_away(server, key):
    # 20 steps: long enough that the client is gone well before the first image is stored.
    task = inference(numberResults=2, seed=900, steps=20)
    with open_socket(server, key) as (socket, session_id):
        socket.send(json.dumps([task]))
    finished = wait_until_done(server, key, task["taskUUID"], count=2)

    with open_socket(server, key, connectionSessionUUID=session_id) as (socket, resumed):
        assert resumed == session_id
        items = [receive(socket, timeout=30)["data"][0] for _ in range(2)]
    assert sorted(i["seed"] for i in items) == [900, 901]
    assert {i["imageUUID"] for i in items} == {i["imageUUID"] for i in finished}


def test_async_delivery_with_get_response(server, key):
    with open_socket(server, key) as (socket, _):
        task = inference(deliveryMethod="async", outputType="dataURI")
        socket.send(json.dumps([task]))
        assert receive(socket) == {"data": [{"taskType": "imageInference", "taskUUID": task["taskUUID"],
                                             "status": "processing"}]}
        wait_until_done(server, key, task["taskUUID"])
        socket.send(json.dumps([{"taskType": "getResponse", "taskUUID": task["taskUUID"]}]))
        item = receive(socket)["data"][0]
    assert item["status"] == "success" and item["imageDataURI"].startswith("data:image/jpeg;base64,")


def test_sync_http_inference_with_the_real_engine(server, key):
    task = inference(numberResults=2, outputType="base64Data", outputFormat="PNG")
    status, body = http(server, key, [task, {"taskType": "imageInference", "taskUUID": str(uuid.uuid4()),
                                             "positivePrompt": "x" * 4000, "model": "stepwise:1@1"}])
    assert status == 200
    assert [i["taskUUID"] for i in body["data"]] == [task["taskUUID"]] * 2
    assert body["errors"][0]["parameter"] == "positivePrompt"
    for item in body["data"]:
        assert PILImage.open(io.BytesIO(base64.b64decode(item["imageBase64Data"]))).size == (128, 128)


def test_a_realistic_photo_fits_in_one_websocket_message(server, key):
    # A 1024x1024 noisy PNG is about 3 MB, 4 MB as base64, as the SDK's uploadImage sends it.
    import os

    photo = PILImage.frombytes("RGB", (1024, 1024), os.urandom(1024 * 1024 * 3))
    out = io.BytesIO()
    photo.save(out, format="PNG")
    with open_socket(server, key) as (socket, _):
        socket.send(json.dumps([{"taskType": "imageUpload", "taskUUID": str(uuid.uuid4()),
                                 "image": "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()}]))
        item = receive(socket, timeout=30)["data"][0]
    assert item["taskType"] == "imageUpload" and item["imageUUID"]
