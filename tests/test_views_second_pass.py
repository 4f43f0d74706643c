"""The create form's second passes: the hires fix and the SDXL refiner on text to image, upscale on
image to image (and the image page's Upscale actions). The form posts flat inputs; the one validator
checks the nested request; errors come back beside the inputs, in the form's words."""

import base64

import pytest
from django.urls import reverse

from tests.conftest import PASSWORD, png_bytes
from webapp.studio.models import Job, ModelEntry


@pytest.fixture
def alice_client(client, alice, builtin_model):
    client.login(username="alice", password=PASSWORD)
    return client


@pytest.fixture
def sdxl(builtin_model):
    base = ModelEntry.objects.create(air="local:xl-base@1", name="XL base", architecture="sdxl", path="/m/b")
    refiner = ModelEntry.objects.create(air="local:xl-refiner@1", name="XL refiner", architecture="sdxl",
                                        path="/m/r")
    return base, refiner


def _post(client, task="text-to-image", **fields):
    data = {"positivePrompt": "a lighthouse at dusk", "model": "stepwise:1@1", "steps": "20", "CFGScale": "7",
            "scheduler": "Euler", "numberResults": "1", "width": "512", "height": "512", **fields}
    return client.post(reverse("create", args=[task]), {k: v for k, v in data.items() if v is not None})


def test_the_hires_fix_form_queues_a_job_of_two_passes(alice_client):
    response = _post(alice_client, hiresUpscale="2", hiresStrength="0.5", hiresSteps="")
    assert response.status_code == 302, response.content.decode()[:2000]
    job = Job.objects.get()
    assert job.params["hiresFix"] == {"upscale": 2.0, "strength": 0.5, "steps": 20}
    assert job.total_steps == 20 + 10


def test_hires_fix_off_sends_nothing(alice_client):
    assert _post(alice_client, hiresUpscale="", hiresStrength="0.5", hiresSteps="12").status_code == 302
    assert "hiresFix" not in Job.objects.get().params


def test_a_hires_fix_error_is_beside_its_input_in_the_form_s_words(alice_client):
    response = _post(alice_client, width="1536", height="512", hiresUpscale="2", hiresStrength="0.5")
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="hiresUpscale-error"' in body
    assert "Hires fix&#x27;s upscale 2 makes 1536x512 3072x1024" in body
    assert Job.objects.count() == 0
    response = _post(alice_client, hiresUpscale="2", hiresStrength="0.01", hiresSteps="10")
    assert 'id="hiresStrength-error"' in response.content.decode()


def test_the_refiner_form_splits_the_steps(alice_client, sdxl):
    response = _post(alice_client, model="local:xl-base@1", width="1024", height="1024", steps="30",
                     refinerModel="local:xl-refiner@1", refinerStartStep="24")
    assert response.status_code == 302, response.content.decode()[:2000]
    job = Job.objects.get()
    assert job.params["refiner"] == {"model": "local:xl-refiner@1", "startStep": 24}
    assert job.total_steps == 30


def test_a_refiner_error_is_beside_its_input(alice_client, sdxl):
    response = _post(alice_client, model="local:xl-base@1", width="1024", height="1024", steps="30",
                     refinerModel="local:xl-refiner@1", refinerStartStep="30")
    body = response.content.decode()
    assert response.status_code == 400
    assert 'id="refinerStartStep-error"' in body and "between 1 and 29" in body


def test_the_form_offers_sdxl_refiners_and_shows_the_split_before_the_script_runs(alice_client, sdxl):
    body = alice_client.get(reverse("create", args=["text-to-image"])).content.decode()
    assert 'id="second-pass"' in body and '<option value="local:xl-refiner@1"' in body
    reused = _post(alice_client, model="local:xl-base@1", width="1024", height="1024", steps="30",
                   refinerModel="local:xl-refiner@1", refinerStartStep="24")
    image_job = Job.objects.get()
    assert reused.status_code == 302
    body = alice_client.get(reverse("create", args=["text-to-image"]) + f"?reuse={image_job.id}").content.decode()
    assert "30 steps: 24 base + 6 refiner" in body
    assert 'name="refinerStartStep" min="1" max="99" step="1" inputmode="numeric" value="24"' in body


def test_upscale_on_image_to_image_takes_the_size_from_the_source(alice_client):
    seed = base64.b64encode(png_bytes(256, 192)).decode()
    response = _post(alice_client, task="image-to-image", seedImageData="data:image/png;base64," + seed,
                     upscale="1.5", strength="0.3")
    assert response.status_code == 302, response.content.decode()[:2000]
    job = Job.objects.get()
    assert (job.params["width"], job.params["height"], job.params["upscale"]) == (384, 288, 1.5)


def test_the_image_page_offers_upscale_and_the_form_starts_from_it(alice_client, alice, make_image):
    image = make_image(alice, width=512, height=512)
    body = alice_client.get(reverse("image_detail", args=[image.id])).content.decode()
    assert f"?source={image.id}&amp;upscale=1.5" in body and f"?source={image.id}&amp;upscale=2" in body
    body = alice_client.get(reverse("create", args=["image-to-image"]) + f"?source={image.id}&upscale=2"
                            ).content.decode()
    assert '<option value="2" selected>2× the source</option>' in body
    assert 'value="0.30"' in body  # a light pass
    big = make_image(alice, width=1536, height=1536)
    body = alice_client.get(reverse("image_detail", args=[big.id])).content.decode()
    assert "upscale=2" not in body and "upscale=1.5" not in body  # 2304 > 2048: not offered


def test_the_image_page_shows_both_passes_and_the_png_records_them(alice_client, alice, make_image):
    from webapp.studio.images import a1111_parameters

    image = make_image(alice)
    job = image.job
    job.params = {**job.params, "steps": 20, "hiresFix": {"upscale": 2.0, "strength": 0.5, "steps": 20}}
    job.total_steps = 30
    job.save()
    body = alice_client.get(reverse("image_detail", args=[image.id])).content.decode()
    assert "30 in all: 20 base + 10 hires" in body
    text = a1111_parameters(job.params, seed=1, model_name="m", steps_run=30)
    assert "Denoising strength: 0.5, Hires upscale: 2, Hires steps: 20, Hires upscaler: Lanczos" in text


def test_the_job_page_shows_both_passes_and_the_upscaled_size(alice_client):
    assert _post(alice_client, width="256", height="256", hiresUpscale="1.5", hiresStrength="0.5",
                 hiresSteps="10").status_code == 302
    job = Job.objects.get()
    body = alice_client.get(reverse("job_detail", args=[job.id])).content.decode()
    assert "25 steps: 20 base + 5 hires" in body
    assert "256 × 256 → 384 × 384" in body
