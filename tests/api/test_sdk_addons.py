"""PROOF: the unmodified `runware` SDK sends lora (ILora), embeddings (IEmbedding), vae, clipSkip,
promptWeighting and maskMargin to a live Stepwise, whose real worker applies them to the built-in
model: a LoRA at weight 0 is the plain image, at weight 1 another one, and the next plain job is the
first one again (nothing leaks between jobs in a real worker)."""

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PILImage
from runware import IEmbedding, IImageInference, ILora, Runware
from runware.types import EPromptWeighting
from safetensors.torch import load_file, save_file

from tests.engine.test_addons import kohya_lora

pytestmark = pytest.mark.slow

MODEL = "stepwise:1@1"


@pytest.fixture(scope="module")
def addon_airs(live_server_process, tmp_path_factory):
    """A kohya LoRA, an embedding and a VAE made here for the live server's built-in model."""
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextModel

    server = live_server_process
    out = server.manage("shell", "-c", "from webapp.studio.models import ModelEntry;"
                                       "print(ModelEntry.objects.get(air='stepwise:1@1').path)").stdout
    builtin = Path(out.strip().splitlines()[-1])
    folder = tmp_path_factory.mktemp("sdk-addons")
    components = {"unet": UNet2DConditionModel.from_pretrained(builtin / "unet"),
                  "text_encoder": CLIPTextModel.from_pretrained(builtin / "text_encoder")}
    lora = kohya_lora(folder / "sdk-style.safetensors", components, seed=11, scale=0.3)
    width = components["text_encoder"].get_input_embeddings().weight.shape[-1]
    embedding = folder / "sdk-emb.safetensors"
    save_file({"emb_params": torch.randn(1, width, generator=torch.Generator().manual_seed(12))}, str(embedding))
    vae_state = load_file(str(builtin / "vae" / "diffusion_pytorch_model.safetensors"))
    vae = folder / "sdk-vae.safetensors"
    save_file({k: v * 1.1 if k.startswith("decoder.conv_out") else v for k, v in vae_state.items()}, str(vae))
    entries = [("local:sdk-style@1", "lora", lora, "sdkstyle"), ("local:sdk-emb@1", "embedding", str(embedding),
               "sdktoken"), ("local:sdk-vae@1", "vae", str(vae), "")]
    server.manage("shell", "-c", "from webapp.studio.models import ModelEntry;" + "".join(
        f"ModelEntry.objects.update_or_create(air={air!r}, defaults=dict(name={air!r}, kind={kind!r}, "
        f"path={path!r}, trigger_words={token!r}));" for air, kind, path, token in entries))
    return {"lora": entries[0][0], "embedding": entries[1][0], "vae": entries[2][0]}


@pytest.fixture(scope="module")
def alice_key(live_server_process):
    output = live_server_process.manage("create_api_key", "alice", "--name", "sdk add-ons").stdout
    return output.strip().splitlines()[-1]


@pytest.fixture
async def runware(live_server_process, alice_key):
    client = Runware(api_key=alice_key, url=f"{live_server_process.ws_url}/v1")
    await client.connect()
    yield client
    await client.disconnect()


async def generate(runware, **fields) -> np.ndarray:
    fields = {"model": MODEL, "positivePrompt": "a red circle on a blue background", "width": 128, "height": 128,
              "steps": 4, "seed": 77, "numberResults": 1, "outputType": "base64Data", "outputFormat": "PNG",
              **fields}
    images = await runware.imageInference(IImageInference(**fields))
    return np.asarray(PILImage.open(io.BytesIO(base64.b64decode(images[0].imageBase64Data))), dtype=np.int16)


async def test_the_sdk_sends_lora_and_the_worker_applies_it_without_leaking(runware, addon_airs):
    plain = await generate(runware)
    assert np.array_equal(await generate(runware, lora=[ILora(model=addon_airs["lora"], weight=0)]), plain)
    styled = await generate(runware, lora=[ILora(model=addon_airs["lora"], weight=1)])
    assert np.abs(styled - plain).max() > 0
    assert np.array_equal(await generate(runware), plain)


