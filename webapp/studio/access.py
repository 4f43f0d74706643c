"""Who may see and use what. Every view, consumer and API handler asks here, nowhere else.

- A user sees their own jobs and images, and their teams' images that are shared with the team.
- Teammates see a team job only while it has no images yet or at least one of them is shared:
  a job whose images are all private shows them nothing (no prompt, parameters, reuse or progress).
- Only the owner or an admin of the image's team may delete it.
- Models: users see enabled models open to all teams or to one of theirs; staff see everything.
- Boards and styles: a user sees their own and their teams' shared ones. Anyone who sees a team board
  adds images to it and removes them; only its owner renames it or changes who sees it; its owner
  or a team admin deletes it. A board shows each viewer only the images they may see. A style is
  changed or deleted by its owner only.
"""

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q

from webapp.studio.models import Board, Image, Job, Membership, ModelEntry, Style, Team, Upload, Visibility
from webapp.studio.services import profile_for


def still_active(user_id) -> bool:
    """Whether this user may still use open sessions: the account exists and is active.

    Websockets ask on a timer (STEPWISE_ACCESS_CHECK_SECONDS): a socket authenticates once, so
    without this a user deactivated later would keep what they had open.
    """
    return get_user_model().objects.filter(id=user_id, is_active=True).exists()


def team_ids(user) -> list[int]:
    if not user.is_authenticated:
        return []
    cached = getattr(user, "_stepwise_team_ids", None)
    if cached is None:
        cached = list(Membership.objects.filter(user=user).values_list("team_id", flat=True))
        user._stepwise_team_ids = cached
    return cached


def active_team(user) -> Team | None:
    profile = profile_for(user)
    if profile.active_team_id and profile.active_team_id in team_ids(user):
        return profile.active_team
    first = Membership.objects.filter(user=user).select_related("team").order_by("team__name").first()
    return first.team if first else None


def is_team_admin(user, team_id) -> bool:
    return Membership.objects.filter(user=user, team_id=team_id, role=Membership.Role.ADMIN).exists()


def models_for(user):
    if user.is_staff:
        return ModelEntry.objects.all()
    return ModelEntry.objects.filter(enabled=True).filter(
        Q(teams__isnull=True) | Q(teams__in=team_ids(user))
    ).distinct()


def checkpoints_for(user):
    """The models a job can run (not add-ons such as LoRAs or VAEs)."""
    return models_for(user).filter(kind=ModelEntry.Kind.CHECKPOINT)


def addons_for(user, *kinds):
    """Enabled add-ons of these kinds (LoRA, embedding, VAE...) this user may put on a checkpoint."""
    return models_for(user).filter(enabled=True, kind__in=kinds)


def default_model_for(user) -> ModelEntry | None:
    visible = checkpoints_for(user).filter(enabled=True)
    return visible.filter(is_default=True).first() or visible.first()


def images_visible_to(user):
    if not user.is_authenticated:
        return Image.objects.none()
    return Image.objects.filter(Q(owner=user) | Q(team__in=team_ids(user), visibility=Visibility.TEAM))


def _shared_with_team() -> Q:
    """A team job whose images, if it has any, are not all private."""
    images = Image.objects.filter(job=OuterRef("pk"))
    return Q(visibility=Visibility.TEAM) & (~Exists(images) | Exists(images.filter(visibility=Visibility.TEAM)))


def jobs_visible_to(user):
    if not user.is_authenticated:
        return Job.objects.none()
    return Job.objects.filter(Q(owner=user) | (Q(team__in=team_ids(user)) & _shared_with_team()))


def can_view_job(user, job: Job) -> bool:
    if not user.is_authenticated:
        return False
    if job.owner_id == user.id:
        return True
    if job.visibility != Visibility.TEAM or job.team_id is None or job.team_id not in team_ids(user):
        return False
    return Job.objects.filter(_shared_with_team(), id=job.id).exists()


def can_delete_image(user, image: Image) -> bool:
    return image.owner_id == user.id or (image.team_id is not None and is_team_admin(user, image.team_id))


def source_image_for(user, image_id):
    """The stored file behind an image id this user may use as a source, or None."""
    image = images_visible_to(user).filter(id=image_id).first()
    if image is not None:
        return image.file
    upload = Upload.objects.filter(id=image_id, owner=user).first()
    return upload.file if upload is not None else None


def boards_visible_to(user):
    if not user.is_authenticated:
        return Board.objects.none()
    return Board.objects.filter(Q(owner=user) | Q(team__in=team_ids(user), visibility=Visibility.TEAM))


def can_delete_board(user, board: Board) -> bool:
    return board.owner_id == user.id or (board.visibility == Visibility.TEAM and board.team_id is not None
                                         and is_team_admin(user, board.team_id))


def styles_visible_to(user):
    if not user.is_authenticated:
        return Style.objects.none()
    return Style.objects.filter(Q(owner=user) | Q(team__in=team_ids(user), visibility=Visibility.TEAM))
