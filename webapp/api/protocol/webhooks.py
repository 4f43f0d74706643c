"""webhookURL: each result, and the error of a failed task, POSTed to the URL the request named.

The body of each POST is what the websocket would have sent: `{"data": [item]}` for each image as
it is ready, `{"errors": [error]}` when the task failed or was cancelled. Runs on the jobs side's
background thread (webapp/jobs/outbound.py) after each change of the job, never in a web request.
Each item is claimed with a compare-and-swap on `ApiTask.webhook_sent` before it is sent, so two
senders never POST the same item; every attempt is recorded as a `Delivery` the owner can see.
"""

import json

from webapp.api.models import ApiTask
from webapp.api.protocol.results import results_for
from webapp.studio import outbound
from webapp.studio.models import Delivery


def deliver_webhook(job_id: str) -> None:
    """POST whatever of this job's results its webhook has not been handed yet."""
    api_task = ApiTask.objects.select_related("job").filter(job_id=job_id, webhook_closed=False).first()
    if api_task is None:
        return
    url = api_task.job.params.get("webhookURL")
    if not url:
        return
    start = api_task.webhook_sent
    items, error, ready, finished = results_for(api_task, base_url=api_task.base_url, start=start)
    if not items and error is None and not finished:
        return
    claimed = ApiTask.objects.filter(id=api_task.id, webhook_sent=start, webhook_closed=False).update(
        webhook_sent=ready, webhook_closed=finished)
    if not claimed:
        return  # another sender took these
    messages = [(item["imageUUID"], {"data": [item]}) for item in items]
    if error is not None:
        messages.append(("error", {"errors": [error]}))
    for what, body in messages:
        attempts = outbound.send("POST", url, json.dumps(body).encode(), content_type="application/json")
        Delivery.objects.create(job_id=api_task.job_id, kind=Delivery.Kind.WEBHOOK, url=url[:2048], what=what,
                                attempts=[a.as_dict() for a in attempts], delivered=not attempts[-1].error)
