"""The generation service: runs one Job inside a worker process. Django-aware glue over the engine.

One Engine (one pipeline cache) per worker process; a worker runs one job at a time, so the
pipelines are never shared between threads.
"""

import base64
import logging
import os
import socket
import threading
import time
from functools import partial

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import close_old_connections, connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from webapp.studio import events
from webapp.studio.images import a1111_parameters, png_bytes, thumbnail_bytes
from webapp.studio.models import Image, Job, ModelEntry, Upload, WorkerStatus

logger = logging.getLogger("stepwise.worker")

_engine = None
_engine_lock = threading.Lock()
WORKER_ID = os.environ.get("STEPWISE_WORKER_ID") or f"{socket.gethostname()}-{os.getpid()}"
DB_PROGRESS_INTERVAL = 0.25  # seconds between progress writes to the job row
# Set on SIGTERM/SIGINT: the running generation stops at its next step and goes back in the queue.
SHUTDOWN = threading.Event()


def get_engine():
    """The process's one Engine, created on first use (loading torch only in workers)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            from generation.engine import Engine

            _engine = Engine(device=settings.STEPWISE_DEVICE, cache_size=settings.STEPWISE_PIPELINE_CACHE_SIZE)
        return _engine


def model_source(entry: ModelEntry):
    from generation.engine import ModelSource

    return ModelSource(air=entry.air, architecture=entry.architecture, path=entry.path, config_path=entry.config_path)


def _open_source(image_id):
    from webapp.studio.images import open_image

    row = Image.objects.filter(id=image_id).first() or Upload.objects.get(id=image_id)
    with row.file.open("rb") as handle:
        return open_image(handle.read())


def _finish(job_id, **fields):
    fields.setdefault("finished_at", timezone.now())
    Job.objects.filter(id=job_id).update(preview=None, **fields)
    events.broadcast_job(job_id)


def run_job(job_id: str) -> None:
    """Run one job to the end; every outcome, failures included, is written to the Job row.

    1. Claim the job (compare-and-swap from queued), so a duplicate or cancelled task is a no-op.
    2. Prepare the engine inputs from the stored request.
    3. Load the model (or hit the worker's cache); a load failure fails the job, not the worker.
    4. Generate each image with a progress publisher off the denoising thread.
    5. Store each image (PNG with its parameters, WebP thumbnail) as soon as it is done.
    6. Mark the job succeeded, cancelled or failed, and notify its watchers.
    """
    from generation.engine import GenerationCancelled, GenerationInput, ModelLoadError, OutOfMemory

    # 1. Claim
    claimed = Job.objects.filter(id=job_id, status=Job.Status.QUEUED, cancel_requested=False).update(
        status=Job.Status.RUNNING, started_at=timezone.now(), worker_id=WORKER_ID, step=0,
        attempts=F("attempts") + 1,
    )
    if not claimed:
        logger.info("Job %s is not waiting any more; skipping", job_id)
        return
    WorkerStatus.objects.filter(worker_id=WORKER_ID).update(current_job_id=job_id)
    events.broadcast_job(job_id)
    job = Job.objects.select_related("model").get(id=job_id)
    request = job.request
    gpu_started = time.monotonic()
    try:
        # 2. Inputs
        engine = get_engine()
        source = model_source(job.model)
        seed_image = _open_source(request["seedImage"]) if request.get("seedImage") else None
        mask_image = _open_source(request["maskImage"]) if request.get("maskImage") else None

        # 3. Model
        try:
            load_seconds = engine.load(source)
        except ModelLoadError as exc:
            ModelEntry.objects.filter(id=job.model_id).update(load_error=str(exc))
            _finish(job_id, status=Job.Status.FAILED, error=f"The model could not be loaded: {exc}")
            return
        if job.model.load_error:
            ModelEntry.objects.filter(id=job.model_id).update(load_error="", last_load_seconds=load_seconds)

        # 4-5. Images, one at a time so each is delivered as soon as it is done
        for index in range(job.images_done, job.number_results):
            seed = request["seed"] + index
            inputs = GenerationInput(
                task_type=job.task_type,
                prompt=request["positivePrompt"],
                negative_prompt=request.get("negativePrompt"),
                width=request["width"],
                height=request["height"],
                steps=request["steps"],
                cfg_scale=request["CFGScale"],
                scheduler=request["scheduler"],
                seed=seed,
                strength=request.get("strength"),
                seed_image=seed_image,
                mask_image=mask_image,
                outpaint=request.get("outpaint"),
            )
            started = time.monotonic()
            publisher = _publisher_for(job)
            try:
                image = engine.generate(
                    source, inputs,
                    on_step=lambda step, total, preview, index=index: publisher.submit(step, total, index, preview),
                    should_cancel=lambda: publisher.cancelled.is_set() or SHUTDOWN.is_set(),
                )
            finally:
                publisher.close()
            _store_image(job, image, index=index, seed=seed, seconds=time.monotonic() - started)

        # 6. Done
        _finish(job_id, status=Job.Status.SUCCEEDED, gpu_seconds=time.monotonic() - gpu_started)
    except GenerationCancelled:
        if SHUTDOWN.is_set() and not Job.objects.filter(id=job_id, cancel_requested=True).exists():
            _requeue_for_restart(job)
            return
        _finish(job_id, status=Job.Status.CANCELLED, gpu_seconds=time.monotonic() - gpu_started)
    except OutOfMemory as exc:
        _finish(job_id, status=Job.Status.FAILED, error=str(exc), gpu_seconds=time.monotonic() - gpu_started)
    except Exception as exc:
        logger.exception("Job %s failed", job_id)
        _finish(job_id, status=Job.Status.FAILED, error=f"Generation failed: {exc}",
                gpu_seconds=time.monotonic() - gpu_started)
    finally:
        WorkerStatus.objects.filter(worker_id=WORKER_ID).update(current_job=None, jobs_done=F("jobs_done") + 1)


def _requeue_for_restart(job: Job) -> None:
    """This worker is stopping: hand the job back without counting it as a lost attempt."""
    from generation.recovery import BACK_IN_QUEUE
    from webapp.studio.services import _enqueue

    with transaction.atomic():
        Job.objects.filter(id=job.id, status=Job.Status.RUNNING).update(
            **BACK_IN_QUEUE, attempts=F("attempts") - 1,
        )
        transaction.on_commit(partial(_enqueue, job_id=str(job.id), priority=job.priority))
    logger.warning("Worker stopping: job %s goes back in the queue", job.id)


def _publisher_for(job: Job):
    """A publisher whose delivery writes the newest step to the job row and notifies watchers."""
    from generation.publisher import ProgressPublisher

    job_id = job.id
    group = events.job_group(job_id)
    # Watchers get every step over the channel layer; the job row (what a reconnecting browser
    # reads) is written at most every quarter second, and at the last step.
    state = {"written_at": 0.0, "preview": None}

    def deliver(batch):
        messages = []
        for event in batch:
            preview_uri = None
            if event.preview_jpeg is not None:
                preview_uri = "data:image/jpeg;base64," + base64.b64encode(event.preview_jpeg).decode()
            messages.append(events.progress_message(
                job_id, step=event.step, total_steps=event.total, image_index=event.image_index,
                images_done=event.image_index, phase_info=events.phase(job, event.step),
                preview_data_uri=preview_uri,
            ))
        events.send_many([(group, message) for message in messages])
        newest = batch[-1]
        previews = [e.preview_jpeg for e in batch if e.preview_jpeg is not None]
        if previews:
            state["preview"] = previews[-1]
        now = time.monotonic()
        if now - state["written_at"] < DB_PROGRESS_INTERVAL and newest.step < newest.total:
            return
        update = {"step": newest.step}
        if state["preview"] is not None:
            update["preview"], state["preview"] = state["preview"], None
        Job.objects.filter(id=job_id, status=Job.Status.RUNNING).update(**update)
        state["written_at"] = now

    def check_cancel():
        return Job.objects.filter(id=job_id, cancel_requested=True).exists()

    return ProgressPublisher(deliver=deliver, check_cancel=check_cancel, on_thread_exit=connections.close_all).start()


def _store_image(job: Job, image, *, index: int, seed: int, seconds: float) -> Image:
    request = job.request
    parameters = a1111_parameters(request, seed=seed, model_name=job.model.name, steps_run=job.total_steps)
    row = Image(job=job, owner_id=job.owner_id, team_id=job.team_id, visibility=job.visibility, index=index,
                seed=seed, width=image.width, height=image.height, seconds=seconds)
    row.file.save(f"{row.id}.png", ContentFile(png_bytes(image, parameters=parameters, request={**request, "seed": seed})),
                  save=False)
    row.thumbnail.save(f"{row.id}.webp", ContentFile(thumbnail_bytes(image)), save=False)
    with transaction.atomic():
        row.save()
        Job.objects.filter(id=job.id).update(images_done=index + 1, step=job.total_steps)
    if index + 1 < job.number_results:  # the last image is announced with the job's success
        events.broadcast_job(job.id)
    return row


# Worker lifecycle -------------------------------------------------------------------------------


def register_worker(device: str) -> None:
    WorkerStatus.objects.update_or_create(
        worker_id=WORKER_ID,
        defaults={"hostname": socket.gethostname(), "pid": os.getpid(), "device": device,
                  "last_heartbeat": timezone.now(), "current_job": None},
    )


def heartbeat() -> None:
    engine = _engine
    WorkerStatus.objects.filter(worker_id=WORKER_ID).update(
        last_heartbeat=timezone.now(), loaded_models=engine.loaded_models() if engine else []
    )


def unregister_worker() -> None:
    WorkerStatus.objects.filter(worker_id=WORKER_ID).delete()


def start_heartbeat(stop: threading.Event) -> threading.Thread:
    """Refresh this worker's row, and recover jobs of workers that stopped beating."""
    from generation.recovery import recover_stale_jobs

    def loop():
        while not stop.wait(settings.STEPWISE_HEARTBEAT_SECONDS):
            try:
                close_old_connections()
                heartbeat()
                recover_stale_jobs()
            except Exception:
                logger.warning("Heartbeat failed; retrying", exc_info=True)
        connection.close()

    thread = threading.Thread(target=loop, name="heartbeat", daemon=True)
    thread.start()
    return thread


def test_load(model_id: int) -> None:
    from generation.engine import ModelLoadError

    entry = ModelEntry.objects.get(id=model_id)
    try:
        seconds = get_engine().load(model_source(entry))
    except ModelLoadError as exc:
        ModelEntry.objects.filter(id=model_id).update(load_error=str(exc), last_load_seconds=None)
        return
    ModelEntry.objects.filter(id=model_id).update(load_error="", last_load_seconds=seconds)
    heartbeat()
