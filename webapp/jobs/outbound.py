"""Results sent out of the server, from the jobs side: uploadEndpoint PUTs and the webhook trigger.

- `upload_image`: the runner PUTs each image to the job's `uploadEndpoint` before the job goes on;
  a failed upload fails the job (the client asked for the image *there*).
- `job_changed`: called after commit whenever a job has new results or has ended (an image
  stored, the job finished, cancelled or failed). For a job whose request named a `webhookURL` it
  runs the registered result senders on a background thread of this process, so a slow receiver
  never holds up the GPU or a web request. The API registers its sender
  (`webapp/api/protocol/webhooks.py`) in its AppConfig.ready: the jobs app knows that results
  go somewhere, not what a Runware result looks like.
"""

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from django.db import connections

from webapp.studio import outbound
from webapp.studio.images import encode
from webapp.studio.models import Delivery, Job

logger = logging.getLogger("stepwise.outbound")
_senders: list[Callable[[str], None]] = []
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stepwise-outbound")
_pending: set[Future] = set()
_lock = threading.Lock()


def register_sender(sender: Callable[[str], None]) -> None:
    """`sender(job_id)` sends whatever of that job's results is not sent yet; it must be idempotent."""
    if sender not in _senders:
        _senders.append(sender)


def _run(job_id: str) -> None:
    try:
        for sender in _senders:
            sender(job_id)
    except Exception:
        logger.exception("Sending the results of job %s failed", job_id)
    finally:
        connections.close_all()


def job_changed(job_id) -> None:
    """After commit: a job has new results or has ended; send them where its request asked."""
    params = Job.objects.filter(id=job_id).values_list("params", flat=True).first()
    if not params or not params.get("webhookURL") or not _senders:
        return
    future = _executor.submit(_run, str(job_id))
    with _lock:
        _pending.add(future)
    future.add_done_callback(lambda f: _discard(f))


def _discard(future: Future) -> None:
    with _lock:
        _pending.discard(future)


def wait_idle(timeout: float = 30) -> None:
    """Wait until every send started so far is done (tests, and a worker that is stopping)."""
    with _lock:
        futures = list(_pending)
    for future in futures:
        future.result(timeout=timeout)


def upload_image(*, job: Job, image_row, pil_image) -> str:
    """PUT the image to the job's uploadEndpoint, in its outputFormat; '' when done, else why not."""
    params = job.params
    url = params["uploadEndpoint"]
    fmt = params.get("outputFormat", "JPG")
    body, mime = encode(pil_image, fmt, params.get("outputQuality", 95))
    attempts = outbound.send("PUT", url, body, content_type=mime)
    delivered = not attempts[-1].error
    Delivery.objects.create(job_id=job.id, kind=Delivery.Kind.UPLOAD, url=url[:2048], what=str(image_row.id),
                            attempts=[a.as_dict() for a in attempts], delivered=delivered)
    if delivered:
        return ""
    return f"the image could not be uploaded to uploadEndpoint ({len(attempts)} attempts): {attempts[-1].error}"
