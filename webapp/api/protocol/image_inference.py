"""The imageInference task: validate with the one schema, store the job and its API record, enqueue."""

from django.db import IntegrityError, transaction

from webapp.api.models import ApiTask
from webapp.api.protocol.authentication import Client
from webapp.api.protocol.errors import ApiError, task_uuid_of
from webapp.api.protocol.field_table import refuse_unknown_fields
from webapp.jobs.services import job_create
from webapp.studio.fields import InvalidRequest
from webapp.studio.models import Job
from webapp.studio.schema import OUTPUT_TYPES, validate_inference


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

    1. The taskUUID must be new for this user (Runware's conflictTaskUUID otherwise); a field this
       server does not know is refused (field_table.py).
    2. Validate with the one schema every entry point uses.
    3. In one transaction: the job (enqueued on commit) and the ApiTask.
    4. deliveryMethod "async" is answered at once with a processing item; sync results follow.
    """
    # 1. Identity, and nothing the server would not act on
    task_uuid = task_uuid_of(task)
    refuse_unknown_fields(task, "imageInference")
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
            job = job_create(user=client.user, valid=valid, origin=Job.Origin.API)
            api_task = ApiTask.objects.create(
                job=job, owner=client.user, api_key=client.api_key, task_uuid=task_uuid, output_types=output_types,
                session_id=session_id, closed=session_id is None, base_url=client.base_url,
                webhook_closed=not valid.params.get("webhookURL"),
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
