"""Boards: alice's team board is bob's too (he sees, adds and removes); charlie, of another team, sees
nothing of it. Private boards are their owner's alone. A board shows each viewer only the images they
may see, and deleting it leaves the images."""

import pytest
from django.urls import reverse

from tests.conftest import PASSWORD
from webapp.studio import services
from webapp.studio.access import active_team
from webapp.studio.models import Board, BoardImage, Image


def login(client, user):
    client.force_login(user)
    return client


def make_board(owner, name="Key art", visibility="team"):
    return services.board_create(owner=owner, team=active_team(owner), name=name, visibility=visibility)


def gallery_ids(client, **query):
    response = client.get(reverse("gallery"), query)
    assert response.status_code == 200
    return {str(image.id) for image in response.context["page"].object_list}


def test_it_creates_a_board_in_the_active_team_and_opens_its_page(client, alice):
    login(client, alice)
    response = client.post(reverse("board_create"), {"name": "  Key art  ", "visibility": "team"})
    board = Board.objects.get()
    assert (board.name, board.owner, str(board.team), board.visibility) == ("Key art", alice, "Studio A", "team")
    assert response.url == f"{reverse('gallery')}?board={board.id}"
    body = client.get(response.url).content.decode()
    assert 'data-testid="board-head"' in body and "Key art has no images" in body


@pytest.mark.parametrize(("fields", "message"), [
    ({"name": "", "visibility": "team"}, "Give the board a name."),
    ({"name": "x" * 81, "visibility": "team"}, "at most 80 characters"),
    ({"name": "Key art", "visibility": "world"}, "Choose Private or Team."),
])
def test_a_bad_board_is_refused_with_a_message(client, alice, fields, message):
    login(client, alice)
    response = client.post(reverse("board_create"), fields, follow=True)
    assert message in response.content.decode()
    assert not Board.objects.exists()


def test_the_team_shares_a_team_board_and_charlie_sees_none_of_it(client, alice, bob, charlie, make_image):
    board = make_board(alice)
    shared = make_image(alice)
    bobs = make_image(bob)
    login(client, alice)
    client.post(reverse("board_add"), {"board": board.id, "image": shared.id})
    login(client, bob)  # a teammate adds his own image and sees both
    client.post(reverse("board_add"), {"board": board.id, "image": bobs.id})
    assert gallery_ids(client, board=board.id) == {str(shared.id), str(bobs.id)}
    assert "Key art" in client.get(reverse("board_list")).content.decode()

    login(client, charlie)
    assert "Key art" not in client.get(reverse("board_list")).content.decode()
    # An unknown board is no filter at all for charlie: his own gallery, none of Studio A's images.
    assert gallery_ids(client, board=board.id) == set()
    charlies = make_image(charlie)
    assert client.post(reverse("board_add"), {"board": board.id, "image": charlies.id}).status_code == 404
    assert client.post(reverse("board_remove", args=[board.id]), {"image": shared.id}).status_code == 404
    assert client.post(reverse("board_delete", args=[board.id])).status_code == 404
    assert client.post(reverse("board_visibility", args=[board.id]), {"visibility": "private"}).status_code == 404
    assert board.items.count() == 2


def test_nobody_adds_an_image_they_cannot_see(client, alice, bob, charlie, make_image):
    board = make_board(charlie, name="Studio B picks")
    alices = make_image(alice)
    login(client, charlie)
    assert client.post(reverse("board_add"), {"board": board.id, "image": alices.id}).status_code == 403
    assert client.post(reverse("board_add"), {"board": board.id, "image": "not-a-uuid"}).status_code == 403
    login(client, alice)
    private_of_bob = make_image(bob, visibility="private")
    mine = make_board(alice)
    assert client.post(reverse("board_add"), {"board": mine.id, "image": private_of_bob.id}).status_code == 403
    assert not BoardImage.objects.exists()


def test_a_board_shows_each_viewer_only_the_images_they_may_see(client, alice, bob, make_image):
    board = make_board(alice)
    public, private = make_image(alice), make_image(alice, visibility="private")
    services.board_add_images(board=board, images=[public, private], user=alice)
    login(client, alice)
    assert gallery_ids(client, board=board.id) == {str(public.id), str(private.id)}
    login(client, bob)
    assert gallery_ids(client, board=board.id) == {str(public.id)}
    assert "1 image ·" in " ".join(client.get(reverse("board_list")).content.decode().split())


def test_a_private_board_is_its_owners_alone(client, alice, bob, make_image):
    board = make_board(alice, name="My picks", visibility="private")
    login(client, bob)
    assert "My picks" not in client.get(reverse("board_list")).content.decode()
    assert client.post(reverse("board_add"), {"board": board.id, "image": make_image(bob).id}).status_code == 404


