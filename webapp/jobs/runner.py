"""The job runner: runs one claimed job on the engine it is given and says how it ended.

It stores each image as soon as it is done and publishes progress on the way, but it never changes
the job's status: it returns an `Outcome`, which the queue (webapp/jobs/queue.py) records. It never
imports torch either: the engine it receives does.
"""

import base64
import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connections, transaction
from django.utils import timezone

from generation.inputs import (
    AddOn,
    GenerationCancelled,
    GenerationInput,
    HiresFix,
    ModelLoadError,
    ModelSource,
    OutOfMemory,
    Refiner,
)
from generation.publisher import ProgressPublisher, encode_replay_preview, replay_steps
from generation.safety import blurred
from webapp.jobs import outbound
from webapp.studio import events
from webapp.studio.images import a1111_parameters, open_image, png_bytes, thumbnail_bytes
from webapp.studio.models import ContentChecker, Image, Job, ModelEntry, StepPreview, Upload
from webapp.studio.schema import result_seeds

logger = logging.getLogger("stepwise.worker")
DB_PROGRESS_INTERVAL = 0.25  # seconds between progress writes to the job row
# The outcome of a run that the worker's shutdown interrupted: the job goes back in the queue.
INTERRUPTED = "interrupted"
# How the error of a job whose uploadEndpoint PUT failed begins (the API reports it as uploadFailed).
UPLOAD_ERROR_PREFIX = "uploadEndpoint: "
# How the error of a job whose image the content checker flagged in "withhold" mode begins.
SENSITIVE_ERROR_PREFIX = "Content check: "


@dataclass(frozen=True)
class Outcome:
    """How a run ended: the job's next status (succeeded, failed, cancelled), or INTERRUPTED."""

    status: str
    error: str = ""
    gpu_seconds: float = 0.0


def model_source(entry: ModelEntry) -> ModelSource:
    return ModelSource(air=entry.air, architecture=entry.architecture, path=entry.path, config_path=entry.config_path)


def job_addons(params: dict) -> dict:
    """The engine's add-on inputs for a job's stored `lora`, `embeddings`, `vae`, `clipSkip`, `promptWeighting`.

    Raises ModelLoadError when an add-on left the catalog after the job was accepted.
    """
    airs = [item["model"] for item in params.get("lora", []) + params.get("embeddings", [])]
    airs += [params["vae"]] if params.get("vae") else []
    entries = {entry.air: entry for entry in ModelEntry.objects.filter(air__in=airs)}
    missing = [air for air in airs if air not in entries]
    if missing:
        raise ModelLoadError(f"{', '.join(missing)} is no longer in the catalog.")
    return {
        "loras": tuple(AddOn(air=item["model"], path=entries[item["model"]].path, weight=item["weight"])
                       for item in params.get("lora", [])),
        "embeddings": tuple(AddOn(air=item["model"], path=entries[item["model"]].path,
                                  token=entries[item["model"]].token) for item in params.get("embeddings", [])),
        "vae": AddOn(air=params["vae"], path=entries[params["vae"]].path) if params.get("vae") else None,
        "clip_skip": params.get("clipSkip", 0),
        "prompt_weighting": params.get("promptWeighting"),
        "mask_margin": params.get("maskMargin"),
    }


def second_pass(params: dict) -> dict:
    """The engine's inputs for a job's stored `hiresFix` or `refiner` (the pass after the first).

    Raises ModelLoadError when the refiner left the catalog after the job was accepted.
    """
    result: dict[str, Any] = {}
    if params.get("hiresFix"):
        hires = params["hiresFix"]
        result["hires"] = HiresFix(upscale=hires["upscale"], steps=hires["steps"], strength=hires["strength"])
    if params.get("refiner"):
        entry = ModelEntry.objects.filter(air=params["refiner"]["model"]).first()
        if entry is None:
            raise ModelLoadError(f"The refiner {params['refiner']['model']} is no longer in the catalog.")
        result["refiner"] = Refiner(source=model_source(entry), start_step=params["refiner"]["startStep"])
    return result


