"""The stepsComparison task (a Stepwise extension): "compare steps" through the API.

The same imageInference request and seed at several step counts (`compareSteps`, default 10, 20, 30,
50; up to 8) and optionally several schedulers (`compareSchedulers`, up to 4). It is one group of
ordinary jobs on the same queue and under the same limits as the create form's "Compare steps".

The reply comes at once and lists the cells; each cell is an ordinary imageInference task with a
taskUUID of its own, whose results getResponse returns, like any deliveryMethod "async" task.
"""

import uuid

from django.db import IntegrityError, transaction
from django.urls import reverse

from webapp.api.models import ApiTask
from webapp.api.protocol.authentication import Client
from webapp.api.protocol.errors import ApiError, task_uuid_of
from webapp.api.protocol.image_inference import _conflict, _invalid, _output_types
from webapp.jobs.services import comparison_create
from webapp.studio.fields import InvalidRequest
from webapp.studio.models import Comparison, Job


def steps_comparison(task, client: Client) -> dict:
    """Validate, store the group and one ApiTask per cell, enqueue; reply with the cells.

    1. The taskUUID must be new for this user.
    2. Results are fetched per cell: deliveryMethod "sync" (pushing each cell) is refused by name.
    3. In one transaction: the comparison and its jobs (enqueued on commit), an ApiTask per cell.
    """
    # 1. Identity
    task_uuid = task_uuid_of(task)
    if (ApiTask.objects.filter(task_uuid=task_uuid, owner=client.user).exists()
            or Comparison.objects.filter(api_task_uuid=task_uuid, owner=client.user).exists()):
        raise _conflict(task_uuid)
    # 2. Delivery
    if task.get("deliveryMethod", "async") != "async":
        raise ApiError("invalidDeliveryMethod", "stepsComparison is answered at once with its cells: send "
                       'deliveryMethod "async" (or none) and fetch each cell with getResponse.',
                       parameter="deliveryMethod")
    output_types = _output_types(task)
    payload = {k: v for k, v in task.items() if k != "taskType"}
    payload.update(outputType=output_types[0], deliveryMethod="async")
    # 3. Store
    try:
        with transaction.atomic():
            comparison = comparison_create(user=client.user, payload=payload, origin=Job.Origin.API)
            comparison.api_task_uuid = task_uuid
            comparison.save(update_fields=["api_task_uuid"])
            cells = []
            for job in comparison.jobs.order_by("queued_at"):
                cell_uuid = str(uuid.uuid4())
                job.params = {**job.params, "taskUUID": cell_uuid}
                job.api_task_uuid = cell_uuid
                job.save(update_fields=["params", "api_task_uuid"])
                ApiTask.objects.create(job=job, owner=client.user, api_key=client.api_key, task_uuid=cell_uuid,
                                       output_types=output_types, session=None, closed=True)
                cells.append({"taskUUID": cell_uuid, "steps": job.params["steps"], "scheduler": job.params["scheduler"],
                              "effectiveSteps": job.total_steps})
    except InvalidRequest as exc:
        raise _invalid(exc) from None
    except IntegrityError:
        raise _conflict(task_uuid) from None
    return {"taskType": "stepsComparison", "taskUUID": task_uuid, "comparisonUUID": str(comparison.id),
            "seed": comparison.seed, "compareSteps": comparison.steps, "compareSchedulers": comparison.schedulers,
            "gridURL": client.base_url + reverse("comparison_detail", args=[comparison.id]), "cells": cells}
