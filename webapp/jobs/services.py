"""Creating jobs and the uploads they start from: what pages and the API call to use the queue.

Keyword-only service functions; the queue (webapp/jobs/queue.py) enqueues once the transaction commits.
"""

import dataclasses
import uuid

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Sum

from webapp.jobs import queue
from webapp.studio.access import active_team
from webapp.studio.fields import FieldError, InvalidRequest
from webapp.studio.models import UPLOAD_EXTENSIONS, Comparison, Job, Upload, Visibility
from webapp.studio.schema import ValidRequest, read_comparison, validate_inference
from webapp.studio.services import profile_for
from webapp.studio.source_images import SourceImage


class QueueFull(InvalidRequest):
    pass


class UploadQuotaExceeded(InvalidRequest):
    pass


def _check_quota(*, user, sources: list[tuple[str, SourceImage | None]]) -> None:
    """Refuse, naming the first new image, when new sources would take the user over the quota."""
    new = [(name, len(s.new_bytes)) for name, s in sources if s is not None and s.new_bytes is not None]
    if not new:
        return
    name, new_bytes = new[0][0], sum(size for _, size in new)
    quota = profile_for(user).upload_quota_bytes
    used = Upload.objects.filter(owner=user).aggregate(total=Sum("size"))["total"] or 0
    if used + new_bytes > quota:
        mb = 1024 * 1024
        raise UploadQuotaExceeded([FieldError(
            name,
            f"{name} would take your uploads to {(used + new_bytes) / mb:.1f} MB, over your quota of "
            f"{quota / mb:.0f} MB; delete old work or ask an admin for more.",
            "uploadQuotaExceeded",
        )])


def _store_source(*, user, team, source: SourceImage | None):
    """Keep a new seed/mask image as an Upload, byte for byte as received; return its id.

    Re-encoding would multiply the disk a request can take (a 14 MB JPEG is 50 MB as PNG), and the
    bytes already passed the validator's decoder.
    """
    if source is None:
        return None
    if source.existing_id is not None:
        return str(source.existing_id)
    assert source.new_bytes is not None, "a source is an existing image or new bytes"
    extension = UPLOAD_EXTENSIONS[source.format]
    upload = Upload(owner=user, team=team, width=source.image.width, height=source.image.height,
                    size=len(source.new_bytes))
    upload.file.save(f"{upload.id}.{extension}", ContentFile(source.new_bytes), save=False)
    upload.save()
    return str(upload.id)


def upload_create(*, user, source: SourceImage, name: str = "image") -> Upload:
    """Store a validated source image as a reusable Upload (the API's imageUpload); quota applies."""
    _check_quota(user=user, sources=[(name, source)])
    upload_id = _store_source(user=user, team=active_team(user), source=source)
    return Upload.objects.get(id=upload_id)


def job_create(*, user, valid: ValidRequest, visibility: str | None = None, origin: str = Job.Origin.WEB,
               comparison: Comparison | None = None) -> Job:
    """Store a validated request as a queued Job and enqueue it once the transaction commits.

    1. Refuse when the user already has too many queued jobs, or new sources exceed the upload quota.
    2. Store new source images, and the parameters that refer to them by id.
    3. Create the job with its effective step count (all passes) as the progress total.
    4. On commit: enqueue on the generation queue with a fair priority, then notify watchers.
    """
    # 1. Per-user limit
    queued = Job.objects.filter(owner=user, status=Job.Status.QUEUED).count()
    limit = profile_for(user).queue_limit
    if queued >= limit:
        raise QueueFull([FieldError(
            "request",
            f"You already have {queued} jobs waiting (the limit is {limit}); "
            "wait for some to finish or cancel them.",
            "tooManyQueuedJobs",
        )])
    _check_quota(user=user, sources=[("seedImage", valid.seed_image), ("maskImage", valid.mask_image)])
    team = active_team(user)
    visibility = visibility or profile_for(user).default_visibility
    with transaction.atomic():
        # 2. Sources
        params = dict(valid.params)
        if valid.seed_image is not None:
            params["seedImage"] = _store_source(user=user, team=team, source=valid.seed_image)
        if valid.mask_image is not None:
            params["maskImage"] = _store_source(user=user, team=team, source=valid.mask_image)
        # 3. The job; fairness: a user's k-th waiting job gets priority -k, so one user's batch
        # interleaves with everyone else's work instead of starving it.
        job = Job.objects.create(
            owner=user,
            team=team,
            visibility=visibility if team else Visibility.PRIVATE,
            task_type=valid.task_type,
            model=valid.model,
            params=params,
            total_steps=valid.job_plan.steps,
            number_results=params["numberResults"],
            priority=max(-100, -queued),
            origin=origin,
            api_task_uuid=params.get("taskUUID", ""),
            comparison=comparison,
        )
        # 4. Side effects after commit
        queue.job_enqueue(job=job)
    return job


