"""Uploads have limits and an end: stored as received, a per-user quota, and `manage.py cleanup`."""

import io
import os
import time
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone
from PIL import Image as PILImage

from webapp.jobs.cleanup import uploads_cleanup
from webapp.jobs.services import UploadQuotaExceeded, job_create, upload_create
from webapp.studio.models import Upload
from webapp.studio.schema import validate_inference
from webapp.studio.services import profile_for
from webapp.studio.source_images import load_source_image


def jpeg(size=(256, 256), quality=90):
    noise = PILImage.effect_noise(size, 80).convert("RGB")
    out = io.BytesIO()
    noise.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def request(**fields):
    return {"positivePrompt": "a red fox in the snow", "model": "stepwise:1@1", "strength": 0.5, **fields}


def test_a_source_image_is_stored_byte_for_byte(alice, builtin_model):
    data = jpeg()
    job = job_create(user=alice, valid=validate_inference(request(seedImage=data), user=alice))
    upload = Upload.objects.get(id=job.params["seedImage"])
    assert str(upload.file.name).endswith(".jpg") and upload.content_type == "image/jpeg"
    with upload.file.open("rb") as handle:
        assert handle.read() == data  # not re-encoded to a PNG several times larger
    assert upload.size == len(data)


def test_the_upload_view_serves_it_with_its_type(client, alice, builtin_model):
    from django.urls import reverse

    from tests.conftest import PASSWORD

    upload = upload_create(user=alice, source=load_source_image(jpeg(), "image", user=alice))
    client.login(username="alice", password=PASSWORD)
    response = client.get(reverse("upload_file", args=[upload.id]))
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"


def test_the_quota_refuses_by_field_and_stores_nothing(alice, bob, builtin_model, settings):
    data = jpeg()
    settings.STEPWISE_UPLOAD_QUOTA_MB = 1
    kib = len(data) // 1024
    count = (1024 // max(kib, 1))
    for _ in range(count):
        upload_create(user=alice, source=load_source_image(data, "image", user=alice))
    before = Upload.objects.count()
    with pytest.raises(UploadQuotaExceeded) as caught:
        job_create(user=alice, valid=validate_inference(request(seedImage=data), user=alice))
    error = caught.value.errors[0]
    assert error.parameter == "seedImage" and "quota of 1 MB" in error.message
    assert Upload.objects.count() == before
    # Bob has a quota of his own; an admin can give alice more.
    job_create(user=bob, valid=validate_inference(request(seedImage=data), user=bob))
    profile = profile_for(alice)
    profile.upload_quota_mb = 10
    profile.save()
    job_create(user=alice, valid=validate_inference(request(seedImage=data), user=alice))


def test_the_api_reports_the_quota_on_image(client, alice, builtin_model, settings):
    import base64
    import json
    import uuid

    from webapp.api.services import api_key_create

    settings.STEPWISE_UPLOAD_QUOTA_MB = 0
    key = api_key_create(user=alice)[1]
    task = {"taskType": "imageUpload", "taskUUID": str(uuid.uuid4()),
            "image": base64.b64encode(jpeg()).decode()}
    body = client.post("/v1", data=json.dumps([task]), content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {key}").json()
    assert body["errors"][0]["code"] == "uploadQuotaExceeded" and body["errors"][0]["parameter"] == "image"
    assert Upload.objects.count() == 0


def _age(upload, hours):
    Upload.objects.filter(id=upload.id).update(created_at=timezone.now() - timedelta(hours=hours))


def test_cleanup_deletes_only_old_unreferenced_uploads(alice, builtin_model, settings):
    settings.STEPWISE_UPLOAD_RETENTION_HOURS = 24
    used = job_create(user=alice, valid=validate_inference(request(seedImage=jpeg()), user=alice))
    used_upload = Upload.objects.get(id=used.params["seedImage"])
    old = upload_create(user=alice, source=load_source_image(jpeg(), "image", user=alice))
    fresh = upload_create(user=alice, source=load_source_image(jpeg(), "image", user=alice))
    _age(used_upload, 48)
    _age(old, 48)
    # A file a rolled-back transaction left behind, with no row.
    orphan = default_storage.save("uploads/orphan.png", io.BytesIO(b"x" * 100))
    stamp = time.time() - 48 * 3600
    os.utime(default_storage.path(orphan), (stamp, stamp))
    old_name, old_size = str(old.file.name), old.size

    report = uploads_cleanup()

    assert report.uploads == 1 and report.orphan_files == 1 and report.bytes_freed == old_size + 100
    assert set(Upload.objects.values_list("id", flat=True)) == {used_upload.id, fresh.id}
    assert not default_storage.exists(old_name) and not default_storage.exists(orphan)
    assert default_storage.exists(str(used_upload.file.name))


def test_the_cleanup_command_reports_what_it_freed(alice, builtin_model):
    old = upload_create(user=alice, source=load_source_image(jpeg(), "image", user=alice))
    _age(old, 100)
    out = io.StringIO()
    call_command("cleanup", "--dry-run", stdout=out)
    assert "Dry run: Deleted 1 unreferenced upload(s)" in out.getvalue()
    assert Upload.objects.filter(id=old.id).exists()
    out = io.StringIO()
    call_command("cleanup", stdout=out)
    assert "Deleted 1 unreferenced upload(s)" in out.getvalue() and not Upload.objects.exists()
