from django.urls import reverse

from tests.conftest import PASSWORD


def _home(client, name):
    assert client.login(username=name, password=PASSWORD)
    return client.get(reverse("home")).content.decode()


def test_the_team_card_counts_the_users_own_shared_images(client, alice, bob, make_image):
    mine = make_image(alice, prompt="alice's harbour")
    body = _home(client, "alice")
    assert "Shared with Studio A" in body
    assert "Nothing is shared" not in body  # all of alice's images are shared: the card says so
    assert reverse("image_detail", args=[mine.id]) in body
    assert "by you" in body


def test_the_team_card_shows_teammates_images_but_not_private_ones_or_other_teams(client, alice, bob, charlie,
                                                                                   make_image):
    shared = make_image(alice, prompt="a shared lighthouse")
    private = make_image(alice, visibility="private", prompt="a private lighthouse")
    body = _home(client, "bob")
    assert reverse("image_detail", args=[shared.id]) in body and "by alice" in body
    assert reverse("image_detail", args=[private.id]) not in body
    body = _home(client, "charlie")
    assert reverse("image_detail", args=[shared.id]) not in body
    assert "Nothing is shared with Studio B yet" in body
