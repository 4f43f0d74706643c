"""Boards: named collections of images, private or shared with the team. A board's page is the gallery
filtered by it (`/gallery/?board=<id>`, with the board's header and actions); this module lists boards
and makes the changes."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from webapp.studio import access, services
from webapp.studio.models import Visibility
from webapp.studio.views.common import safe_next


def board_url(board) -> str:
    return f"{reverse('gallery')}?board={board.id}"


def _get_board(request, board_id):
    return get_object_or_404(access.boards_visible_to(request.user).select_related("owner", "team"), id=board_id)


def _posted_image(request):
    """The posted `image`, which the user must see (PermissionDenied otherwise)."""
    try:
        image_id = uuid.UUID(request.POST.get("image", ""))
    except ValueError:
        raise PermissionDenied("That image is not available to you.") from None
    image = access.images_visible_to(request.user).filter(id=image_id).first()
    if image is None:
        raise PermissionDenied("That image is not available to you.")
    return image


def _visible_items(user) -> Q:
    """Board items whose image `user` may see: a board shows each viewer only those."""
    return Q(items__image__owner=user) | Q(items__image__team__in=access.team_ids(user),
                                           items__image__visibility=Visibility.TEAM)


@login_required
def board_list(request):
    """The user's boards and the ones shared with their teams, each with how many images it shows them."""
    boards = (access.boards_visible_to(request.user).select_related("owner", "team")
              .annotate(shown=Count("items", filter=_visible_items(request.user), distinct=True))
              .order_by("name", "created_at"))  # a GROUP BY query ignores Meta.ordering
    covers = {}
    for board in boards:
        item = (board.items.filter(image__in=access.images_visible_to(request.user))
                .order_by("-added_at").only("image_id").first())
        covers[board.id] = item.image_id if item else None
    return render(request, "studio/board_list.html", {
        "boards": [{"board": b, "cover": covers[b.id], "url": board_url(b)} for b in boards],
        "team": access.active_team(request.user),
    })


@require_POST
@login_required
def board_create(request):
    """A new board in the user's active team; with `image`, that image goes on it straight away."""
    image = _posted_image(request) if request.POST.get("image") else None
    try:
        board = services.board_create(owner=request.user, team=access.active_team(request.user),
                                      name=request.POST.get("name", ""),
                                      visibility=request.POST.get("visibility", Visibility.TEAM))
    except services.Refused as exc:
        messages.error(request, str(exc))
        return redirect(safe_next(request, reverse("board_list")))
    if image is not None:
        services.board_add_images(board=board, images=[image], user=request.user)
        messages.success(request, f"Added to the new board {board.name}.")
    else:
        messages.success(request, f"Board {board.name} created: add images from the gallery or an image's page.")
    return redirect(safe_next(request, board_url(board)))


@require_POST
@login_required
def board_add(request):
    """Put the posted `image` on the posted `board` (the image page's picker)."""
    try:
        board = _get_board(request, uuid.UUID(request.POST.get("board", "")))
    except ValueError:
        messages.error(request, "Choose a board.")
        return redirect(safe_next(request, reverse("board_list")))
    image = _posted_image(request)
    added = services.board_add_images(board=board, images=[image], user=request.user)
    messages.success(request, f"Added to {board.name}." if added else f"It is already on {board.name}.")
    return redirect(safe_next(request, board_url(board)))


@require_POST
@login_required
def board_remove(request, board_id):
    """Take an image off the board; the image itself stays."""
    board = _get_board(request, board_id)
    try:
        removed = services.board_remove_image(board=board, image_id=uuid.UUID(request.POST.get("image", "")))
    except ValueError:
        removed = False
    if removed:
        messages.success(request, f"Removed from {board.name}; the image stays in the gallery.")
    else:
        messages.error(request, f"That image is not on {board.name}.")
    return redirect(safe_next(request, board_url(board)))


@require_POST
@login_required
def board_visibility(request, board_id):
    board = _get_board(request, board_id)
    if board.owner_id != request.user.id:
        raise PermissionDenied("Only the board's owner changes who sees it.")
    try:
        services.board_set_visibility(board=board, visibility=request.POST.get("visibility", ""))
    except services.Refused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{board.name}: shared with {board.team}." if board.visibility == Visibility.TEAM
                         and board.team else f"{board.name}: only you see it now.")
    return redirect(safe_next(request, board_url(board)))


@require_POST
@login_required
def board_delete(request, board_id):
    """Delete the board (its owner, or an admin of its team); its images stay."""
    board = _get_board(request, board_id)
    if not access.can_delete_board(request.user, board):
        raise PermissionDenied("Only the board's owner or a team admin can delete it.")
    name = board.name
    services.board_delete(board=board)
    messages.success(request, f"Board {name} deleted; its images stay in the gallery.")
    return redirect("board_list")
