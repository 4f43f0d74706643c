"""The Runware-compatible API's tasks, shared by the websocket (consumers.py) and HTTP (views.py).

Everything here is synchronous and transport-free: a task object goes in, result items or error
items come out, in Runware's shapes. The transports only parse, authenticate, send and wait.

- Every reply item carries `taskType` and `taskUUID`. Errors look like Runware's:
  `{"code", "message", "parameter", "type", "taskType", "taskUUID"}`.
- One bad task never fails the others: each is handled on its own.
- Nothing is half-stored: a task is validated completely before anything is written, and the job
  and its API record are written in one transaction.
"""

import base64
import logging
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse

from webapp.api.models import ApiKey, ApiTask
from webapp.studio import access
from webapp.studio.files import signed_url
from webapp.studio.images import encode
from webapp.studio.models import Job, Upload
from webapp.studio.schema import OUTPUT_TYPES, InvalidRequest, validate_inference

logger = logging.getLogger("stepwise.api")

UPLOAD_SIGNING_SALT = "stepwise.api.uploads"
KNOWN_TASK_TYPES = ("authentication", "ping", "imageInference", "imageUpload", "modelSearch", "getResponse")
# The `type` of each parameter, as Runware's errors name it.
PARAMETER_TYPES = {
    "apiKey": "string", "taskUUID": "UUIDv4 string", "taskType": "string", "model": "string",
    "positivePrompt": "string", "negativePrompt": "string", "width": "integer", "height": "integer",
    "steps": "integer", "scheduler": "string", "CFGScale": "float", "seed": "integer",
    "numberResults": "integer", "seedImage": "string", "maskImage": "string", "strength": "float",
    "outpaint": "object", "outputType": "string", "outputFormat": "string", "outputQuality": "integer",
    "includeCost": "boolean", "deliveryMethod": "string", "includeProgress": "boolean",
    "includePreviews": "boolean", "image": "string", "search": "string", "tags": "array",
    "category": "string", "type": "string", "architecture": "string", "visibility": "string",
    "limit": "integer", "offset": "integer", "lora": "array", "controlNet": "array", "ipAdapters": "array",
    "embeddings": "array", "referenceImages": "array", "refiner": "object", "vae": "string",
    "acceleratorOptions": "object", "puLID": "object", "acePlusPlus": "object", "maskMargin": "integer",
    "clipSkip": "integer", "promptWeighting": "string", "request": "array",
}


class ApiError(Exception):
    """One error item. `extra` errors ride along when a task has several bad fields."""

    def __init__(self, code, message, *, parameter=None, extra=()):
        super().__init__(message)
        self.code = code
        self.message = message
        self.parameter = parameter
        self.extra = list(extra)

    def items(self, task=None) -> list[dict]:
        first = error_item(self.code, self.message, parameter=self.parameter, task=task)
        return [first] + [error_item(e.code, e.message, parameter=e.parameter, task=task) for e in self.extra]


def error_item(code, message, *, parameter=None, task=None, **extra) -> dict:
    item = {"code": code, "message": message}
    if parameter:
        item["parameter"] = parameter
        if parameter in PARAMETER_TYPES:
            item["type"] = PARAMETER_TYPES[parameter]
    if isinstance(task, dict):
        # Echoed so clients can match the error to their task; never more than a UUID's worth.
        if isinstance(task.get("taskType"), str):
            item["taskType"] = task["taskType"][:64]
        if isinstance(task.get("taskUUID"), str) and len(task["taskUUID"]) <= 64:
            item["taskUUID"] = task["taskUUID"]
    item.update(extra)
    return item


def parse_tasks(body) -> list:
    """The request body as a list of tasks, or ApiError (malformed JSON, not an array)."""
    import json

    if isinstance(body, (bytes, bytearray)):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError("invalidJSON", "The request body is not UTF-8 text.", parameter="request") from None
    try:
        tasks = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ApiError("invalidJSON", f"The request body is not valid JSON: {str(exc)[:100]}.",
                       parameter="request") from None
    if not isinstance(tasks, list):
        raise ApiError("invalidRequestBody", "The request body must be a JSON array of task objects, "
                       'e.g. [{"taskType": "ping", "ping": true}].', parameter="request")
    if not tasks:
        raise ApiError("invalidRequestBody", "The request body is an empty array: send at least one task.",
                       parameter="request")
    return tasks


