"""Writes, as keyword-only service functions. Side effects (enqueue, broadcast) happen on commit."""

from django.db import transaction

from webapp.studio import events
from webapp.studio.models import Board, BoardImage, Image, Membership, Profile, StepPreview, Style, Team, Visibility

BOARD_NAME_MAX = 80
STYLE_NAME_MAX = 60
STYLE_FRAGMENT_MAX = 1000


class Refused(ValueError):
    """A write the service will not do; the message says why in the user's words."""


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


def _visibility(visibility: str) -> str:
    if visibility not in Visibility.values:
        raise Refused("Choose Private or Team.")
    return visibility


def board_create(*, owner, team: Team | None, name: str, visibility: str) -> Board:
    """A new board of `owner`'s, in `team` (their active team)."""
    name = (name or "").strip()
    if not name:
        raise Refused("Give the board a name.")
    if len(name) > BOARD_NAME_MAX:
        raise Refused(f"A board's name may be at most {BOARD_NAME_MAX} characters.")
    return Board.objects.create(owner=owner, team=team, name=name, visibility=_visibility(visibility))


def board_set_visibility(*, board: Board, visibility: str) -> Board:
    board.visibility = _visibility(visibility)
    board.save(update_fields=["visibility"])
    return board


def board_add_images(*, board: Board, images, user) -> int:
    """Add images to a board (those already on it stay as they are); returns how many were new."""
    existing = set(board.items.values_list("image_id", flat=True))
    new = [BoardImage(board=board, image=image, added_by=user) for image in images if image.id not in existing]
    BoardImage.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def board_remove_image(*, board: Board, image_id) -> bool:
    """Take an image off a board (the image stays); whether it was on it."""
    deleted, _ = BoardImage.objects.filter(board=board, image_id=image_id).delete()
    return bool(deleted)


def board_delete(*, board: Board) -> None:
    """Delete a board; its images stay in the gallery."""
    board.delete()


def style_create(*, owner, team: Team | None, name: str, positive: str, negative: str, visibility: str) -> Style:
    """A saved style: prompt fragments (either may be empty, not both); names are unique per owner."""
    name = (name or "").strip()
    positive, negative = (positive or "").strip(), (negative or "").strip()
    if not name:
        raise Refused("Give the style a name.")
    if len(name) > STYLE_NAME_MAX:
        raise Refused(f"A style's name may be at most {STYLE_NAME_MAX} characters.")
    if not positive and not negative:
        raise Refused("A style needs a prompt or a negative prompt to add.")
    if len(positive) > STYLE_FRAGMENT_MAX or len(negative) > STYLE_FRAGMENT_MAX:
        raise Refused(f"A style's prompts may be at most {STYLE_FRAGMENT_MAX} characters each.")
    if Style.objects.filter(owner=owner, name=name).exists():
        raise Refused(f"You already have a style named {name!r}.")
    return Style.objects.create(owner=owner, team=team, name=name, positive=positive, negative=negative,
                                visibility=_visibility(visibility))


def style_delete(*, style: Style) -> None:
    style.delete()
