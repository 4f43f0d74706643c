"""The one request validator: field-named errors, nothing stored on refusal, the effective step total."""

import base64
import io

import pytest
from PIL import Image as PILImage

from webapp.jobs.services import QueueFull, job_create
from webapp.studio.fields import InvalidRequest
from webapp.studio.models import Job, Upload
from webapp.studio.schema import validate_inference


def png(width=128, height=128, color=(10, 200, 30), fmt="PNG"):
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), color).save(out, format=fmt)
    return out.getvalue()


def data_uri(raw):
    return "data:image/png;base64," + base64.b64encode(raw).decode()


def base(**fields):
    return {"positivePrompt": "a red fox in the snow", "model": "stepwise:1@1", **fields}


def errors_of(payload, user, **kwargs):
    with pytest.raises(InvalidRequest) as caught:
        validate_inference(payload, user=user, **kwargs)
    return caught.value.by_field()


def test_it_fills_defaults_from_the_model(alice, builtin_model):
    valid = validate_inference(base(), user=alice)
    assert valid.task_type == "textToImage"
    assert valid.params["steps"] == 20 and valid.params["scheduler"] == "Euler"
    assert valid.params["width"] == 512 and valid.params["seed"] >= 1
    assert valid.plan.steps == 20


@pytest.mark.parametrize("field,value,fragment", [
    ("steps", 0, "between 1 and 100"),
    ("steps", 101, "between 1 and 100"),
    ("steps", "lots", "whole number"),
    ("steps", True, "whole number"),
    ("CFGScale", float("nan"), "between 0 and 50"),
    ("CFGScale", 51, "between 0 and 50"),
    ("width", 100, "between 128 and 2048"),
    ("width", 130, "multiple of 8"),
    ("height", -64, "between 128"),
    ("seed", 0, "between 1 and"),
    ("numberResults", 21, "between 1 and 20"),
    ("scheduler", "Warp Drive", "Valid: Euler"),
    ("model", "not an air", "AIR id"),
    ("model", "civitai:9@9", "Unknown model"),
    ("outputType", "fax", "outputType must be one of"),
    ("outputFormat", "GIF", "outputFormat must be one of"),
    ("lora", [{"model": "civitai:1@1", "weight": 1}], "Unknown LoRA"),
    ("controlNet", [{"model": "civitai:1@1"}], "not supported"),
    ("positivePrompt", "x" * 3001, "2-3000"),
    ("positivePrompt", "", "required"),
])
def test_it_names_the_bad_field(alice, builtin_model, field, value, fragment):
    errors = errors_of(base(**{field: value}), alice)
    assert field in errors
    assert fragment in errors[field]


def test_it_accepts_every_runware_scheduler_alias(alice, builtin_model):
    for name in ["Euler a", "DPM++ 2M Karras", "EulerDiscreteScheduler", "UniPCMultistepScheduler", "LCMScheduler",
                 "DPM++ SDE", "DPM++ 3M", "Default"]:
        assert validate_inference(base(scheduler=name), user=alice).params["scheduler"]


def test_image_tasks_need_a_source_and_inpainting_a_mask(alice, builtin_model):
    assert "seedImage" in errors_of(base(), alice, task_type="imageToImage")
    errors = errors_of(base(seedImage=data_uri(png())), alice, task_type="inpainting")
    assert "maskImage" in errors
    assert "outpaint" in errors_of(base(seedImage=data_uri(png())), alice, task_type="outpainting")


@pytest.mark.parametrize("value,fragment", [
    ("data:image/png;base64,!!!notbase64", "not valid base64"),
    (base64.b64encode(b"hello world, not an image").decode(), "not a readable image"),
    (base64.b64encode(png()[:60]).decode(), "not a readable image"),
    ("3f1b2c3d-0000-4000-8000-000000000000", "not an image you can use"),
    ("https://example.com/cat.png", "fetching URLs is disabled"),
])
def test_bad_source_images_are_refused_by_name(alice, builtin_model, value, fragment):
    errors = errors_of(base(seedImage=value), alice)
    assert fragment in errors["seedImage"]


def test_decompression_bombs_and_oversize_uploads_are_refused(alice, builtin_model, settings):
    settings.STEPWISE_MAX_IMAGE_PIXELS = 256 * 256
    assert "over the limit" in errors_of(base(seedImage=png(512, 512)), alice)["seedImage"]
    settings.STEPWISE_MAX_UPLOAD_BYTES = 100
    assert "MB limit" in errors_of(base(seedImage=png(128, 128)), alice)["seedImage"]


def test_a_mask_of_another_size_is_refused(alice, builtin_model):
    errors = errors_of(base(seedImage=png(128, 128), maskImage=png(64, 64)), alice, task_type="inpainting")
    assert "same size" in errors["maskImage"]


