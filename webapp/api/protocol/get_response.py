"""The getResponse task: where an imageInference task stands, by its taskUUID."""

from webapp.api.models import ApiTask
from webapp.api.protocol.authentication import Client
from webapp.api.protocol.errors import ApiError, task_uuid_of
from webapp.api.protocol.field_table import refuse_unknown_fields
from webapp.api.protocol.results import results_for


def get_response(task, client: Client) -> tuple[list, list]:
    """The state of each generation of an imageInference task: success items, processing items, an error."""
    task_uuid = task_uuid_of(task)
    refuse_unknown_fields(task, "getResponse")
    api_task = ApiTask.objects.filter(task_uuid=task_uuid, owner=client.user).select_related("job").first()
    if api_task is None:
        raise ApiError("taskNotFound", f"No imageInference task {task_uuid} of yours is known here.",
                       parameter="taskUUID")
    items, error, ready, finished = results_for(api_task, base_url=client.base_url, status="success")
    if not finished:
        items += [{"taskType": "imageInference", "taskUUID": task_uuid, "status": "processing"}
                  for _ in range(api_task.job.number_results - ready)]
    return items, [error] if error else []
