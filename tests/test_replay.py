"""Replay every step: the runner keeps each image's per-step previews (small WebP, at most 100 per
job), the job and image pages replay them with the phase under each step, they go with their image,
and a retention setting bounds how long they stay."""

import io
import threading
import time
from datetime import timedelta

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone
from PIL import Image as PILImage

from generation.publisher import ProgressPublisher, encode_replay_preview, replay_steps
from tests.conftest import PASSWORD
from webapp.jobs import queue
from webapp.jobs.runner import prune_step_previews
from webapp.jobs.services import job_create
from webapp.studio import services
from webapp.studio.models import Job, StepPreview
from webapp.studio.schema import validate_inference

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


class PreviewEngine:
    """The engine's API at the edge: each step hands over a latent-resolution RGB preview."""

    def load(self, source):
        return 0.01

    def loaded_models(self):
        return []

    def generate(self, source, inputs, *, on_step, should_cancel, want_preview=None):
        for step in range(1, inputs.steps + 1):
            on_step(step, inputs.steps, np.full((16, 16, 3), step * 2, dtype=np.uint8))
        return PILImage.new("RGB", (inputs.width, inputs.height), (10, 20, 30))


def run_job(user, **fields):
    payload = {"positivePrompt": "a red circle", "model": "stepwise:1@1", "steps": 12, "width": 128, "height": 128,
               "scheduler": "Euler", **fields}
    job = job_create(user=user, valid=validate_inference(payload, user=user))
    queue.job_process(job_id=str(job.id), engine=PreviewEngine(), shutdown=threading.Event())
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    return job


def test_replay_keeps_every_step_within_a_budget_of_100_per_job():
    assert replay_steps(total_steps=30, number_results=1) == list(range(1, 31))
    kept = replay_steps(total_steps=100, number_results=4)
    assert len(kept) == 25 and kept[0] == 1 and kept[-1] == 100
    assert replay_steps(total_steps=100, number_results=200) == [100]


def test_the_publisher_hands_every_preview_to_the_replay_even_when_delivery_falls_behind():
    kept = []

    def slow_deliver(batch):
        time.sleep(0.02)

    publisher = ProgressPublisher(deliver=slow_deliver, keep=lambda step, index, preview: kept.append(step)).start()
    for step in range(1, 41):
        publisher.submit(step, 40, 0, np.zeros((8, 8, 3), dtype=np.uint8))
    publisher.close()
    assert kept == list(range(1, 41))


def test_the_runner_stores_small_webp_previews_with_each_image(alice, builtin_model):
    job = run_job(alice, steps=60, numberResults=2)
    previews = list(StepPreview.objects.filter(job=job))
    assert len(previews) == 100  # 50 of each image's 60 steps
    for index in (0, 1):
        steps = [p.step for p in previews if p.image_index == index]
        assert steps[0] == 1 and steps[-1] == 60 and len(steps) == 50
    image = PILImage.open(io.BytesIO(bytes(previews[0].webp)))
    assert image.format == "WEBP" and image.size == (16, 16)  # the preview's own (latent) size


def test_kept_previews_keep_their_latent_size_and_only_the_largest_shrink():
    def size(width, height):
        webp = encode_replay_preview(np.zeros((height, width, 3), dtype=np.uint8))
        return PILImage.open(io.BytesIO(webp)).size

    # An upscale adds no detail and costs the denoising threads CPU: the browser scales them instead.
    assert size(32, 32) == (32, 32) and size(64, 48) == (64, 48)
    assert size(256, 128) == (128, 64)  # a 2048x1024 image's latent


def test_the_job_and_image_pages_replay_each_step_with_its_phase(client, alice, bob, charlie, builtin_model):
    job = run_job(alice, steps=8)
    image = job.images.get()
    client.login(username="alice", password=PASSWORD)
    for url in (reverse("job_detail", args=[job.id]), reverse("image_detail", args=[image.id])):
        body = client.get(url).content.decode()
        assert 'data-testid="replay-range"' in body and 'max="7"' in body
        assert 'data-testid="replay-phase">Polish<' in body  # the last step of an 8-step run polishes
        assert body.count('class="replay-tick"') == 8
        assert 'title="Step 1: Composition"' in body and 'title="Step 4: Forms"' in body
    frame = reverse("step_preview", args=[job.id, 0, 3])
    assert client.get(frame)["Content-Type"] == "image/webp"
    client.login(username="bob", password=PASSWORD)
    assert client.get(frame).status_code == 200  # same team, shared image
    client.login(username="charlie", password=PASSWORD)
    assert client.get(frame).status_code == 404


def test_the_previews_go_with_their_image(client, alice, builtin_model):
    job = run_job(alice, steps=6, numberResults=2)
    first, second = job.images.order_by("index")
    services.image_delete(image=first)
    assert not StepPreview.objects.filter(job=job, image_index=0).exists()
    assert StepPreview.objects.filter(job=job, image_index=1).count() == 6
    client.login(username="alice", password=PASSWORD)
    assert client.get(reverse("step_preview", args=[job.id, 0, 1])).status_code == 404


def test_retention_deletes_old_previews_and_zero_keeps_none(settings, alice, builtin_model):
    job = run_job(alice, steps=6)
    StepPreview.objects.filter(job=job).update(created_at=timezone.now() - timedelta(days=31))
    assert prune_step_previews() == 6
    settings.STEPWISE_STEP_PREVIEW_DAYS = 0
    job = run_job(alice, steps=6)
    assert not StepPreview.objects.filter(job=job).exists()
    assert job.images.count() == 1
