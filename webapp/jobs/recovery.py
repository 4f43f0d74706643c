"""Jobs whose worker died (SIGKILL, power loss, OOM killer) are requeued once, then failed.

Every live worker runs this from its heartbeat; the queue's compare-and-swap makes sure that only
one of them acts on each lost job.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from webapp.jobs import queue
from webapp.studio.models import Job, WorkerStatus


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
        if queue.job_requeue_or_fail(job=job, reason="The worker running this job was lost") != "unchanged":
            count += 1
    WorkerStatus.objects.filter(worker_id__in=stale_ids).delete()
    return count
