"""The generation queue: its tasks, and every change of a job's status.

This module alone enqueues jobs, sends them back to the queue and writes `Job.status`. Each state
transition is a named function here:

    queued  -> running    job_claim                 a worker takes it (compare-and-swap)
    queued  -> cancelled  job_cancel                a user cancels it before it starts
    running -> succeeded  job_succeed
    running -> failed     job_fail
    running -> cancelled  job_mark_cancelled        the worker stopped it, as its user asked
    running -> queued     job_requeue_for_restart   its worker is stopping; not a lost attempt
    running -> queued     job_requeue_or_fail       its worker died: requeued once, then failed
              or failed

Side effects (enqueue, notifying watchers) happen once the transaction commits. The tasks run in a
generation worker (`manage.py generation_worker`); their arguments are ids only, the Job row holds
everything else.
"""

import logging
import threading
from functools import partial

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from webapp.jobs import outbound, runner, worker
from webapp.studio import events
from webapp.studio.models import Job, ModelEntry

logger = logging.getLogger("stepwise.worker")
MAX_ATTEMPTS = 2
# What a job looks like when it goes back in the queue: no worker, no progress, no preview.
BACK_IN_QUEUE = {"status": Job.Status.QUEUED, "step": 0, "preview": None, "worker_id": "", "started_at": None}


# Tasks ------------------------------------------------------------------------------------------


@task(queue_name="generation")
def generate_images(job_id: str) -> None:
    job_process(job_id=job_id, engine=worker.engine(), shutdown=worker.SHUTDOWN)


@task(queue_name="generation")
def test_load_model(model_id: int) -> None:
    """The admin's "test load": a worker loads the model and records the time or the error."""
    engine = worker.engine()
    if runner.try_load(model_id=model_id, engine=engine):
        worker.heartbeat(engine=engine)


@task(queue_name="generation")
def profile_model_steps(model_id: int, scheduler: str | None = None, width: int | None = None,
                        height: int | None = None, prompts: int = 3) -> None:
    """The catalog's "Profile steps": a worker measures the model and stores the profile."""
    from webapp.jobs.profiling import profile_model

    engine = worker.engine()
    try:
        profile_model(entry=ModelEntry.objects.get(id=model_id), engine=engine, scheduler=scheduler, width=width,
                      height=height, prompts=prompts)
    except Exception:
        logger.exception("Profiling the steps of model %s failed", model_id)
        raise
    worker.heartbeat(engine=engine)


def job_process(*, job_id, engine, shutdown: threading.Event) -> runner.Outcome | None:
    """Run one job on this worker; None when it was not waiting any more.

    1. Claim it (compare-and-swap from queued), so a duplicate or cancelled task is a no-op.
    2. Run it on `engine`; `shutdown` interrupts it at its next step.
    3. Record how it ended, and notify its watchers.
    """
    # 1. Claim
    if not job_claim(job_id=job_id, worker_id=worker.WORKER_ID, device=getattr(engine, "device", "")):
        logger.info("Job %s is not waiting any more; skipping", job_id)
        return None
    worker.job_started(job_id=job_id)
    try:
        # 2. Run
        outcome = runner.run_job(job_id=job_id, engine=engine, shutdown=shutdown)
        # 3. Record
        match outcome.status:
            case Job.Status.SUCCEEDED:
                job_succeed(job_id=job_id, gpu_seconds=outcome.gpu_seconds)
            case Job.Status.CANCELLED:
                job_mark_cancelled(job_id=job_id, gpu_seconds=outcome.gpu_seconds)
            case runner.INTERRUPTED:
                job_requeue_for_restart(job_id=job_id)
            case _:
                job_fail(job_id=job_id, error=outcome.error, gpu_seconds=outcome.gpu_seconds)
    finally:
        worker.job_done()
    return outcome


def model_test_load(*, entry: ModelEntry) -> None:
    test_load_model.enqueue(model_id=entry.id)


def model_profile_steps(*, entry: ModelEntry, scheduler: str | None = None, width: int | None = None,
                        height: int | None = None, prompts: int = 3) -> None:
    profile_model_steps.enqueue(model_id=entry.id, scheduler=scheduler, width=width, height=height, prompts=prompts)