def check_task(task) -> str:
    """The task's type, or ApiError when the object is not a task we know."""
    if not isinstance(task, dict):
        raise ApiError("invalidTask", "Each element of the array must be a task object with a taskType.",
                       parameter="taskType")
    task_type = task.get("taskType")
    if not isinstance(task_type, str) or not task_type:
        raise ApiError("missingTaskType", "The task has no taskType.", parameter="taskType")
    if task_type not in KNOWN_TASK_TYPES:
        raise ApiError("unsupportedTaskType", f"Unknown or unsupported taskType {task_type[:60]!r}; this server "
                       f"supports {', '.join(KNOWN_TASK_TYPES)}.", parameter="taskType")
    return task_type


def task_uuid_of(task) -> str:
    value = task.get("taskUUID")
    if value in (None, ""):
        raise ApiError("missingTaskUUID", "taskUUID is required: a UUID v4 you choose, echoed in every reply.",
                       parameter="taskUUID")
    if not isinstance(value, str) or len(value) > 64:
        raise ApiError("invalidTaskUUID", "taskUUID must be a UUID string.", parameter="taskUUID")
    try:
        uuid.UUID(value)
    except ValueError:
        raise ApiError("invalidTaskUUID", f"taskUUID {value!r} is not a UUID.", parameter="taskUUID") from None
    return value


# Authentication -----------------------------------------------------------------------------------


def authenticate(task) -> ApiKey:
    from webapp.api.services import api_key_for

    raw = task.get("apiKey")
    if raw in (None, ""):
        raise ApiError("missingApiKey", "apiKey is required.", parameter="apiKey")
    key = api_key_for(raw)
    if key is None:
        raise ApiError("invalidApiKey", "Invalid API key: it is unknown or was revoked. Create one on your "
                       "account page.", parameter="apiKey")
    return key


def not_authenticated_error() -> ApiError:
    return ApiError("missingApiKey", 'Authenticate first: send [{"taskType": "authentication", "apiKey": "..."}] '
                    "(or, over HTTP, the header Authorization: Bearer <key>).", parameter="apiKey")


@dataclass
class Client:
    api_key: ApiKey
    base_url: str  # scheme://host[:port] for absolute image URLs
    session_id: uuid.UUID | None = None  # websocket session results are pushed to

    @property
    def user(self):
        return self.api_key.user


def public_base_url(scheme: str, host: str) -> str:
    override = getattr(settings, "STEPWISE_PUBLIC_URL", "")
    if override:
        return override.rstrip("/")
    return f"{scheme}://{host}"


# Dispatch -------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    data: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    watch: ApiTask | None = None  # a sync imageInference whose results the transport must deliver


def run_task(task, client: Client, *, push: bool, on_created=None) -> Outcome:
    """Handle one authenticated task (not `authentication`). Never raises: errors become error items.

    push: results are pushed over this client's websocket session (imageInference, sync delivery).
    on_created(job_id): called inside the job's transaction, before the job is enqueued; the
        websocket uses it to join the job's channel group so no progress event is missed.
    """
    outcome = Outcome()
    try:
        task_type = check_task(task)
        if task_type == "ping":
            outcome.data.append(pong(task))
        elif task_type == "imageInference":
            api_task, items = image_inference(task, client, push=push, on_created=on_created)
            outcome.data.extend(items)
            if not items:
                outcome.watch = api_task
        elif task_type == "imageUpload":
            outcome.data.append(image_upload(task, client))
        elif task_type == "modelSearch":
            outcome.data.append(model_search(task, client))
        elif task_type == "getResponse":
            data, errors = get_response(task, client)
            outcome.data.extend(data)
            outcome.errors.extend(errors)
        else:  # authentication is the transport's business
            raise ApiError("invalidTask", f"{task_type} cannot be handled here.", parameter="taskType")
    except ApiError as exc:
        outcome.errors.extend(exc.items(task))
    except Exception:
        logger.exception("API task failed: %r", task if not isinstance(task, dict) else task.get("taskType"))
        outcome.errors.append(error_item("internalError", "The server failed to handle this task; it was logged.",
                                         task=task))
    return outcome