def test_outpaint_extensions_must_be_multiples_of_64_and_fit_the_model(alice, builtin_model):
    errors = errors_of(base(seedImage=png(), outpaint={"left": 50}), alice)
    assert "multiple of 64" in errors["outpaint"]
    errors = errors_of(base(seedImage=png(), outpaint={"left": 1984, "right": 64}), alice)
    assert "at most 2048x2048" in errors["outpaint"]
    valid = validate_inference(base(seedImage=png(), outpaint={"left": 64, "top": 128, "blur": 8}), user=alice)
    assert valid.task_type == "outpainting"
    assert (valid.params["width"], valid.params["height"]) == (192, 256)


def test_zero_effective_steps_are_refused_with_a_clear_message(alice, builtin_model):
    errors = errors_of(base(seedImage=png(), maskImage=png(), steps=10, strength=0.05), alice, task_type="inpainting")
    assert "runs no denoising step" in errors["strength"]


@pytest.mark.parametrize("steps,strength,expected", [(40, 0.5, 20), (50, 0.3, 15), (20, 0.3, 6), (50, 0.58, 28)])
def test_the_job_total_is_the_effective_step_count(alice, builtin_model, steps, strength, expected):
    valid = validate_inference(base(seedImage=png(), steps=steps, strength=strength), user=alice)
    assert valid.plan.steps == expected
    assert valid.params["strength"] == strength


def test_low_strength_gets_the_product_documents_advice(alice, builtin_model):
    valid = validate_inference(base(seedImage=png(), steps=20, strength=0.3), user=alice)
    assert any("20 steps run only 6 — 50 would run 15" in line for line in valid.advice)


def test_a_refused_request_stores_nothing(alice, builtin_model):
    with pytest.raises(InvalidRequest):
        validate_inference(base(seedImage=png(), maskImage=png(64, 64)), user=alice, task_type="inpainting")
    assert Job.objects.count() == 0 and Upload.objects.count() == 0


def test_job_create_stores_sources_and_enqueues_after_commit(alice, builtin_model, django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    valid = validate_inference(base(seedImage=data_uri(png()), strength=0.5, steps=40), user=alice)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = job_create(user=alice, valid=valid)
        assert DBTaskResult.objects.count() == 0  # nothing is enqueued before the commit
    for callback in callbacks:
        callback()
    job.refresh_from_db()
    assert job.total_steps == 20 and job.status == "queued"
    assert Upload.objects.filter(id=job.params["seedImage"], owner=alice).exists()
    task = DBTaskResult.objects.get()
    assert task.queue_name == "generation" and str(task.id) == job.task_result_id
    assert task.args_kwargs["kwargs"] == {"job_id": str(job.id)}


def test_charlie_cannot_use_alices_images_as_sources(alice, charlie, make_image):
    image = make_image(alice, visibility="team")
    errors = errors_of(base(seedImage=str(image.id)), charlie)
    assert "not an image you can use" in errors["seedImage"]


def test_bob_can_use_alices_team_images_but_not_private_ones(alice, bob, make_image):
    shared = make_image(alice, visibility="team", width=128, height=128)
    private = make_image(alice, visibility="private", width=128, height=128)
    seed_image = validate_inference(base(seedImage=str(shared.id)), user=bob).seed_image
    assert seed_image is not None and seed_image.existing_id == shared.id
    assert "seedImage" in errors_of(base(seedImage=str(private.id)), bob)


def test_per_user_queue_limit_and_fair_priorities(alice, bob, builtin_model, settings):
    settings.STEPWISE_MAX_QUEUED_PER_USER = 3
    jobs = [job_create(user=alice, valid=validate_inference(base(), user=alice)) for _ in range(3)]
    assert [j.priority for j in jobs] == [0, -1, -2]
    with pytest.raises(QueueFull) as caught:
        job_create(user=alice, valid=validate_inference(base(), user=alice))
    assert "limit is 3" in caught.value.errors[0].message
    # bob's first job goes ahead of alice's second and third.
    assert job_create(user=bob, valid=validate_inference(base(), user=bob)).priority == 0


def test_admins_can_set_a_users_queue_limit(alice, builtin_model, settings):
    from webapp.studio.services import profile_for

    settings.STEPWISE_MAX_QUEUED_PER_USER = 100
    profile = profile_for(alice)
    profile.max_queued_jobs = 1
    profile.save()
    job_create(user=alice, valid=validate_inference(base(), user=alice))
    with pytest.raises(QueueFull) as caught:
        job_create(user=alice, valid=validate_inference(base(), user=alice))
    assert "limit is 1" in caught.value.errors[0].message
