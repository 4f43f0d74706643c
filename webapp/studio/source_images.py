"""Seed and mask images as requests send them: an image UUID, a data URI, bare base64, bytes or a URL.

`load_source_image` is shared by the validator (seedImage, maskImage) and the API's imageUpload.
"""

import uuid
from dataclasses import dataclass

from django.conf import settings
from PIL import Image as PILImage

from webapp.studio import access
from webapp.studio.fetch import fetch_image_bytes
from webapp.studio.fields import FieldError, InvalidRequest
from webapp.studio.images import ImageDecodeError, decode_base64, image_format, open_image


@dataclass
class SourceImage:
    """A seed or mask image: an existing Upload/Image row, or new bytes to store with the job."""

    image: PILImage.Image
    existing_id: uuid.UUID | None = None
    new_bytes: bytes | None = None
    format: str = ""  # of new_bytes, as Pillow names it (PNG, JPEG, ...)


def _refused(name, message) -> InvalidRequest:
    return InvalidRequest([FieldError(name, message, "invalid" + name[:1].upper() + name[1:])])


def load_source_image(value, name: str, *, user) -> SourceImage:
    """The image `value` names or holds; InvalidRequest naming field `name` when it is unusable.

    value: an image UUID the user may use, a data URI, bare base64, raw bytes (forms), or an
    http(s) URL where STEPWISE_ALLOW_URL_FETCH is on.
    """
    if isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    elif isinstance(value, str):
        value = value.strip()
        try:
            image_id = uuid.UUID(value)
        except ValueError:
            image_id = None
        if image_id is not None:
            source = access.source_image_for(user, image_id)
            if source is None:
                raise _refused(name, f"{name} {value} is not an image you can use.")
            try:
                with source.open("rb") as handle:
                    return SourceImage(image=open_image(handle.read()), existing_id=image_id)
            except (OSError, ImageDecodeError):
                raise _refused(name, f"{name} {value} could not be read from storage.") from None
        if value.startswith(("http://", "https://")):
            if not settings.STEPWISE_ALLOW_URL_FETCH:
                raise _refused(name, f"{name}: fetching URLs is disabled on this server; upload the image first "
                                     "(imageUpload) or send a data URI.")
            try:
                data = fetch_image_bytes(value)
            except ImageDecodeError as exc:
                raise _refused(name, f"{name} {exc}.") from None
        else:
            try:
                data = decode_base64(value)
            except ImageDecodeError as exc:
                raise _refused(name, f"{name} {exc}.") from None
    else:
        raise _refused(name, f"{name} must be an image UUID, a data URI or base64 text.")
    try:
        image = open_image(data)
        return SourceImage(image=image, new_bytes=data, format=image_format(data))
    except ImageDecodeError as exc:
        raise _refused(name, f"{name} {exc}.") from None