def pong(task) -> dict:
    item = {"taskType": "ping", "pong": True}
    if isinstance(task.get("taskUUID"), str):
        item["taskUUID"] = task["taskUUID"]
    return item


# imageInference ---------------------------------------------------------------------------------


def _output_types(task) -> list[str]:
    value = task.get("outputType", "URL")
    values = value if isinstance(value, list) else [value]
    if not values or any(v not in OUTPUT_TYPES for v in values):
        raise ApiError("invalidOutputType", f"outputType must be one of {', '.join(OUTPUT_TYPES)}, or a list of them.",
                       parameter="outputType")
    return list(dict.fromkeys(values))


def _conflict(task_uuid) -> ApiError:
    return ApiError("conflictTaskUUID", f"taskUUID {task_uuid} was already used; poll it with getResponse or "
                    "send a new UUID.", parameter="taskUUID")


def _invalid(exc: InvalidRequest) -> ApiError:
    errors = [ApiError(e.code, e.message, parameter=e.parameter) for e in exc.errors]
    first = errors[0]
    return ApiError(first.code, first.message, parameter=first.parameter, extra=errors[1:])


def image_inference(task, client: Client, *, push: bool, on_created=None) -> tuple[ApiTask, list]:
    """Validate, store the job and its API record, enqueue. Returns (api task, immediate items).

    1. The taskUUID must be new for this user (Runware's conflictTaskUUID otherwise).
    2. Validate with the one schema every entry point uses.
    3. In one transaction: the job (enqueued on commit) and the ApiTask.
    4. deliveryMethod "async" is answered at once with a processing item; sync results follow.
    """
    from webapp.studio.services import job_create

    # 1. Identity
    task_uuid = task_uuid_of(task)
    if ApiTask.objects.filter(task_uuid=task_uuid, owner=client.user).exists():
        raise _conflict(task_uuid)
    # 2. Validation. A list of output types is ours to handle; the schema checks the first one.
    output_types = _output_types(task)
    payload = {**task, "outputType": output_types[0]}
    try:
        valid = validate_inference(payload, user=client.user)
    except InvalidRequest as exc:
        raise _invalid(exc) from None
    is_async = valid.params.get("deliveryMethod") == "async"
    # 3. Store
    session_id = client.session_id if (push and not is_async) else None
    try:
        with transaction.atomic():
            job = job_create(user=client.user, valid=valid, source="api")
            api_task = ApiTask.objects.create(
                job=job, owner=client.user, api_key=client.api_key, task_uuid=task_uuid, output_types=output_types,
                session_id=session_id, closed=session_id is None,
            )
            if on_created is not None and session_id is not None:
                on_created(str(job.id))
    except InvalidRequest as exc:  # QueueFull
        raise _invalid(exc) from None
    except IntegrityError:  # the same taskUUID, sent twice at once
        raise _conflict(task_uuid) from None
    # 4. Reply
    if is_async:
        return api_task, [{"taskType": "imageInference", "taskUUID": task_uuid, "status": "processing"}]
    return api_task, []


def _image_bytes(image, fmt: str, quality: int) -> tuple[bytes, str]:
    from PIL import Image as PILImage

    with image.file.open("rb") as handle:
        data = handle.read()
    if fmt == "PNG":
        return data, "image/png"
    import io

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
    request = api_task.job.request
    fmt = request.get("outputFormat", "JPG")
    quality = request.get("outputQuality", 95)
    item = {"taskType": "imageInference", "taskUUID": api_task.task_uuid}
    if status:
        item["status"] = status
    item["imageUUID"] = str(image.id)
    encoded = None
    for output_type in api_task.output_types:
        if output_type == "URL":
            item["imageURL"] = base_url + signed_url(image, output_format=fmt, quality=quality)
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
    if request.get("includeCost"):
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
    return error_item("inferenceFailed", job.error or "The generation failed.", task=task, **extra)