def run_job(*, job_id, engine, shutdown: threading.Event) -> Outcome:
    """Run one claimed job to the end on `engine`; every failure becomes an outcome, not an exception.

    1. Prepare the engine inputs from the stored parameters.
    2. Load the model (or hit the engine's cache); a load failure fails the job, not the worker.
    3. Generate each image with a progress publisher off the denoising thread. A job of two passes
       (the refiner, the hires fix) reports one step counter across both; the engine loads a
       refiner through its one model cache.
    4. Check it when the request asked (the admin's content checker: flag, blur or withhold it).
       Store each image (PNG with its parameters, WebP thumbnail) as soon as it is done, with the
       per-step previews of its replay, and PUT it to the request's uploadEndpoint, if any (a failed
       upload fails the job).
    5. Say how it ended: succeeded, cancelled, failed, or interrupted because `shutdown` is set
       (the worker is stopping and the job goes back in the queue).
    """
    job = Job.objects.select_related("model").get(id=job_id)
    params = job.params
    gpu_started = time.monotonic()
    try:
        # 1. Inputs
        source = model_source(job.model)
        seed_image = _open_source(params["seedImage"]) if params.get("seedImage") else None
        mask_image = _open_source(params["maskImage"]) if params.get("maskImage") else None

        # 2. Model
        try:
            addons = job_addons(params) | second_pass(params)
        except ModelLoadError as exc:
            return Outcome(Job.Status.FAILED, error=str(exc))
        try:
            load_seconds = engine.load(source)
        except ModelLoadError as exc:
            # The reason names files on the server: it goes to the log and the admin's catalog, and
            # the job (which teammates and API clients read) says only where to look.
            logger.warning("Model %s could not be loaded: %s", job.model.air, exc)
            ModelEntry.objects.filter(id=job.model_id).update(load_error=str(exc))
            return Outcome(Job.Status.FAILED, error=f"The model {job.model.air} could not be loaded; an admin can "
                                                    "see why in the model catalog.")
        if job.model.load_error:
            ModelEntry.objects.filter(id=job.model_id).update(load_error="", last_load_seconds=load_seconds)

        # 3-4. Images, one at a time so each is delivered as soon as it is done
        keep_steps = set(replay_steps(total_steps=job.total_steps, number_results=job.number_results)) \
            if settings.STEPWISE_STEP_PREVIEW_DAYS > 0 else set()
        prune_step_previews()
        for index in range(job.images_done, job.number_results):
            seed, variation_seed = result_seeds(params, index)
            inputs = GenerationInput(
                task_type=job.task_type,
                prompt=params["positivePrompt"],
                negative_prompt=params.get("negativePrompt"),
                width=params["width"],
                height=params["height"],
                steps=params["steps"],
                cfg_scale=params["CFGScale"],
                scheduler=params["scheduler"],
                seed=seed,
                variation_seed=variation_seed,
                variation_strength=params.get("variationStrength", 0.0),
                strength=params.get("strength"),
                seed_image=seed_image,
                mask_image=mask_image,
                outpaint=params.get("outpaint"),
                **addons,
            )
            started = time.monotonic()
            replay: dict[int, Any] = {}  # step -> its preview, projected and encoded once stored
            publisher = _publisher_for(job, keep=_keeper(replay, keep_steps))
            try:
                image = engine.generate(
                    source, inputs,
                    on_step=lambda step, total, preview, i=index, p=publisher: p.submit(step, total, i, preview),
                    should_cancel=lambda p=publisher: p.cancelled.is_set() or shutdown.is_set(),
                    # No preview for nobody, unless the replay keeps this job's previews (they are
                    # then projected and encoded after the last step, and nothing is sent unwatched).
                    want_preview=lambda p=publisher: bool(keep_steps) or p.watched.is_set(),
                )
            except ModelLoadError as exc:  # the refiner, loaded on the way
                return _load_failed(params["refiner"]["model"] if params.get("refiner") else job.model.air, exc,
                                    gpu_seconds=time.monotonic() - gpu_started)
            finally:
                publisher.close()
            nsfw = None
            if params.get("checkContent"):
                checker = ContentChecker.installed()
                if checker is None:
                    return Outcome(Job.Status.FAILED, error="The request asked for a content check, but the "
                                   "content checker was removed before the job ran.",
                                   gpu_seconds=time.monotonic() - gpu_started)
                nsfw = engine.content_flagged(checker.path, image)
                if nsfw and params.get("safetyMode") == "withhold":
                    return Outcome(Job.Status.FAILED, error=f"{SENSITIVE_ERROR_PREFIX}image {index + 1} was flagged by "
                                   "the content checker and withheld.", gpu_seconds=time.monotonic() - gpu_started)
                if nsfw and params.get("safetyMode") == "blur":
                    image = blurred(image)
            row = _store_image(job, image, index=index, seed=seed, variation_seed=variation_seed,
                               seconds=time.monotonic() - started, replay=replay, nsfw=nsfw)
            if params.get("uploadEndpoint"):
                problem = outbound.upload_image(job=job, image_row=row, pil_image=image)
                if problem:
                    return Outcome(Job.Status.FAILED, error=f"{UPLOAD_ERROR_PREFIX}{problem}",
                                   gpu_seconds=time.monotonic() - gpu_started)

        # 5. Outcome
        return Outcome(Job.Status.SUCCEEDED, gpu_seconds=time.monotonic() - gpu_started)
    except GenerationCancelled:
        if shutdown.is_set() and not Job.objects.filter(id=job_id, cancel_requested=True).exists():
            return Outcome(INTERRUPTED)
        return Outcome(Job.Status.CANCELLED, gpu_seconds=time.monotonic() - gpu_started)
    except OutOfMemory as exc:
        return Outcome(Job.Status.FAILED, error=str(exc), gpu_seconds=time.monotonic() - gpu_started)
    except Exception as exc:
        logger.exception("Job %s failed", job_id)
        return Outcome(Job.Status.FAILED, error=f"Generation failed: {exc}", gpu_seconds=time.monotonic() - gpu_started)