def test_only_the_owner_changes_who_sees_a_board(client, alice, bob):
    board = make_board(alice)
    login(client, bob)
    assert client.post(reverse("board_visibility", args=[board.id]), {"visibility": "private"}).status_code == 403
    login(client, alice)
    client.post(reverse("board_visibility", args=[board.id]), {"visibility": "private"})
    board.refresh_from_db()
    assert board.visibility == "private"


def test_removing_and_deleting_leave_the_images(client, alice, bob, make_image):
    board = make_board(alice)
    first, second = make_image(alice), make_image(alice)
    services.board_add_images(board=board, images=[first, second], user=alice)
    login(client, bob)  # a teammate may take images off a team board, not delete it
    client.post(reverse("board_remove", args=[board.id]), {"image": first.id})
    assert list(board.items.values_list("image_id", flat=True)) == [second.id]
    assert client.post(reverse("board_delete", args=[board.id])).status_code == 403
    login(client, alice)
    response = client.post(reverse("board_delete", args=[board.id]))
    assert response.url == reverse("board_list")
    assert not Board.objects.exists() and not BoardImage.objects.exists()
    assert Image.objects.filter(id__in=[first.id, second.id]).count() == 2


def test_a_team_admin_deletes_a_teammates_team_board_but_not_a_private_one(client, alice, bob):
    team_board = make_board(bob, name="Bob's team board")
    make_board(bob, name="Bob's own", visibility="private")
    login(client, alice)  # alice is an admin of Studio A
    client.post(reverse("board_delete", args=[team_board.id]))
    assert list(Board.objects.values_list("name", flat=True)) == ["Bob's own"]


def test_the_gallery_selection_goes_onto_a_board_and_off_it(client, alice, bob, make_image):
    board = make_board(alice)
    mine, bobs = make_image(alice), make_image(bob)
    login(client, alice)
    response = client.post(reverse("gallery_bulk"), {"action": "board", "board": board.id,
                                                     "image": [mine.id, bobs.id]}, follow=True)
    assert "Added to Key art: 2 images." in response.content.decode()
    response = client.post(reverse("gallery_bulk"), {"action": "board", "board": board.id, "image": [mine.id]},
                           follow=True)
    assert "Added to Key art: 0 images (1 already there)." in response.content.decode()
    assert gallery_ids(client, board=board.id) == {str(mine.id), str(bobs.id)}
    response = client.post(reverse("gallery_bulk"), {"action": "unboard", "current_board": board.id, "board": "",
                                                     "image": [bobs.id]}, follow=True)
    assert "Removed from Key art: 1 image." in response.content.decode()
    assert gallery_ids(client, board=board.id) == {str(mine.id)}
    response = client.post(reverse("gallery_bulk"), {"action": "board", "board": "", "image": [mine.id]}, follow=True)
    assert "Choose a board." in response.content.decode()


def test_charlie_cannot_put_a_selection_on_studio_as_board(client, alice, charlie, make_image):
    board = make_board(alice)
    login(client, charlie)
    response = client.post(reverse("gallery_bulk"), {"action": "board", "board": board.id,
                                                     "image": [make_image(charlie).id]}, follow=True)
    assert "Choose a board." in response.content.decode()
    assert not board.items.exists()


def test_the_image_page_lists_its_boards_and_offers_the_others(client, alice, bob, make_image):
    on, other = make_board(alice, name="Key art"), make_board(alice, name="Moodboard")
    make_board(bob, name="Bob's private", visibility="private")
    image = make_image(alice)
    services.board_add_images(board=on, images=[image], user=alice)
    login(client, alice)
    body = client.get(reverse("image_detail", args=[image.id])).content.decode()
    assert f'?board={on.id}">Key art</a>' in body and 'aria-label="Remove from Key art"' in body
    assert f'<option value="{other.id}">Moodboard</option>' in body
    assert "Bob&#x27;s private" not in body


def test_a_new_board_from_the_image_page_takes_the_image(client, alice, make_image):
    image = make_image(alice)
    login(client, alice)
    page = reverse("image_detail", args=[image.id])
    response = client.post(reverse("board_create"), {"name": "Fresh", "visibility": "private", "image": image.id,
                                                     "next": page})
    assert response.url == page
    assert list(Board.objects.get(name="Fresh").images.all()) == [image]


def test_it_requires_login(client, db):
    assert client.get(reverse("board_list")).status_code == 302
    assert PASSWORD