def results_for(api_task: ApiTask, *, base_url: str, status=None, start: int = 0):
    """(items for the images from index `start` on that may be sent, error item or None, finished)."""
    job = api_task.job
    images = list(job.images.order_by("index"))
    ready = deliverable_images(job, images)
    costs = job_costs(job, images) if job.request.get("includeCost") else {}
    items = [image_item(api_task, image, base_url=base_url, cost=costs.get(image.id), status=status)
             for image in ready[start:]]
    error = None
    if job.status in (Job.Status.FAILED, Job.Status.CANCELLED):
        error = job_error_item(api_task, status="error" if status else None)
    return items, error, len(ready), job.is_finished


# Websocket delivery ------------------------------------------------------------------------------------


@dataclass
class Delivery:
    api_task_id: int
    job_id: str
    old_delivered: int
    delivered: int
    closed: bool
    messages: list  # full messages: {"data": [...]} or {"errors": [...]}


def pending_deliveries(*, session_id, channel_name: str, base_url: str, job_ids=None, limits=None) -> list[Delivery]:
    """What this connection still owes its session: new images, and the error of a failed job.

    Only the connection that holds the session delivers, so a resumed session is never served twice.
    limits: {job id: at most this many images in all}, for a socket that must first pass on the
    progress events of an image before its result.
    """
    tasks = ApiTask.objects.filter(session_id=session_id, session__channel_name=channel_name, closed=False)
    if job_ids is not None:
        tasks = tasks.filter(job_id__in=job_ids)
    deliveries = []
    for api_task in tasks.select_related("job").order_by("id"):
        items, error, ready, finished = results_for(api_task, base_url=base_url, start=api_task.delivered)
        limit = (limits or {}).get(str(api_task.job_id))
        if limit is not None and ready > limit:
            items = items[:max(0, limit - api_task.delivered)]
            ready, error, finished = max(limit, api_task.delivered), None, False
        messages = [{"data": [item]} for item in items]
        if error is not None:
            messages.append({"errors": [error]})
        if messages or finished:
            deliveries.append(Delivery(api_task.id, str(api_task.job_id), api_task.delivered, ready, finished,
                                       messages))
    return deliveries


def mark_delivered(delivery: Delivery) -> None:
    ApiTask.objects.filter(id=delivery.api_task_id, delivered=delivery.old_delivered).update(
        delivered=delivery.delivered, closed=delivery.closed
    )


def open_watches(session_id) -> list[dict]:
    """The session's sync tasks still waiting for results: what a (re)connected socket must watch."""
    tasks = ApiTask.objects.filter(session_id=session_id, closed=False).select_related("job")
    return [watch_info(t) for t in tasks]


def watch_info(api_task: ApiTask) -> dict:
    job = api_task.job
    return {
        "job_id": str(job.id),
        "task_uuid": api_task.task_uuid,
        "include_progress": bool(job.request.get("includeProgress")),
        "include_previews": bool(job.request.get("includePreviews")),
        "total_steps": job.total_steps,
    }


# getResponse -------------------------------------------------------------------------------------


def get_response(task, client: Client) -> tuple[list, list]:
    """The state of each generation of an imageInference task: success items, processing items, an error."""
    task_uuid = task_uuid_of(task)
    api_task = ApiTask.objects.filter(task_uuid=task_uuid, owner=client.user).select_related("job").first()
    if api_task is None:
        raise ApiError("taskNotFound", f"No imageInference task {task_uuid} of yours is known here.",
                       parameter="taskUUID")
    items, error, ready, finished = results_for(api_task, base_url=client.base_url, status="success")
    if not finished:
        items += [{"taskType": "imageInference", "taskUUID": task_uuid, "status": "processing"}
                  for _ in range(api_task.job.number_results - ready)]
    return items, [error] if error else []


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


# imageUpload ----------------------------------------------------------------------------------------


def signed_upload_url(upload: Upload) -> str:
    token = signing.dumps({"u": str(upload.id)}, salt=UPLOAD_SIGNING_SALT, compress=True)
    return reverse("api_signed_upload", args=[token])


