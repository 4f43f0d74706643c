"""All four task types end to end on the built-in model: validator -> job -> worker runner -> PNG."""

import io
import threading

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL.PngImagePlugin import PngImageFile

from webapp.jobs import queue
from webapp.jobs.services import job_create
from webapp.studio.models import Job, ModelEntry
from webapp.studio.schema import validate_inference

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, databases="__all__")]


@pytest.fixture(scope="session")
def builtin_path(tmp_path_factory):
    from generation.builtin import BUILTIN_DIRNAME, install_builtin_model

    return install_builtin_model(tmp_path_factory.mktemp("models") / BUILTIN_DIRNAME)


@pytest.fixture
def real_builtin(builtin_model, builtin_path):
    ModelEntry.objects.filter(id=builtin_model.id).update(path=str(builtin_path))
    return builtin_model


@pytest.fixture
def engine(settings):
    """A fresh engine per test keeps tests independent."""
    from generation.engine import Engine

    return Engine(device=settings.STEPWISE_DEVICE, cache_size=settings.STEPWISE_PIPELINE_CACHE_SIZE)


def source_png(width=128, height=128):
    """A recognisable source: a horizontal gradient with a dark square."""
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[..., 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    pixels[..., 2] = 180
    pixels[32:64, 32:64] = 20
    out = io.BytesIO()
    PILImage.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def mask_png(width=128, height=128):
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[:, width // 2:] = 255  # repaint the right half only
    out = io.BytesIO()
    PILImage.fromarray(mask, "L").save(out, format="PNG")
    return out.getvalue()


def run(user, payload, task_type, engine):
    valid = validate_inference({"model": "stepwise:1@1", "positivePrompt": "an abstract study", "seed": 7,
                                **payload}, user=user, task_type=task_type)
    job = job_create(user=user, valid=valid)
    queue.job_process(job_id=str(job.id), engine=engine, shutdown=threading.Event())
    job = Job.objects.get(id=job.id)
    assert job.status == "succeeded", job.error
    assert job.step == job.total_steps == valid.plan.steps
    image = job.images.get()
    with image.file.open("rb") as handle:
        png = PILImage.open(io.BytesIO(handle.read()))
        png.load()
    assert isinstance(png, PngImageFile) and "Steps:" in png.text["parameters"]
    return job, np.asarray(png.convert("RGB")).astype(int)


def test_text_to_image(alice, real_builtin, engine):
    job, pixels = run(alice, {"width": 192, "height": 128, "steps": 4}, "textToImage", engine)
    assert pixels.shape == (128, 192, 3)
    assert pixels.std() > 5  # not a flat image


def test_image_to_image_runs_the_effective_steps(alice, real_builtin, engine):
    job, pixels = run(alice, {"seedImage": source_png(), "steps": 10, "strength": 0.35}, "imageToImage", engine)
    assert job.total_steps == 3  # int(10 * 0.35)
    assert pixels.shape == (128, 128, 3)


def test_inpainting_keeps_unmasked_pixels(alice, real_builtin, engine):
    source = np.asarray(PILImage.open(io.BytesIO(source_png())).convert("RGB")).astype(int)
    job, pixels = run(alice, {"seedImage": source_png(), "maskImage": mask_png(), "steps": 6, "strength": 1.0},
                      "inpainting", engine)
    assert pixels.shape == (128, 128, 3)
    left, right = np.abs(pixels - source)[:, :56], np.abs(pixels - source)[:, 72:]
    assert left.mean() < 3  # outside the mask: the source, kept
    assert right.mean() > 10  # inside the mask: repainted


def test_outpainting_keeps_the_source_region_and_grows_the_canvas(alice, real_builtin, engine):
    source = np.asarray(PILImage.open(io.BytesIO(source_png())).convert("RGB")).astype(int)
    job, pixels = run(alice, {"seedImage": source_png(), "outpaint": {"left": 64, "top": 64, "blur": 4},
                              "steps": 5, "strength": 1.0}, "outpainting", engine)
    assert pixels.shape == (192, 192, 3)
    kept = np.abs(pixels[64 + 8:, 64 + 8:] - source[8:, 8:])  # beyond the seam blur band
    assert kept.mean() < 3
