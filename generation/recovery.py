"""Jobs whose worker died (SIGKILL, power loss, OOM killer) are requeued once, then failed."""

import logging
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from webapp.studio import events
from webapp.studio.models import Job, WorkerStatus

logger = logging.getLogger("stepwise.worker")
MAX_ATTEMPTS = 2
# What a job looks like when it goes back in the queue: no worker, no progress, no preview.
BACK_IN_QUEUE = {"status": Job.Status.QUEUED, "step": 0, "preview": None, "worker_id": "", "started_at": None}


def requeue_or_fail(job: Job, *, reason: str) -> str:
    """Put a running job back in the queue (first loss) or fail it (second loss). Compare-and-swap:
    when several workers notice the same loss, only one acts."""
    from django_tasks_db.models import DBTaskResult

    from webapp.studio.services import _enqueue

    with transaction.atomic():
        if job.attempts < MAX_ATTEMPTS:
            changed = Job.objects.filter(id=job.id, status=Job.Status.RUNNING, worker_id=job.worker_id).update(
                **BACK_IN_QUEUE
            )
            outcome = "requeued"
            if changed:
                transaction.on_commit(partial(_enqueue, job_id=str(job.id), priority=job.priority))
        else:
            changed = Job.objects.filter(id=job.id, status=Job.Status.RUNNING, worker_id=job.worker_id).update(
                status=Job.Status.FAILED, error=f"{reason} (it was already retried once).", preview=None,
                finished_at=timezone.now(),
            )
            outcome = "failed"
            if changed:
                transaction.on_commit(partial(events.broadcast_job, str(job.id)))
        if changed and job.task_result_id:
            DBTaskResult.objects.filter(id=job.task_result_id, status="RUNNING").update(
                status="FAILED", finished_at=timezone.now()
            )
    if changed:
        logger.warning("Job %s %s: %s", job.id, outcome, reason)
    return outcome if changed else "unchanged"


def recover_stale_jobs() -> int:
    """Requeue or fail running jobs whose worker stopped sending heartbeats."""
    cutoff = timezone.now() - timedelta(seconds=settings.STEPWISE_WORKER_STALE_SECONDS)
    stale_ids = list(WorkerStatus.objects.filter(last_heartbeat__lt=cutoff).values_list("worker_id", flat=True))
    live_ids = WorkerStatus.objects.filter(last_heartbeat__gte=cutoff).values_list("worker_id", flat=True)
    orphans = Job.objects.filter(status=Job.Status.RUNNING).filter(
        Q(worker_id__in=stale_ids) | (~Q(worker_id__in=list(live_ids)) & Q(started_at__lt=cutoff))
    )
    count = 0
    for job in orphans:
        if requeue_or_fail(job, reason="The worker running this job was lost") != "unchanged":
            count += 1
    WorkerStatus.objects.filter(worker_id__in=stale_ids).delete()
    return count
