"""The official `runware` SDK, unmodified, sending the fields of issue 14 to a live Stepwise.

A server of its own (`manage.py serve`, one worker, the built-in model on the CPU) that may send
to private addresses (STEPWISE_URL_FETCH_ALLOW_PRIVATE=1), so that a local HTTP server on
127.0.0.1 can receive the webhook POSTs and uploadEndpoint PUTs.
"""

import asyncio
import base64
import io
import json

import pytest
from PIL import Image as PILImage
from runware import IAcceleratorOptions, IImageInference, IInputs, IModelSearch, Runware
from runware.utils import RunwareAPIError

from tests.api.test_webhooks import Receiver

pytestmark = pytest.mark.slow

MODEL = "stepwise:1@1"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from tests.live import LiveStepwise

    live = LiveStepwise(tmp_path_factory.mktemp("live-fields"), workers=1, extra_env={
        "STEPWISE_URL_FETCH_ALLOW_PRIVATE": "1", "STEPWISE_OUTBOUND_BACKOFF": "0.05"})
    try:
        live.start()
        live.create_user("alice", "Studio A", admin=True)
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def alice_key(server):
    return server.manage("create_api_key", "alice", "--name", "sdk field tests").stdout.strip().splitlines()[-1]


@pytest.fixture
async def runware(server, alice_key):
    client = Runware(api_key=alice_key, url=f"{server.ws_url}/v1")
    await client.connect()
    yield client
    await client.disconnect()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def request(**fields) -> IImageInference:
    fields = {"model": MODEL, "positivePrompt": "a red circle on a blue background", "width": 128, "height": 128,
              "steps": 4, "numberResults": 1, **fields}
    return IImageInference(**fields)


async def _until(predicate, seconds=120):
    for _ in range(int(seconds / 0.25)):
        if predicate():
            return
        await asyncio.sleep(0.25)
    raise AssertionError("timed out")


async def test_with_a_webhook_the_sdk_returns_at_once_and_the_result_is_posted(runware, receiver):
    accepted = await runware.imageInference(request(deliveryMethod="async", webhookURL=receiver.url()))
    assert accepted.taskUUID
    await _until(lambda: receiver.requests)
    item = json.loads(receiver.requests[0]["body"])["data"][0]
    assert item["taskUUID"] == accepted.taskUUID and item["imageURL"].startswith("http://127.0.0.1:")


async def test_the_upload_endpoint_gets_the_image(runware, receiver):
    images = await runware.imageInference(request(outputFormat="PNG", uploadEndpoint=receiver.url("/put/me")))
    assert len(images) == 1
    put = receiver.requests[0]
    assert put["method"] == "PUT" and put["path"] == "/put/me"
    assert PILImage.open(io.BytesIO(put["body"])).size == (128, 128)


async def test_nested_inputs_run_image_to_image(runware, server):
    seed = PILImage.new("RGB", (128, 128), (30, 160, 90))
    out = io.BytesIO()
    seed.save(out, format="PNG")
    data_uri = "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()
    images = await runware.imageInference(request(inputs=IInputs(seedImage=data_uri), strength=0.5))
    assert len(images) == 1
    code = ("from webapp.studio.models import Job; "
            f"print(Job.objects.get(api_task_uuid='{images[0].taskUUID}').task_type)")
    assert server.manage("shell", "-c", code).stdout.strip().splitlines()[-1] == "imageToImage"


async def test_no_op_values_the_sdk_sends_are_accepted(runware):
    images = await runware.imageInference(request(clipSkip=0, acceleratorOptions=IAcceleratorOptions(teaCache=False),
                                                  acceleration="none", positivePrompt="__BLANK__"))
    assert len(images) == 1


@pytest.mark.parametrize("fields, parameter", [
    ({"checkNsfw": True}, "safety"),
    ({"clipSkip": 3}, "clipSkip"),
    ({"ttl": 10}, "ttl"),
])
async def test_what_the_server_does_not_do_is_refused_by_name(runware, fields, parameter):
    with pytest.raises(RunwareAPIError) as caught:
        await runware.imageInference(request(**fields))
    assert caught.value.error_data["parameter"] == parameter
    assert caught.value.error_data["documentation"].endswith("/docs/api/#fields")


async def test_model_search_tags_match_any(runware):
    found = await runware.modelSearch(IModelSearch(tags=["no-such-tag", "builtin"]))
    assert [m.air for m in found.results] == [MODEL]
    nothing = await runware.modelSearch(IModelSearch(conditioning="canny"))
    assert nothing.totalResults == 0
