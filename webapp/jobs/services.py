"""Creating jobs and the uploads they start from: what pages and the API call to use the queue.

Keyword-only service functions; the queue (webapp/jobs/queue.py) enqueues once the transaction commits.
"""

import io

from django.core.files.base import ContentFile
from django.db import transaction

from webapp.jobs import queue
from webapp.studio.access import active_team
from webapp.studio.fields import FieldError, InvalidRequest
from webapp.studio.models import Job, Upload, Visibility
from webapp.studio.schema import ValidRequest
from webapp.studio.services import profile_for
from webapp.studio.source_images import SourceImage


class QueueFull(InvalidRequest):
    pass


def _store_source(*, user, team, source: SourceImage | None):
    """Keep a new seed/mask image as an Upload; return the id the request refers to."""
    if source is None:
        return None
    if source.existing_id is not None:
        return str(source.existing_id)
    out = io.BytesIO()
    source.image.save(out, format="PNG")
    upload = Upload(owner=user, team=team, width=source.image.width, height=source.image.height)
    upload.file.save(f"{upload.id}.png", ContentFile(out.getvalue()), save=False)
    upload.save()
    return str(upload.id)


def upload_create(*, user, image) -> Upload:
    """Store a decoded PIL image as a reusable source (the API's imageUpload)."""
    return Upload.objects.get(id=_store_source(user=user, team=active_team(user), source=SourceImage(image=image)))


def job_create(*, user, valid: ValidRequest, visibility: str | None = None, origin: str = Job.Origin.WEB) -> Job:
    """Store a validated request as a queued Job and enqueue it once the transaction commits.

    1. Refuse when the user already has too many queued jobs.
    2. Store new source images, and the parameters that refer to them by id.
    3. Create the job with its effective step count as the progress total.
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
            total_steps=valid.plan.steps,
            number_results=params["numberResults"],
            priority=max(-100, -queued),
            origin=origin,
            api_task_uuid=params.get("taskUUID", ""),
        )
        # 4. Side effects after commit
        queue.job_enqueue(job=job)
    return job
