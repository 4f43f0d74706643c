"""The imageUpload task: store an image for later use as seedImage or maskImage."""

from django.core import signing
from django.urls import reverse

from webapp.api.protocol.authentication import Client
from webapp.api.protocol.errors import ApiError, task_uuid_of
from webapp.api.protocol.field_table import refuse_unknown_fields
from webapp.jobs.services import upload_create
from webapp.studio.fields import InvalidRequest
from webapp.studio.models import Upload
from webapp.studio.source_images import load_source_image

UPLOAD_SIGNING_SALT = "stepwise.api.uploads"


def signed_upload_url(upload: Upload) -> str:
    token = signing.dumps({"u": str(upload.id)}, salt=UPLOAD_SIGNING_SALT, compress=True)
    return reverse("api_signed_upload", args=[token])


def image_upload(task, client: Client) -> dict:
    """Store an image (data URI, base64, or a URL where fetching is enabled) for use as seedImage/maskImage."""
    task_uuid = task_uuid_of(task)
    refuse_unknown_fields(task, "imageUpload")
    value = task.get("image")
    if value in (None, ""):
        raise ApiError("missingImage", "image is required: a data URI or base64 text.", parameter="image")
    if not isinstance(value, str):
        raise ApiError("invalidImage", "image must be a data URI or base64 text.", parameter="image")
    try:
        source = load_source_image(value, "image", user=client.user)
    except InvalidRequest as exc:
        raise ApiError("invalidImage", exc.errors[0].message, parameter="image") from None
    try:
        upload = upload_create(user=client.user, source=source)
    except InvalidRequest as exc:  # UploadQuotaExceeded
        raise ApiError(exc.errors[0].code, exc.errors[0].message, parameter="image") from None
    return {
        "taskType": "imageUpload",
        "taskUUID": task_uuid,
        "imageUUID": str(upload.id),
        "imageURL": client.base_url + signed_upload_url(upload),
    }