# Transitions ------------------------------------------------------------------------------------


def job_enqueue(*, job: Job) -> None:
    """Put a new job on the generation queue once the transaction commits."""
    transaction.on_commit(partial(_enqueue, job_id=str(job.id), priority=job.priority))


def _enqueue(*, job_id, priority):
    result = generate_images.using(priority=priority).enqueue(job_id=job_id)
    Job.objects.filter(id=job_id).update(task_result_id=str(result.id))
    events.broadcast_job(job_id)


def job_claim(*, job_id, worker_id: str, device: str = "") -> bool:
    claimed = Job.objects.filter(id=job_id, status=Job.Status.QUEUED, cancel_requested=False).update(
        status=Job.Status.RUNNING, started_at=timezone.now(), worker_id=worker_id, device=device[:40], step=0,
        attempts=F("attempts") + 1,
    )
    if claimed:
        events.broadcast_job(job_id)
    return bool(claimed)


def job_succeed(*, job_id, gpu_seconds: float) -> None:
    _finish(job_id, status=Job.Status.SUCCEEDED, gpu_seconds=gpu_seconds)


def job_fail(*, job_id, error: str, gpu_seconds: float = 0.0) -> None:
    _finish(job_id, status=Job.Status.FAILED, error=error, gpu_seconds=gpu_seconds)


def job_mark_cancelled(*, job_id, gpu_seconds: float) -> None:
    _finish(job_id, status=Job.Status.CANCELLED, gpu_seconds=gpu_seconds)


def _finish(job_id, **fields):
    Job.objects.filter(id=job_id).update(preview=None, finished_at=timezone.now(), **fields)
    events.broadcast_job(job_id)
    outbound.job_changed(job_id)


def _ended(job_id):
    """On commit, after a job ended outside the worker's run: notify watchers, send its results."""
    events.broadcast_job(job_id)
    outbound.job_changed(job_id)


def job_cancel(*, job: Job) -> Job:
    """Cancel a job: a queued job leaves the queue; a running one stops at its next step."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(id=job.id)
        if job.status == Job.Status.QUEUED:
            job.status = Job.Status.CANCELLED
            job.finished_at = timezone.now()
            job.cancel_requested = True
            job.save(update_fields=["status", "finished_at", "cancel_requested"])
            if job.task_result_id:
                DBTaskResult.objects.filter(id=job.task_result_id, status="READY").delete()
            transaction.on_commit(partial(_ended, str(job.id)))
        else:
            if job.status == Job.Status.RUNNING:
                # The worker polls this flag off the denoising thread and interrupts the pipeline.
                job.cancel_requested = True
                job.save(update_fields=["cancel_requested"])
            transaction.on_commit(partial(events.broadcast_job, str(job.id)))
    return job


def job_requeue_for_restart(*, job_id) -> None:
    """This worker is stopping: hand the job back without counting it as a lost attempt."""
    with transaction.atomic():
        priority = Job.objects.values_list("priority", flat=True).get(id=job_id)
        changed = Job.objects.filter(id=job_id, status=Job.Status.RUNNING).update(
            **BACK_IN_QUEUE, attempts=F("attempts") - 1,
        )
        if changed:
            transaction.on_commit(partial(_enqueue, job_id=str(job_id), priority=priority))
    logger.warning("Worker stopping: job %s goes back in the queue", job_id)


def job_requeue_or_fail(*, job: Job, reason: str) -> str:
    """Put a running job whose worker was lost back in the queue (first loss) or fail it (second
    loss). Compare-and-swap: when several workers notice the same loss, only one acts."""
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
                transaction.on_commit(partial(_ended, str(job.id)))
        if changed and job.task_result_id:
            DBTaskResult.objects.filter(id=job.task_result_id, status="RUNNING").update(
                status="FAILED", finished_at=timezone.now()
            )
    if changed:
        logger.warning("Job %s %s: %s", job.id, outcome, reason)
    return outcome if changed else "unchanged"
