"""Image files, served only after an access check or through a signed, expiring link.

Ids are random UUIDs and nothing under MEDIA_ROOT is exposed by URL, so a file can only be reached
through these views.
"""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_GET
from PIL import Image as PILImage

from webapp.studio import access
from webapp.studio.images import encode
from webapp.studio.models import Image, StepPreview, Upload

SIGNING_SALT = "stepwise.files"


def _file_response(field, content_type, *, filename=None):
    try:
        handle = field.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404("The file is gone.") from None
    response = FileResponse(handle, content_type=content_type, as_attachment=filename is not None, filename=filename)
    response["Cache-Control"] = "private, max-age=86400"
    return response


def _visible_image(request, image_id):
    return get_object_or_404(access.images_visible_to(request.user), id=image_id)


@require_GET
@login_required
def image_file(request, image_id):
    return _file_response(_visible_image(request, image_id).file, "image/png")


@require_GET
@login_required
def image_download(request, image_id):
    image = _visible_image(request, image_id)
    # The stored PNG already carries the `parameters` and `stepwise` text chunks.
    return _file_response(image.file, "image/png", filename=f"stepwise-{image.seed}-{str(image.id)[:8]}.png")


@require_GET
@login_required
def step_preview(request, job_id, image_index, step):
    """One step of an image's replay: visible exactly when the image it led to is."""
    if not access.images_visible_to(request.user).filter(job_id=job_id, index=image_index).exists():
        raise Http404("No such image.")
    preview = get_object_or_404(StepPreview, job_id=job_id, image_index=image_index, step=step)
    response = HttpResponse(bytes(preview.webp), content_type="image/webp")
    response["Cache-Control"] = "private, max-age=86400"
    return response


@require_GET
@login_required
def image_thumb(request, image_id):
    image = _visible_image(request, image_id)
    if not image.thumbnail:
        return _file_response(image.file, "image/png")
    return _file_response(image.thumbnail, "image/webp")


@require_GET
@login_required
def upload_file(request, upload_id):
    upload = get_object_or_404(Upload, id=upload_id, owner=request.user)
    return _file_response(upload.file, upload.content_type)


def signed_url(image: Image, *, output_format: str = "PNG", quality: int = 95, ttl: int | None = None) -> str:
    """A path that needs no session: for API clients, valid for `ttl` seconds (the API's `ttl`), at
    most STEPWISE_SIGNED_URL_SECONDS."""
    data = {"i": str(image.id), "f": output_format, "q": quality}
    if ttl is not None:
        data["t"] = int(ttl)
    token = signing.dumps(data, salt=SIGNING_SALT, compress=True)
    ext = {"JPG": "jpg", "PNG": "png", "WEBP": "webp"}[output_format]
    return reverse("signed_file", args=[token]) + f"?ext=.{ext}"


@require_GET
def signed_file(request, token):
    try:
        data = signing.loads(token, salt=SIGNING_SALT, max_age=settings.STEPWISE_SIGNED_URL_SECONDS)
        if "t" in data:  # a shorter lifetime the client asked for
            signing.loads(token, salt=SIGNING_SALT, max_age=min(data["t"], settings.STEPWISE_SIGNED_URL_SECONDS))
    except signing.SignatureExpired:
        return HttpResponse("This link has expired.", status=410, content_type="text/plain")
    except signing.BadSignature:
        raise Http404("Unknown link.") from None
    image = get_object_or_404(Image, id=data["i"])
    if data["f"] == "PNG":
        return _file_response(image.file, "image/png")
    with image.file.open("rb") as handle:
        body, mime = encode(PILImage.open(handle), data["f"], data.get("q", 95))
    response = HttpResponse(body, content_type=mime)
    response["Cache-Control"] = "private, max-age=86400"
    return response
