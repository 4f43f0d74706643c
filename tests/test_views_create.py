import base64

import pytest
from django.urls import reverse

from tests.conftest import PASSWORD, png_bytes
from webapp.studio.models import Job, Upload


@pytest.fixture
def alice_client(client, alice, builtin_model):
    client.login(username="alice", password=PASSWORD)
    return client


def _post(client, task="text-to-image", **fields):
    data = {"positivePrompt": "a lighthouse at dusk", "model": "stepwise:1@1", "steps": "20", "CFGScale": "7",
            "scheduler": "Euler", "numberResults": "1", "width": "512", "height": "512", **fields}
    return client.post(reverse("create", args=[task]), {k: v for k, v in data.items() if v is not None})


def test_it_requires_login(client, db):
    response = client.get(reverse("create", args=["text-to-image"]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_it_404s_for_an_unknown_task(alice_client):
    assert alice_client.get("/create/upscale/").status_code == 404


def test_it_shows_the_form_with_what_the_builtin_model_understands(alice_client):
    response = alice_client.get(reverse("create", args=["text-to-image"]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Stepwise Shapes (built-in)" in body
    assert '"examplePrompts": ["a red circle on a blue background"' in body
    assert 'id="example-prompts"' in body
    assert 'data-testid="effective-steps"' in body
    assert "20 steps will run" in body  # the built-in model's default steps
    assert 'id="models-data"' in body and 'id="schedulers-data"' in body
    assert "data-submit-shortcut" in body


def test_image_tasks_count_steps_of_the_schedule(alice_client):
    response = alice_client.get(reverse("create", args=["image-to-image"]))
    assert "16 of 20 steps will run" in response.content.decode()  # default strength 0.8


def test_an_invalid_post_names_the_field_keeps_values_and_stores_nothing(alice_client):
    before = Job.objects.count()
    response = _post(alice_client, positivePrompt="", negativePrompt="blurry", seed="-5")
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="positivePrompt-error"' in body
    assert "Prompt is required" in body  # the form's label, not the API's field name
    assert "positivePrompt is" not in body
    assert 'id="seed-error"' in body
    assert ">blurry</textarea>" in body
    assert 'value="-5"' in body
    assert Job.objects.count() == before


def test_a_valid_post_queues_a_job_with_the_effective_steps(alice_client, alice):
    response = _post(alice_client, seed="77")
    job = Job.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("job_detail", args=[job.id])
    assert job.owner == alice
    assert job.status == Job.Status.QUEUED
    assert job.total_steps == 20
    assert job.params["seed"] == 77
    assert job.params["positivePrompt"] == "a lighthouse at dusk"


def test_image_to_image_stores_the_upload_and_the_steps_that_run(alice_client):
    upload = _upload("source.png", png_bytes(64, 64))
    response = _post(alice_client, "image-to-image", steps="50", strength="0.58", width=None, height=None,
                     seedImage=upload)
    assert response.status_code == 302
    job = Job.objects.get()
    assert job.task_type == "imageToImage"
    assert job.total_steps == 28  # int(50 * 0.58): the float trap
    assert Upload.objects.filter(id=job.params["seedImage"]).exists()
    assert (job.params["width"], job.params["height"]) == (64, 64)


def test_a_gallery_image_can_be_the_source(alice_client, alice, make_image):
    image = make_image(alice)
    response = _post(alice_client, "image-to-image", strength="0.5", width=None, height=None,
                     seedImageId=str(image.id))
    assert response.status_code == 302
    assert Job.objects.get(task_type="imageToImage").params["seedImage"] == str(image.id)


def test_image_tasks_need_a_source(alice_client):
    response = _post(alice_client, "image-to-image", strength="0.5", width=None, height=None)
    assert response.status_code == 400
    assert 'id="seedImage-error"' in response.content.decode()
    assert not Job.objects.exists()


def test_inpainting_with_no_effective_step_is_refused(alice_client):
    response = _post(alice_client, "inpainting", steps="10", strength="0.05", width=None, height=None,
                     seedImage=_upload("s.png", png_bytes(64, 64)),
                     maskImageData=_data_uri(png_bytes(64, 64, (255, 255, 255))))
    assert response.status_code == 400
    assert 'id="strength-error"' in response.content.decode()
    assert not Job.objects.exists()


def test_inpainting_takes_a_painted_mask(alice_client):
    response = _post(alice_client, "inpainting", steps="20", strength="0.75", width=None, height=None,
                     seedImage=_upload("s.png", png_bytes(64, 64)),
                     maskImageData=_data_uri(png_bytes(64, 64, (255, 255, 255))))
    assert response.status_code == 302
    job = Job.objects.get()
    assert job.total_steps == 15
    assert Upload.objects.filter(id=job.params["maskImage"]).exists()


def test_inpainting_keeps_an_uploaded_source_when_the_form_comes_back(alice_client):
    response = _post(alice_client, "inpainting", positivePrompt="", strength="0.75", width=None, height=None,
                     seedImage=_upload("s.png", png_bytes(64, 64)),
                     maskImageData=_data_uri(png_bytes(64, 64, (255, 255, 255))))
    assert response.status_code == 400
    body = response.content.decode()
    assert 'name="seedImageData" value="data:image/png;base64,' in body
    assert 'name="maskImageData" value="data:image/png;base64,' in body


def test_outpainting_sends_the_sides_as_integers(alice_client):
    response = _post(alice_client, "outpainting", strength="0.9", seedImage=_upload("s.png", png_bytes(128, 128)),
                     outpaintTop="0", outpaintRight="256", outpaintBottom="64", outpaintLeft="0", outpaintBlur="8")
    assert response.status_code == 302
    job = Job.objects.get()
    assert job.params["outpaint"] == {"top": 0, "right": 256, "bottom": 64, "left": 0, "blur": 8}
    assert (job.params["width"], job.params["height"]) == (384, 192)


def test_outpainting_refuses_sides_off_the_grid(alice_client):
    response = _post(alice_client, "outpainting", strength="0.9", seedImage=_upload("s.png", png_bytes(128, 128)),
                     outpaintTop="0", outpaintRight="100", outpaintBottom="0", outpaintLeft="0", outpaintBlur="8")
    assert response.status_code == 400
    body = response.content.decode()
    assert "Right must be a multiple of 64, not 100." in body
    assert "outpaint.right" not in body
    assert not Job.objects.exists()


def test_form_errors_speak_the_forms_labels_and_the_api_keeps_field_names():
    from webapp.studio.forms import in_form_words

    assert in_form_words("positivePrompt is required: describe the image.") == "Prompt is required: describe the image."
    assert in_form_words("outpaint.bottom must be a multiple of 64, not 30.") == (
        "Bottom must be a multiple of 64, not 30.")
    assert in_form_words("CFGScale must be between 0 and 50.") == "CFG scale must be between 0 and 50."
    assert in_form_words("maskImage is 64x64 but seedImage is 128x128; they must be the same size.") == (
        "Mask is 64x64 but the source image is 128x128; they must be the same size.")
    assert in_form_words("numberResults must be between 1 and 8 here (the API allows up to 20).") == (
        "Number of images must be between 1 and 8 here (the API allows up to 20).")
    # Only whole field names change: "the outpainted image" and "steps" stay as they are.
    assert in_form_words("the outpainted image would be 4096x64") == "The outpainted image would be 4096x64"
    assert in_form_words("steps 4 x strength 0.1 runs no step") == "Steps 4 x strength 0.1 runs no step"


def test_the_form_allows_at_most_eight_results(alice_client):
    response = _post(alice_client, numberResults="9")
    assert response.status_code == 400
    assert 'id="numberResults-error"' in response.content.decode()
    assert not Job.objects.exists()


def test_source_prefill_follows_access(client, alice, bob, charlie, make_image):
    image = make_image(alice)
    url = reverse("create", args=["image-to-image"]) + f"?source={image.id}"
    client.login(username="bob", password=PASSWORD)
    assert f'value="{image.id}"' in client.get(url).content.decode()
    client.login(username="charlie", password=PASSWORD)
    body = client.get(url).content.decode()
    assert f'value="{image.id}"' not in body
    assert "not available to you" in body


def test_use_as_source_carries_the_prompt_and_settings_but_keeps_the_source_size(client, alice, bob, make_image):
    image = make_image(bob, prompt="a harbour at night", seed=777, width=128, height=128)
    client.login(username="alice", password=PASSWORD)  # a teammate's team image
    body = client.get(reverse("create", args=["image-to-image"]) + f"?source={image.id}").content.decode()
    assert ">a harbour at night</textarea>" in body
    assert 'id="seed" name="seed"' in body and 'value="777"' in body
    assert f'name="seedImageId" value="{image.id}"' in body
    assert 'id="width" name="width" min="128" max="2048" step="8" inputmode="numeric" value=""' in body
    assert 'value="0.80"' in body  # from text to image: the model's default strength
    assert "not available to you" not in body


def test_reuse_prefills_the_parameters_and_the_seed(alice_client, alice, make_image):
    image = make_image(alice, prompt="an isometric ruin", seed=4242)
    response = alice_client.get(reverse("create", args=["text-to-image"]) + f"?reuse={image.id}")
    body = response.content.decode()
    assert ">an isometric ruin</textarea>" in body
    assert 'value="4242"' in body


def _upload(name, data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="image/png")


def _data_uri(data):
    return "data:image/png;base64," + base64.b64encode(data).decode()


def test_the_advice_view_gives_the_documents_advice_for_the_sliders(alice_client):
    url = reverse("create_advice", args=["image-to-image"])
    response = alice_client.get(url, {"model": "stepwise:1@1", "scheduler": "Euler", "steps": "20", "strength": "0.3"})
    assert response.status_code == 200
    assert response.json()["cost"] == "6 of 20 steps instead of 30: 80% less compute."
    [low] = response.json()["advice"]
    assert low == {"level": "warn", "key": "low-strength",
                   "text": "At strength 0.3, 20 steps run only 6 — 50 would run 15: raise steps at low strength."}


def test_the_advice_view_refuses_what_the_form_would_not_send(alice_client):
    url = reverse("create_advice", args=["text-to-image"])
    assert alice_client.get(url, {"model": "stepwise:1@1", "scheduler": "Euler", "steps": "0"}).status_code == 400
    assert alice_client.get(url, {"model": "nobody:1@1", "scheduler": "Euler", "steps": "20"}).status_code == 400
    assert alice_client.get(url, {"model": "stepwise:1@1", "scheduler": "Nope", "steps": "20"}).status_code == 400
    assert alice_client.get(reverse("create_advice", args=["upscale"])).status_code == 404


def test_the_form_shows_the_advice_before_the_script_runs(alice_client):
    body = alice_client.get(reverse("create", args=["text-to-image"])).content.decode()
    # The built-in model defaults to 20 steps, inside its own 10-30: a fresh form opens without a warning.
    assert 'data-advice="sweet-spot"' in body
    assert 'class="warn"' not in body
    assert "20 steps instead of 30: 33% less compute." in body
    assert 'id="vocabulary-data"' in body


def test_the_advice_view_estimates_time_and_cost_from_this_servers_measurements(alice_client, builtin_model, alice,
                                                                                make_image, settings):
    from webapp.studio.models import StepProfile

    url = reverse("create_advice", args=["text-to-image"])
    query = {"model": "stepwise:1@1", "scheduler": "Euler", "steps": "20", "width": "64", "height": "64"}
    assert alice_client.get(url, query).json()["estimate"] == ""  # nothing measured yet
    make_image(alice)  # 20 steps in 1.5 s at 64x64
    assert alice_client.get(url, query).json()["estimate"] == (
        "About 1.5 s of GPU time on this server (0.07 s per step, from the last 1 image).")
    settings.STEPWISE_GPU_HOUR_PRICE = 2.0
    StepProfile.objects.create(model=builtin_model, scheduler="Euler", width=64, height=64,
                               result={"seconds_per_step": 0.05})
    estimate = alice_client.get(url, {**query, "numberResults": "2"}).json()["estimate"]
    assert estimate == ("About 2.0 s of GPU time on this server (0.05 s per step, from its steps profile); "
                        "0.0011 at the GPU price.")
    # A hires fix adds its pass, on the upscaled image: 10 steps x 0.5 at 128x128, where a step costs
    # four times as much when that size was never measured (by pixel count).
    hires = {**query, "hiresSteps": "10", "hiresStrength": "0.5", "hiresUpscale": "2"}
    assert alice_client.get(url, hires).json()["estimate"] == (
        "About 2.0 s of GPU time on this server (0.08 s per step, from its steps profile); 0.0011 at the GPU price.")
    # The refiner splits the one schedule: the same 20 steps.
    refined = alice_client.get(url, {**query, "refinerStartStep": "16"}).json()["estimate"]
    assert refined.startswith("About 1.0 s of GPU time")
    bad = alice_client.get(url, {**hires, "hiresUpscale": "3"})
    assert bad.status_code == 400 and "hiresUpscale" in bad.json()["error"]


def test_same_settings_new_seed_keeps_everything_but_the_seed(alice_client, alice, make_image):
    image = make_image(alice, prompt="an isometric ruin", seed=4242)
    url = reverse("create", args=["text-to-image"]) + f"?reuse={image.id}&seed=random"
    body = alice_client.get(url).content.decode()
    assert ">an isometric ruin</textarea>" in body
    assert 'value="4242"' not in body
    assert 'placeholder="Random" value=""' in body


def test_the_prompt_history_lists_the_users_own_recent_prompts_once_each(alice_client, alice, bob, make_image):
    make_image(alice, prompt="a red circle")
    make_image(alice, prompt="a blue square")
    make_image(alice, prompt="a red circle")
    make_image(bob, prompt="bob's own prompt")
    body = alice_client.get(reverse("create", args=["text-to-image"])).content.decode()
    assert body.count('data-prompt="a red circle"') == 1
    assert 'data-prompt="a blue square"' in body
    assert "bob&#x27;s own prompt" not in body and "bob's own prompt" not in body
    assert body.index('data-prompt="a red circle"') < body.index('data-prompt="a blue square"')  # newest first