def image_upload(task, client: Client) -> dict:
    """Store an image (data URI, base64, or a URL where fetching is enabled) for use as seedImage/maskImage."""
    from webapp.studio.schema import _Errors, _source_image
    from webapp.studio.services import upload_create

    task_uuid = task_uuid_of(task)
    value = task.get("image")
    if value in (None, ""):
        raise ApiError("missingImage", "image is required: a data URI or base64 text.", parameter="image")
    if not isinstance(value, str):
        raise ApiError("invalidImage", "image must be a data URI or base64 text.", parameter="image")
    errors = _Errors()
    source = _source_image(value, "image", errors, user=client.user)
    if source is None:
        error = errors.items[0]
        raise ApiError("invalidImage", error.message, parameter="image")
    image = source.image
    if image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        image = image.convert("RGB")
    upload = upload_create(user=client.user, image=image)
    return {
        "taskType": "imageUpload",
        "taskUUID": task_uuid,
        "imageUUID": str(upload.id),
        "imageURL": client.base_url + signed_upload_url(upload),
    }


# modelSearch ------------------------------------------------------------------------------------------


def _model_tags(entry) -> list[str]:
    arch = entry.arch
    tags = {arch.runware, arch.key}
    if arch.distilled:
        tags.add("distilled")
    if entry.builtin:
        tags.add("builtin")
    return sorted(tags)


def _is_private(entry) -> bool:
    # Open to some teams only; uses the prefetched teams.
    return len(entry.teams.all()) > 0


def model_result(entry, *, base_url: str) -> dict:
    defaults = entry.defaults()
    version = entry.air.rsplit("@", 1)[1] if "@" in entry.air else ""
    return {
        "air": entry.air,
        "name": entry.name,
        "version": version,
        "category": "checkpoint",
        "architecture": entry.arch.runware,
        "type": "base",
        "tags": _model_tags(entry),
        "heroImage": "",
        "private": _is_private(entry),
        "comment": entry.notes,
        "defaultWidth": defaults["width"],
        "defaultHeight": defaults["height"],
        "defaultSteps": defaults["steps"],
        "defaultScheduler": defaults["scheduler"],
        "defaultCFG": defaults["CFGScale"],
        "defaultStrength": defaults["strength"],
        "positiveTriggerWords": "",
    }


def _int_param(task, name, *, low, high, default):
    value = task.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ApiError(f"invalid{name[:1].upper()}{name[1:]}", f"{name} must be a whole number from {low} to {high}.",
                       parameter=name)
    return value


def _str_param(task, name):
    value = task.get(name)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ApiError(f"invalid{name[:1].upper()}{name[1:]}", f"{name} must be text.", parameter=name)
    return value.strip()


def model_search(task, client: Client) -> dict:
    """Search the catalog the way Runware's modelSearch does, over the models this user may use."""
    task_uuid = task_uuid_of(task)
    search = _str_param(task, "search")
    category = _str_param(task, "category")
    model_type = _str_param(task, "type")
    architecture = _str_param(task, "architecture")
    visibility = _str_param(task, "visibility") or "all"
    if visibility not in ("public", "private", "all"):
        raise ApiError("invalidVisibility", "visibility must be public, private or all.", parameter="visibility")
    tags = task.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ApiError("invalidTags", "tags must be a list of strings.", parameter="tags")
    limit = _int_param(task, "limit", low=1, high=100, default=20)
    offset = _int_param(task, "offset", low=0, high=1_000_000, default=0)

    entries = access.models_for(client.user).filter(enabled=True).prefetch_related("teams")
    if search:
        entries = entries.filter(Q(name__icontains=search) | Q(air__icontains=search) | Q(notes__icontains=search))
    matches = []
    for entry in entries.order_by("-is_default", "name"):
        if category and category.lower() != "checkpoint":
            continue
        if model_type and model_type.lower() != "base":
            continue
        if architecture and architecture.lower() not in (entry.arch.runware.lower(), entry.arch.key.lower()):
            continue
        private = _is_private(entry)
        if (visibility == "public" and private) or (visibility == "private" and not private):
            continue
        entry_tags = {t.lower() for t in _model_tags(entry)}
        if any(t.lower() not in entry_tags for t in tags):
            continue
        matches.append(entry)
    return {
        "taskType": "modelSearch",
        "taskUUID": task_uuid,
        "results": [model_result(e, base_url=client.base_url) for e in matches[offset:offset + limit]],
        "totalResults": len(matches),
    }