def _load_failed(air: str, exc: ModelLoadError, *, gpu_seconds: float) -> Outcome:
    """Record why a model did not load where an admin sees it (the catalog); the job says where to look."""
    logger.warning("Model %s could not be loaded: %s", air, exc)
    ModelEntry.objects.filter(air=air).update(load_error=str(exc))
    return Outcome(Job.Status.FAILED, error=f"The model {air} could not be loaded; an admin can see why in the "
                                            "model catalog.", gpu_seconds=gpu_seconds)


def try_load(*, model_id, engine) -> bool:
    """The admin's "test load": load the model and record the time it took, or the error."""
    try:
        seconds = engine.load(model_source(ModelEntry.objects.get(id=model_id)))
    except ModelLoadError as exc:
        ModelEntry.objects.filter(id=model_id).update(load_error=str(exc), last_load_seconds=None)
        return False
    ModelEntry.objects.filter(id=model_id).update(load_error="", last_load_seconds=seconds)
    return True


def _open_source(image_id):
    row = Image.objects.filter(id=image_id).first() or Upload.objects.get(id=image_id)
    with row.file.open("rb") as handle:
        return open_image(handle.read())


def prune_step_previews() -> int:
    """Delete per-step previews older than STEPWISE_STEP_PREVIEW_DAYS (all of them at 0)."""
    cutoff = timezone.now() - timedelta(days=settings.STEPWISE_STEP_PREVIEW_DAYS)
    deleted, _ = StepPreview.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def _keeper(replay: dict[int, Any], keep_steps: set[int]):
    """Collects the replay's previews on the publisher's thread (never the denoising thread).

    Only a reference to each (the engine's previews are projected when read): encoding them here,
    while the denoiser runs, took the GIL and a core from torch's threads and cost a 256x256 job on
    2 cores about 2.5 %; `_store_image` projects and encodes them all at once, after the last step."""
    def keep(step, image_index, preview):
        if step in keep_steps:
            replay[step] = preview
    return keep


