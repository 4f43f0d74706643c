"""Writes, as keyword-only service functions. Side effects (enqueue, broadcast) happen on commit."""

from django.db import transaction

from webapp.studio import events
from webapp.studio.models import Image, Membership, Profile, StepPreview, Team, Visibility


def profile_for(user) -> Profile:
    profile = getattr(user, "_stepwise_profile", None)
    if profile is None:
        profile, _ = Profile.objects.select_related("active_team").get_or_create(user=user)
        user._stepwise_profile = profile
    return profile


def image_set_visibility(*, image: Image, visibility: str) -> Image:
    if visibility not in Visibility.values:
        raise ValueError(f"visibility must be one of {Visibility.values}")
    image.visibility = visibility
    image.save(update_fields=["visibility"])
    # Open job pages re-check access on this update: teammates watching a job whose images just
    # all became private are disconnected (webapp/studio/consumers.py).
    job_id = image.job_id
    transaction.on_commit(lambda: events.broadcast_job(job_id))
    return image


def image_set_favourite(*, image: Image, user, favourite: bool) -> None:
    """Mark or unmark an image as one of `user`'s favourites (each person has their own)."""
    if favourite:
        image.favourited_by.add(user)
    else:
        image.favourited_by.remove(user)


def image_delete(*, image: Image) -> None:
    files = [image.file, image.thumbnail]
    with transaction.atomic():
        # The replay of the refinement that led to this image goes with it.
        StepPreview.objects.filter(job_id=image.job_id, image_index=image.index).delete()
        job_id = image.job_id
        image.delete()
        transaction.on_commit(lambda: events.broadcast_job(job_id))
        # The files go only once the row is gone for good.
        transaction.on_commit(lambda: _delete_files(files))


def _delete_files(files) -> None:
    for f in files:
        if f:
            f.delete(save=False)


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