async def test_the_sdk_sends_embeddings_vae_clip_skip_weighting_and_mask_margin(runware, addon_airs,
                                                                              live_server_process, tmp_path):
    plain = await generate(runware, positivePrompt="a red circle sdktoken")
    with_embedding = await generate(runware, positivePrompt="a red circle sdktoken",
                                    embeddings=[IEmbedding(model=addon_airs["embedding"])])
    assert np.abs(with_embedding - plain).max() > 0
    assert np.abs(await generate(runware, positivePrompt="a red circle sdktoken", vae=addon_airs["vae"]) - plain
                  ).max() > 0
    assert np.abs(await generate(runware, positivePrompt="a red circle sdktoken", clipSkip=1) - plain).max() > 0
    await generate(runware, positivePrompt="a (red circle:1.4)", promptWeighting=EPromptWeighting.SDEMBEDS)
    source = tmp_path / "source.png"
    mask = tmp_path / "mask.png"
    PILImage.new("RGB", (128, 128), (40, 80, 200)).save(source)
    mask_image = PILImage.new("L", (128, 128), 0)
    mask_image.paste(255, (8, 8, 40, 40))
    mask_image.save(mask)
    inpainted = await generate(runware, seedImage=str(source), maskImage=str(mask), strength=1.0, maskMargin=32)
    assert np.array_equal(inpainted[80:, :], np.full((48, 128, 3), (40, 80, 200), dtype=np.int16))
    code = ("import json; from webapp.studio.models import Job;"
            "print(json.dumps([j.params for j in Job.objects.filter(origin='api').order_by('queued_at')]))")
    params = json.loads(live_server_process.manage("shell", "-c", code).stdout.strip().splitlines()[-1])
    assert {"embeddings": [{"model": addon_airs["embedding"]}]}.items() <= params[-5].items()
    assert params[-4]["vae"] == addon_airs["vae"] and params[-3]["clipSkip"] == 1
    assert params[-2]["promptWeighting"] == "sdEmbeds" and params[-1]["maskMargin"] == 32


@pytest.fixture(scope="module")
def tiny_sdxl_airs(live_server_process, tmp_path_factory):
    """Two tiny SDXL models built here (the second with nudged UNet weights), in the live catalog."""
    from diffusers import UNet2DConditionModel

    from generation.builtin.tiny import build_tiny_model

    folder = tmp_path_factory.mktemp("sdk-refiner")
    base = build_tiny_model("sdxl", folder / "xl-base")
    refiner = build_tiny_model("sdxl", folder / "xl-refiner")
    unet = UNet2DConditionModel.from_pretrained(refiner / "unet")
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for weight in unet.parameters():
            weight.add_(torch.randn(weight.shape, generator=generator) * 0.05)
    unet.save_pretrained(refiner / "unet")
    entries = [("local:sdk-xl-base@1", base), ("local:sdk-xl-refiner@1", refiner)]
    live_server_process.manage("shell", "-c", "from webapp.studio.models import ModelEntry;" + "".join(
        f"ModelEntry.objects.update_or_create(air={air!r}, defaults=dict(name={air!r}, architecture='sdxl', "
        f"path={str(path)!r}, default_width=128, default_height=128));" for air, path in entries))
    return {"base": entries[0][0], "refiner": entries[1][0]}


async def test_the_sdk_sends_refiner_and_the_worker_splits_the_schedule(runware, tiny_sdxl_airs, live_server_process):
    from runware import IRefiner

    fields = {"model": tiny_sdxl_airs["base"], "scheduler": "Euler", "steps": 6}
    plain = await generate(runware, **fields)
    refined = await generate(runware, **fields, refiner=IRefiner(model=tiny_sdxl_airs["refiner"], startStep=4))
    assert np.abs(refined - plain).max() > 0  # the refiner drew the end of the schedule
    by_percentage = await generate(runware, **fields, refiner=IRefiner(model=tiny_sdxl_airs["refiner"],
                                                                         startStepPercentage=70))
    assert np.array_equal(by_percentage, refined)  # int(6 x 70 / 100) == 4: the same split
    code = ("import json; from webapp.studio.models import Job;"
            "print(json.dumps([[j.params.get('refiner'), j.total_steps, j.step, j.status] for j in "
            "Job.objects.filter(origin='api').order_by('queued_at')]))")
    jobs = json.loads(live_server_process.manage("shell", "-c", code).stdout.strip().splitlines()[-1])
    assert jobs[-2] == [{"model": tiny_sdxl_airs["refiner"], "startStep": 4}, 6, 6, "succeeded"]
    assert jobs[-1][0]["startStep"] == 4 and jobs[-1][1:] == [6, 6, "succeeded"]