COMPARE_FIELDS = ("compareSteps", "compareSchedulers")


def comparison_create(*, user, payload: dict, task_type: str | None = None, visibility: str | None = None,
                      origin: str = Job.Origin.WEB) -> Comparison:
    """Store a "compare steps" group: the request of `payload` with one seed, one job per step count
    (and per scheduler, when `compareSchedulers` lists several), on the ordinary queue.

    1. Read the step counts and schedulers; validate every cell with the one schema, so that a bad
       cell refuses the whole group, naming its field, before anything is stored.
    2. Refuse when the group does not fit in the user's queue limit.
    3. In one transaction: the comparison and its jobs; the source images are stored once.
    """
    # 1. Cells
    steps, scheduler_names = read_comparison(payload)
    request = {k: v for k, v in payload.items() if k not in COMPARE_FIELDS}
    number = request.get("numberResults", 1)
    if str(number).strip() not in ("", "1"):
        raise InvalidRequest([FieldError("numberResults", "A comparison makes one image per cell: numberResults "
                                                          "must be 1.")])
    request["numberResults"] = 1
    base = validate_inference(request, user=user, task_type=task_type)
    seed = base.params["seed"]
    rows = scheduler_names or [base.params["scheduler"]]
    cells: list[ValidRequest] = []
    for name in rows:
        for count in steps:
            try:
                cells.append(validate_inference({**request, "seed": seed, "steps": count, "scheduler": name},
                                                user=user, task_type=task_type))
            except InvalidRequest as exc:
                # Name the comparison's field that made this cell invalid.
                field = {"steps": "compareSteps", "scheduler": "compareSchedulers"}
                raise InvalidRequest([FieldError(field.get(e.parameter, e.parameter),
                                                 f"{count} steps with {name}: {e.message}", e.code)
                                      for e in exc.errors]) from None
    # 2. Limits: the same as for single jobs, for the whole group at once
    queued = Job.objects.filter(owner=user, status=Job.Status.QUEUED).count()
    limit = profile_for(user).queue_limit
    if queued + len(cells) > limit:
        raise QueueFull([FieldError(
            "compareSteps",
            f"This comparison makes {len(cells)} jobs and you already have {queued} waiting (the limit is "
            f"{limit}); compare fewer step counts, or wait for some jobs to finish.",
            "tooManyQueuedJobs",
        )])
    # 3. Store
    with transaction.atomic():
        comparison = Comparison.objects.create(owner=user, team=active_team(user), task_type=base.task_type,
                                               steps=steps, schedulers=[cell.params["scheduler"] for cell in
                                                                        cells[::len(steps)]], seed=seed)
        stored: dict[str, str] = {}
        for cell in cells:
            # The first job stores new source images; the others refer to them.
            if cell.seed_image is not None and "seedImage" in stored:
                cell = dataclasses.replace(cell, seed_image=SourceImage(
                    image=cell.seed_image.image, existing_id=uuid.UUID(stored["seedImage"])))
            if cell.mask_image is not None and "maskImage" in stored:
                cell = dataclasses.replace(cell, mask_image=SourceImage(
                    image=cell.mask_image.image, existing_id=uuid.UUID(stored["maskImage"])))
            job = job_create(user=user, valid=cell, visibility=visibility, origin=origin, comparison=comparison)
            for key in ("seedImage", "maskImage"):
                if job.params.get(key):
                    stored[key] = job.params[key]
    return comparison
