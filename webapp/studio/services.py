"""Writes, as keyword-only service functions. Side effects (enqueue, broadcast) happen on commit."""

import io
from functools import partial

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from webapp.studio import events
from webapp.studio.models import Image, Job, Membership, Profile, Team, Upload, Visibility
from webapp.studio.schema import FieldError, InvalidRequest, SourceImage, ValidRequest


class QueueFull(InvalidRequest):
    pass


def profile_for(user) -> Profile:
    profile = getattr(user, "_stepwise_profile", None)
    if profile is None:
        profile, _ = Profile.objects.select_related("active_team").get_or_create(user=user)
        user._stepwise_profile = profile
    return profile


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
    from webapp.studio.access import active_team

    return Upload.objects.get(id=_store_source(user=user, team=active_team(user), source=SourceImage(image=image)))


def job_create(*, user, valid: ValidRequest, visibility: str | None = None, source: str = "web") -> Job:
    """Store a validated request as a queued Job and enqueue it once the transaction commits.

    1. Refuse when the user already has too many queued jobs.
    2. Store new source images, and the request that refers to them by id.
    3. Create the job with its effective step count as the progress total.
    4. On commit: enqueue on the generation queue with a fair priority, then notify watchers.
    """
    from webapp.studio.access import active_team

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
            request=params,
            total_steps=valid.plan.steps,
            number_results=params["numberResults"],
            priority=max(-100, -queued),
            source=source,
            api_task_uuid=params.get("taskUUID", ""),
        )
        # 4. Side effects after commit
        transaction.on_commit(partial(_enqueue, job_id=str(job.id), priority=job.priority))
    return job


def _enqueue(*, job_id, priority):
    from webapp.studio.tasks import generate_images

    result = generate_images.using(priority=priority).enqueue(job_id=job_id)
    Job.objects.filter(id=job_id).update(task_result_id=str(result.id))
    events.broadcast_job(job_id)


def job_cancel(*, job: Job) -> Job:
    """Cancel a job: a queued job leaves the queue; a running one stops at its next step."""
    from django_tasks_db.models import DBTaskResult

    with transaction.atomic():
        job = Job.objects.select_for_update().get(id=job.id)
        if job.status == Job.Status.QUEUED:
            job.status = Job.Status.CANCELLED
            job.finished_at = timezone.now()
            job.cancel_requested = True
            job.save(update_fields=["status", "finished_at", "cancel_requested"])
            if job.task_result_id:
                DBTaskResult.objects.filter(id=job.task_result_id, status="READY").delete()
        elif job.status == Job.Status.RUNNING:
            # The worker polls this flag off the denoising thread and interrupts the pipeline.
            job.cancel_requested = True
            job.save(update_fields=["cancel_requested"])
        transaction.on_commit(partial(events.broadcast_job, str(job.id)))
    return job


def image_set_visibility(*, image: Image, visibility: str) -> Image:
    if visibility not in Visibility.values:
        raise ValueError(f"visibility must be one of {Visibility.values}")
    image.visibility = visibility
    image.save(update_fields=["visibility"])
    return image


def image_delete(*, image: Image) -> None:
    files = [image.file, image.thumbnail]
    with transaction.atomic():
        image.delete()
        # The files go only once the row is gone for good.
        transaction.on_commit(lambda: [f.delete(save=False) for f in files if f])


def team_add_member(*, team_name: str, user, admin: bool = False) -> Membership:
    team, _ = Team.objects.get_or_create(name=team_name)
    role = Membership.Role.ADMIN if admin else Membership.Role.MEMBER
    membership, created = Membership.objects.get_or_create(team=team, user=user, defaults={"role": role})
    if not created and admin and membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    profile = profile_for(user)
    if profile.active_team_id is None:
        profile.active_team = team
        profile.save(update_fields=["active_team"])
    return membership
