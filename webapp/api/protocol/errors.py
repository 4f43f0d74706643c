"""Runware-shaped errors: `{"code", "message", "parameter", "type", "documentation", "taskType", "taskUUID"}`."""

import uuid

from django.conf import settings
from django.urls import reverse

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
    "clipSkip": "integer", "promptWeighting": "string", "request": "array", "webhookURL": "string",
    "uploadEndpoint": "string", "ttl": "integer", "inputs": "object", "safety": "object", "checkNSFW": "boolean",
    "lycoris": "array", "acceleration": "string", "advancedFeatures": "object", "settings": "object",
    "connectionSessionUUID": "UUIDv4 string", "conditioning": "string", "instantID": "object",
    "photoMaker": "object", "providerSettings": "object", "resolution": "string", "ultralytics": "object",
    "upscaleFactor": "float", "useCache": "boolean",
}
# Parameters that are not fields of a task: their errors link to the API page's errors section;
# every other parameter's to the field table.
NOT_TASK_FIELDS = {"apiKey", "request", "taskType", "taskUUID", "connectionSessionUUID"}


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


def documentation_url(parameter=None) -> str:
    """The API page's section on `parameter` (the field table), or on errors: Runware's `documentation`."""
    base = getattr(settings, "STEPWISE_PUBLIC_URL", "").rstrip("/")
    section = "fields" if parameter and parameter not in NOT_TASK_FIELDS else "errors"
    return f"{base}{reverse('api_docs')}#{section}"


def error_item(code, message, *, parameter=None, task=None, **extra) -> dict:
    item = {"code": code, "message": message}
    if parameter:
        item["parameter"] = parameter
        if parameter in PARAMETER_TYPES:
            item["type"] = PARAMETER_TYPES[parameter]
    item["documentation"] = documentation_url(parameter)
    if isinstance(task, dict):
        # Echoed so clients can match the error to their task; never more than a UUID's worth.
        if isinstance(task.get("taskType"), str):
            item["taskType"] = task["taskType"][:64]
        if isinstance(task.get("taskUUID"), str) and len(task["taskUUID"]) <= 64:
            item["taskUUID"] = task["taskUUID"]
    item.update(extra)
    return item


def task_uuid_of(task) -> str:
    """The task's taskUUID, or ApiError: every task but ping and authentication needs one."""
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
