"""PROOF: the official `runware` SDK, unmodified, against a live Stepwise (`manage.py serve`).

Everything goes through the real stack: Daphne, the websocket consumer, the queue, a separate
worker process running the built-in tiny model on the CPU, the channel layer, signed file URLs.
"""

import asyncio
import base64
import io
import json
import urllib.request
import uuid

import pytest
from PIL import Image as PILImage
from runware import IImageInference, IModelSearch, IOutpaint, Runware
from runware.utils import RunwareAPIError

pytestmark = pytest.mark.slow

MODEL = "stepwise:1@1"


@pytest.fixture(scope="module")
def server(live_server_process):
    return live_server_process


@pytest.fixture(scope="module")
def alice_key(server):
    output = server.manage("create_api_key", "alice", "--name", "sdk tests").stdout
    return output.strip().splitlines()[-1]


@pytest.fixture
async def runware(server, alice_key):
    client = Runware(api_key=alice_key, url=f"{server.ws_url}/v1")
    await client.connect()
    yield client
    await client.disconnect()


@pytest.fixture(scope="module")
def images_dir(tmp_path_factory):
    """A seed image (a 128x128 photo-like gradient), a mask (the right half) and a 128x64 strip."""
    folder = tmp_path_factory.mktemp("sdk-images")
    seed = PILImage.new("RGB", (128, 128))
    seed.putdata([(x * 2, y * 2, 128) for y in range(128) for x in range(128)])
    seed.save(folder / "seed.png")
    mask = PILImage.new("L", (128, 128), 0)
    mask.paste(255, (64, 0, 128, 128))
    mask.save(folder / "mask.png")
    return folder


def fetch(url) -> PILImage.Image:
    # No cookie, no session: the signed URL alone must do.
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        return PILImage.open(io.BytesIO(response.read()))


def request(**fields) -> IImageInference:
    fields = {"model": MODEL, "positivePrompt": "a lighthouse on a cliff at dusk", "width": 128, "height": 128,
              "steps": 4, "numberResults": 1, **fields}
    return IImageInference(**fields)


async def test_text_to_image(runware):
    images = await runware.imageInference(request(seed=4242, includeCost=True))
    assert len(images) == 1
    image = images[0]
    assert image.taskType == "imageInference"
    assert image.seed == 4242
    uuid.UUID(image.imageUUID)
    assert isinstance(image.cost, float)
    picture = fetch(image.imageURL)
    assert picture.format == "JPEG" and picture.size == (128, 128)


async def test_image_to_image_with_an_uploaded_seed_image_and_a_strength(runware, images_dir):
    uploaded = await runware.uploadImage(str(images_dir / "seed.png"))
    uuid.UUID(uploaded.imageUUID)
    assert fetch(uploaded.imageURL).size == (128, 128)
    images = await runware.imageInference(request(seedImage=uploaded, strength=0.6, steps=8))
    assert fetch(images[0].imageURL).size == (128, 128)


async def test_inpainting_with_a_mask(runware, images_dir):
    images = await runware.imageInference(request(
        seedImage=str(images_dir / "seed.png"), maskImage=str(images_dir / "mask.png"), strength=0.9,
        outputFormat="PNG"))
    picture = fetch(images[0].imageURL)
    assert picture.format == "PNG" and picture.size == (128, 128)


async def test_outpainting(runware, images_dir):
    images = await runware.imageInference(request(
        seedImage=str(images_dir / "seed.png"), outpaint=IOutpaint(left=64, right=64, blur=8), strength=0.9,
        width=256, height=128))
    assert fetch(images[0].imageURL).size == (256, 128)


async def test_several_results_arrive_one_by_one(runware):
    partials = []
    images = await runware.imageInference(request(
        numberResults=3, seed=100, onPartialImages=lambda batch, error: partials.append((batch, error))))
    assert sorted(i.seed for i in images) == [100, 101, 102]
    assert len({i.imageUUID for i in images}) == 3
    # Each image came in a message of its own, as soon as it was stored.
    assert [len(batch) for batch, error in partials] == [1, 1, 1]
    assert all(error is None for _, error in partials)


