"""Websocket delivery bookkeeping: what a session is still owed, and marking it sent.

Only the connection that holds the session delivers, so a resumed session is never served twice.
"""

from dataclasses import dataclass

from webapp.api.models import ApiTask
from webapp.api.protocol.results import results_for


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
        "include_progress": bool(job.params.get("includeProgress")),
        "include_previews": bool(job.params.get("includePreviews")),
        "total_steps": job.total_steps,
    }
