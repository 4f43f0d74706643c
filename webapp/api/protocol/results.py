"""An imageInference task's result items: images as URLs or base64, their costs, and the job's error."""

import base64
import io
from typing import Any

from django.conf import settings
from PIL import Image as PILImage

from webapp.api.models import ApiTask
from webapp.api.protocol.errors import error_item
from webapp.jobs.runner import SENSITIVE_ERROR_PREFIX, UPLOAD_ERROR_PREFIX
from webapp.studio.files import signed_url
from webapp.studio.images import encode
from webapp.studio.models import Job


def _image_bytes(image, fmt: str, quality: int) -> tuple[bytes, str]:
    with image.file.open("rb") as handle:
        data = handle.read()
    if fmt == "PNG":
        return data, "image/png"
    return encode(PILImage.open(io.BytesIO(data)), fmt, quality)


def job_costs(job, images) -> dict:
    """Cost of each image: GPU seconds x STEPWISE_GPU_HOUR_PRICE / 3600.

    Each image is charged its own generation time; the last image of a request also carries the rest
    of the job's GPU time (model loading), so a request's costs add up to the job's GPU seconds.
    """
    price = settings.STEPWISE_GPU_HOUR_PRICE
    last = job.number_results - 1
    costs = {}
    others = sum(i.seconds for i in images if i.index != last)
    for image in images:
        seconds = image.seconds
        if image.index == last and job.is_finished:
            seconds = max(job.gpu_seconds - others, image.seconds)
        costs[image.id] = round(seconds / 3600 * price, 8)
    return costs


def image_item(api_task: ApiTask, image, *, base_url: str, cost=None, status=None) -> dict:
    params = api_task.job.params
    fmt = params.get("outputFormat", "JPG")
    quality = params.get("outputQuality", 95)
    item: dict[str, Any] = {"taskType": "imageInference", "taskUUID": api_task.task_uuid}
    if status:
        item["status"] = status
    item["imageUUID"] = str(image.id)
    encoded = None
    for output_type in api_task.output_types:
        if output_type == "URL":
            item["imageURL"] = base_url + signed_url(image, output_format=fmt, quality=quality, ttl=params.get("ttl"))
            continue
        if encoded is None:
            encoded = _image_bytes(image, fmt, quality)
        data, mime = encoded
        text = base64.b64encode(data).decode()
        if output_type == "base64Data":
            item["imageBase64Data"] = text
        else:
            item["imageDataURI"] = f"data:{mime};base64,{text}"
    item["seed"] = image.seed
    if params.get("checkContent"):
        item["NSFWContent"] = bool(image.nsfw)
    if params.get("includeCost"):
        item["cost"] = cost if cost is not None else 0.0
    return item


def deliverable_images(job, images):
    """Images whose result may be sent: all once the job is over, else all but the request's last.

    The last image waits for the job to finish (milliseconds later) so its cost is final.
    """
    if job.is_finished:
        return images
    return [i for i in images if i.index < job.number_results - 1]


def job_error_item(api_task: ApiTask, *, status=None) -> dict:
    job = api_task.job
    task = {"taskType": "imageInference", "taskUUID": api_task.task_uuid}
    extra = {"status": status} if status else {}
    if job.status == Job.Status.CANCELLED:
        return error_item("taskCancelled", "The job was cancelled.", task=task, **extra)
    if job.error.startswith(SENSITIVE_ERROR_PREFIX):
        return error_item("sensitiveContentDetected", job.error[len(SENSITIVE_ERROR_PREFIX):], parameter="safety",
                          task=task, **extra)
    if job.error.startswith(UPLOAD_ERROR_PREFIX):
        return error_item("uploadFailed", job.error[len(UPLOAD_ERROR_PREFIX):], parameter="uploadEndpoint", task=task,
                          **extra)
    return error_item("inferenceFailed", job.error or "The generation failed.", task=task, **extra)


def results_for(api_task: ApiTask, *, base_url: str, status=None, start: int = 0):
    """(items for the images from index `start` on that may be sent, error item or None, ready, finished)."""
    job = api_task.job
    images = list(job.images.order_by("index"))
    ready = deliverable_images(job, images)
    costs = job_costs(job, images) if job.params.get("includeCost") else {}
    items = [image_item(api_task, image, base_url=base_url, cost=costs.get(image.id), status=status)
             for image in ready[start:]]
    error = None
    if job.status in (Job.Status.FAILED, Job.Status.CANCELLED):
        error = job_error_item(api_task, status="error" if status else None)
    return items, error, len(ready), job.is_finished


def finished_results(api_task_id, *, base_url: str):
    """For a sync HTTP request: (items, errors) once the job is over, else None."""
    api_task = ApiTask.objects.select_related("job").get(id=api_task_id)
    if not api_task.job.is_finished:
        return None
    items, error, _, _ = results_for(api_task, base_url=base_url)
    return items, [error] if error else []


def timeout_error(api_task: ApiTask, seconds: float) -> dict:
    return error_item(
        "timeout", f"The job is still running after {seconds:g} s; fetch its results with getResponse and this "
        "taskUUID, or use the websocket API.", task={"taskType": "imageInference", "taskUUID": api_task.task_uuid},
    )
