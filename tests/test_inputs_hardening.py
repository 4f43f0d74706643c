"""Inputs that used to pass validation and then fail: unusual image modes, control characters.

Each test here failed before the fix: a CMYK JPEG gave HTTP 500 on the form and internalError on the
API (PNG cannot hold CMYK); a NUL in a prompt was stored by SQLite and refused by PostgreSQL.
"""

import base64
import io
import json
import uuid

import pytest
from django.urls import reverse
from PIL import Image as PILImage

from tests.conftest import PASSWORD
from webapp.jobs.services import job_create
from webapp.studio.fields import InvalidRequest
from webapp.studio.images import open_image
from webapp.studio.models import Job, Upload
from webapp.studio.schema import validate_inference


def encoded(mode, fmt, size=(128, 128), color=None):
    image = PILImage.new(mode, size, color if color is not None else 0)
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def cmyk_jpeg():
    return encoded("CMYK", "JPEG", color=(0, 200, 200, 0))


@pytest.mark.parametrize("mode,fmt,color,expected", [
    ("CMYK", "JPEG", (0, 200, 200, 0), "RGB"),
    ("I;16", "PNG", 40000, "L"),
    ("LA", "PNG", (100, 128), "RGBA"),
    ("P", "GIF", 3, "RGB"),
    ("1", "BMP", 1, "RGB"),
    ("RGBA", "WEBP", (1, 2, 3, 4), "RGBA"),
])
def test_every_mode_decodes_to_one_the_pipelines_take(settings, mode, fmt, color, expected):
    image = open_image(encoded(mode, fmt, color=color))
    assert image.mode == expected
    image.save(io.BytesIO(), format="PNG")  # what used to fail for CMYK


def test_sixteen_bit_greys_keep_their_tones(settings):
    image = PILImage.new("I;16", (64, 64))
    for x in range(64):
        for y in range(64):
            image.putpixel((x, y), x * 1000)
    out = io.BytesIO()
    image.save(out, format="PNG")
    grey = open_image(out.getvalue())
    assert grey.mode == "L"
    assert grey.getpixel((0, 0)) == 0 and grey.getpixel((63, 0)) == 255
    middle = grey.getpixel((32, 0))
    assert isinstance(middle, int) and 100 < middle < 150


def test_a_cmyk_seed_image_makes_a_job_on_the_form(client, alice, builtin_model):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.login(username="alice", password=PASSWORD)
    response = client.post(reverse("create", args=["image-to-image"]), {
        "positivePrompt": "a lighthouse at dusk", "model": "stepwise:1@1", "steps": "20", "CFGScale": "7",
        "scheduler": "Euler", "numberResults": "1", "strength": "0.5",
        "seedImage": SimpleUploadedFile("cmyk.jpg", cmyk_jpeg(), content_type="image/jpeg"),
    })
    assert response.status_code == 302, response.content[:500]
    job = Job.objects.get()
    assert Upload.objects.filter(id=job.params["seedImage"]).exists()


def test_a_cmyk_image_upload_works_on_the_api(client, alice, builtin_model):
    from webapp.api.services import api_key_create

    key = api_key_create(user=alice, name="t")[1]
    task = {"taskType": "imageUpload", "taskUUID": str(uuid.uuid4()),
            "image": "data:image/jpeg;base64," + base64.b64encode(cmyk_jpeg()).decode()}
    response = client.post("/v1", data=json.dumps([task]), content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {key}")
    body = response.json()
    assert response.status_code == 200, body
    assert body["data"][0]["imageUUID"]


@pytest.mark.parametrize("text,fragment", [
    ("a fox\x00in the snow", "U+0000"),
    ("a fox\x1bin the snow", "U+001B"),
    ("a fox\x7fin the snow", "U+007F"),
    ("a fox\ud800 in the snow", "U+D800"),
])
@pytest.mark.parametrize("field", ["positivePrompt", "negativePrompt"])
def test_control_characters_are_refused_by_field_name(alice, builtin_model, field, text, fragment):
    payload = {"positivePrompt": "a red fox in the snow", "model": "stepwise:1@1", field: text}
    with pytest.raises(InvalidRequest) as caught:
        validate_inference(payload, user=alice)
    message = caught.value.by_field()[field]
    assert fragment in message and field in message
    assert Job.objects.count() == 0


def test_newlines_and_tabs_are_text(alice, builtin_model):
    valid = validate_inference({"positivePrompt": "a fox\n\tin the snow\r\n", "model": "stepwise:1@1"}, user=alice)
    job = job_create(user=alice, valid=valid)
    assert Job.objects.get(id=job.id).params["positivePrompt"] == "a fox\n\tin the snow"


def test_the_api_refuses_a_nul_and_stores_nothing(client, alice, builtin_model):
    from webapp.api.services import api_key_create

    key = api_key_create(user=alice, name="t")[1]
    task = {"taskType": "imageInference", "taskUUID": str(uuid.uuid4()), "model": "stepwise:1@1",
            "positivePrompt": "a fox\u0000", "deliveryMethod": "async"}
    search = {"taskType": "modelSearch", "taskUUID": str(uuid.uuid4()), "search": "step\u0000"}
    response = client.post("/v1", data=json.dumps([task, search]), content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {key}")
    errors = response.json()["errors"]
    assert {e["parameter"] for e in errors} == {"positivePrompt", "search"}
    assert all("U+0000" in e["message"] for e in errors)
    assert Job.objects.count() == 0
    # A NUL in the key itself is an unknown key, not a database error.
    response = client.post("/v1", data=json.dumps([{"taskType": "ping", "ping": True}]),
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key[:10]}\u0000{key[11:]}")
    assert response.status_code == 401