def _publisher_for(job: Job, *, keep=None) -> ProgressPublisher:
    """A publisher whose delivery writes the newest step to the job row and notifies watchers.

    While nobody listens to the job's group (no job page, no API connection), there are no previews
    and no channel-layer sends: only the step goes to the row. Someone who connects then gets the
    snapshot from the row, and previews from the publisher's next watcher check (within half a second).
    """
    job_id = job.id
    group = events.job_group(job_id)
    # Watchers get every step over the channel layer; the job row (what a reconnecting browser
    # reads) is written at most every quarter second, and at the last step.
    written_at = 0.0
    unwritten_preview: bytes | None = None  # the newest preview the row does not have yet

    def deliver(batch):
        nonlocal written_at, unwritten_preview
        newest = batch[-1]
        previews = [e.preview_jpeg for e in batch if e.preview_jpeg is not None]
        if publisher.watched.is_set():
            # The publisher encodes at most one preview a batch: the newest step's that has one.
            preview_uri = "data:image/jpeg;base64," + base64.b64encode(previews[-1]).decode() if previews else None
            events.send(group, events.progress_message(
                job_id, steps=[event.step for event in batch], total_steps=newest.total,
                image_index=newest.image_index, images_done=newest.image_index,
                phase_info=events.phase(job, newest.step), preview_data_uri=preview_uri,
            ))
        if previews:
            unwritten_preview = previews[-1]
        now = time.monotonic()
        if now - written_at < DB_PROGRESS_INTERVAL and newest.step < newest.total:
            return
        update: dict[str, Any] = {"step": newest.step}
        if unwritten_preview is not None:
            update["preview"], unwritten_preview = unwritten_preview, None
        Job.objects.filter(id=job_id, status=Job.Status.RUNNING).update(**update)
        written_at = now

    def check_cancel():
        return Job.objects.filter(id=job_id, cancel_requested=True).exists()

    publisher = ProgressPublisher(deliver=deliver, check_cancel=check_cancel,
                                  check_watchers=lambda: events.has_listeners(group),
                                  on_thread_exit=connections.close_all, keep=keep)
    return publisher.start()


def _store_image(job: Job, image, *, index: int, seed: int, variation_seed: int | None, seconds: float,
                 replay: dict[int, Any], nsfw: bool | None = None) -> Image:
    params = job.params
    parameters = a1111_parameters(params, seed=seed, variation_seed=variation_seed, model_name=job.model.name,
                                  steps_run=job.total_steps)
    row = Image(job=job, owner_id=job.owner_id, team_id=job.team_id, visibility=job.visibility, index=index,
                seed=seed, width=image.width, height=image.height, seconds=seconds, nsfw=nsfw)
    stepwise = {**params, "seed": seed} | ({"variationSeed": variation_seed} if variation_seed is not None else {})
    png = png_bytes(image, parameters=parameters, stepwise=stepwise)
    row.file.save(f"{row.id}.png", ContentFile(png), save=False)
    row.thumbnail.save(f"{row.id}.webp", ContentFile(thumbnail_bytes(image)), save=False)
    # Encoded before the transaction, so the database's write lock is not held for it.
    replay_rows = [StepPreview(job_id=job.id, image_index=index, step=step, webp=encode_replay_preview(preview))
             for step, preview in sorted(replay.items())]
    with transaction.atomic():
        row.save()
        # A retried image replaces the replay of its interrupted attempt.
        StepPreview.objects.filter(job_id=job.id, image_index=index).delete()
        StepPreview.objects.bulk_create(replay_rows)
        # The next image starts again from step 0; the last one leaves the job at its last step.
        last = index + 1 == job.number_results
        Job.objects.filter(id=job.id).update(images_done=index + 1, step=job.total_steps if last else 0)
    if index + 1 < job.number_results:  # the last image is announced with the job's success
        events.broadcast_job(job.id)
        outbound.job_changed(job.id)
    return row