@pytest.mark.parametrize("output_type, output_format, mime, pil_format", [
    ("URL", "JPG", None, "JPEG"),
    ("URL", "WEBP", None, "WEBP"),
    ("base64Data", "PNG", None, "PNG"),
    ("dataURI", "JPG", "image/jpeg", "JPEG"),
    ("dataURI", "WEBP", "image/webp", "WEBP"),
])
async def test_every_output_type(runware, output_type, output_format, mime, pil_format):
    images = await runware.imageInference(request(outputType=output_type, outputFormat=output_format,
                                                  outputQuality=80))
    image = images[0]
    if output_type == "URL":
        picture = fetch(image.imageURL)
    elif output_type == "base64Data":
        assert image.imageURL is None and image.imageDataURI is None
        picture = PILImage.open(io.BytesIO(base64.b64decode(image.imageBase64Data)))
    else:
        prefix = f"data:{mime};base64,"
        assert image.imageDataURI.startswith(prefix)
        picture = PILImage.open(io.BytesIO(base64.b64decode(image.imageDataURI[len(prefix):])))
    assert picture.format == pil_format and picture.size == (128, 128)


async def test_several_output_types_at_once(runware):
    images = await runware.imageInference(request(outputType=["URL", "base64Data", "dataURI"]))
    image = images[0]
    assert image.imageURL and image.imageBase64Data and image.imageDataURI


async def test_model_search(runware):
    found = await runware.modelSearch(IModelSearch(search="built-in", architecture="sd1x"))
    assert found.totalResults == 1
    model = found.results[0]
    assert model.air == MODEL and model.category == "checkpoint" and model.architecture == "sd1x"
    assert model.defaultSteps and model.defaultScheduler
    nothing = await runware.modelSearch(IModelSearch(search="no such model anywhere"))
    assert nothing.totalResults == 0 and nothing.results == []


async def test_a_bad_value_is_a_field_named_error(runware):
    with pytest.raises(RunwareAPIError) as caught:
        await runware.imageInference(request(steps=500))
    assert caught.value.code == "invalidSteps"
    assert caught.value.error_data["parameter"] == "steps"


async def test_an_unsupported_feature_is_refused_by_name(runware):
    from runware import ILora, IRefiner

    # The refiner is honoured for SDXL models; on the SD 1.5 built-in model it is refused by name.
    with pytest.raises(RunwareAPIError) as caught:
        await runware.imageInference(request(refiner=IRefiner(model="civitai:1@2", startStep=2)))
    assert caught.value.code == "incompatibleArchitecture"
    assert caught.value.error_data["parameter"] == "refiner"
    # A LoRA the catalog does not have is named too.
    with pytest.raises(RunwareAPIError) as caught:
        await runware.imageInference(request(lora=[ILora(model="civitai:1@2", weight=1.0)]))
    assert caught.value.code == "invalidLora" and caught.value.error_data["parameter"] == "lora"


async def test_async_delivery_and_get_response(runware, server, alice_key):
    accepted = await runware.imageInference(request(deliveryMethod="async"))
    task_uuid = accepted.taskUUID
    # Wait (over HTTP) until the job is done, so the SDK's poll finds the result at once.
    for _ in range(240):
        body = json.dumps([{"taskType": "getResponse", "taskUUID": task_uuid}]).encode()
        req = urllib.request.Request(f"{server.url}/v1", data=body, method="POST", headers={
            "Authorization": f"Bearer {alice_key}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as response:
            items = json.load(response)["data"]
        if items[0]["status"] == "success":
            break
        await asyncio.sleep(0.5)
    images = await runware.getResponse(taskUUID=task_uuid)
    assert images[0].status == "success" and images[0].imageUUID == items[0]["imageUUID"]


async def test_a_bad_key(server):
    client = Runware(api_key="sw_this-is-not-a-key-000000000000000000", url=f"{server.ws_url}/v1")
    await client.connect()
    try:
        assert not client.isAuthenticated()
        with pytest.raises(ConnectionError, match="Invalid API key"):
            await client.ensureConnection()
    finally:
        await client.disconnect()
