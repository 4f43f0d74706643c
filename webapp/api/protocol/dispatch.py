"""From a request body to replies: the body as tasks, each task's type, and the handler for that type."""

import json
import logging
from dataclasses import dataclass, field

from django.conf import settings

from webapp.api.models import ApiTask
from webapp.api.protocol.authentication import Client
from webapp.api.protocol.errors import ApiError, error_item
from webapp.api.protocol.get_response import get_response
from webapp.api.protocol.image_inference import image_inference
from webapp.api.protocol.image_upload import image_upload
from webapp.api.protocol.model_search import model_search
from webapp.api.protocol.steps_comparison import steps_comparison

logger = logging.getLogger("stepwise.api")

KNOWN_TASK_TYPES = ("authentication", "ping", "imageInference", "imageUpload", "modelSearch", "getResponse",
                    "stepsComparison")


def parse_tasks(body) -> list:
    """The request body as a list of tasks, or ApiError (malformed JSON, not an array)."""
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
    limit = settings.STEPWISE_API_MAX_TASKS
    if len(tasks) > limit:
        raise ApiError("tooManyTasks", f"A request may hold at most {limit} tasks; this one holds {len(tasks)}. "
                       "Send them in several requests.", parameter="request")
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


def pong(task) -> dict:
    """The ping task's reply; it needs no authentication."""
    item = {"taskType": "ping", "pong": True}
    if isinstance(task.get("taskUUID"), str):
        item["taskUUID"] = task["taskUUID"]
    return item


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
        elif task_type == "stepsComparison":
            outcome.data.append(steps_comparison(task, client))
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
