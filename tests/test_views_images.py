import pytest
from django.urls import reverse

from tests.conftest import PASSWORD
from webapp.studio.models import Image


def login(client, name):
    assert client.login(username=name, password=PASSWORD)
    return client


@pytest.fixture
def shared(alice, make_image):
    return make_image(alice, prompt="a shared lighthouse", seed=555)


@pytest.fixture
def private(alice, make_image):
    return make_image(alice, prompt="a private sketch", visibility="private")


def test_it_requires_login(client, shared):
    response = client.get(reverse("image_detail", args=[shared.id]))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_the_owner_sees_every_parameter_and_every_action(client, shared):
    body = login(client, "alice").get(reverse("image_detail", args=[shared.id])).content.decode()
    assert "a shared lighthouse" in body
    assert ">555<" in body  # the seed
    assert "20 ran" in body  # effective steps
    assert reverse("create", args=["text-to-image"]) + f"?reuse={shared.id}" in body
    for task in ("image-to-image", "inpainting", "outpainting"):
        assert reverse("create", args=[task]) + f"?source={shared.id}" in body
    assert reverse("image_download", args=[shared.id]) in body
    assert reverse("image_visibility", args=[shared.id]) in body
    assert reverse("image_delete", args=[shared.id]) in body
    assert "Steps: 20, Sampler: Euler" in body  # the A1111 parameters text


def test_bob_sees_a_team_image_without_owner_actions(client, bob, shared):
    body = login(client, "bob").get(reverse("image_detail", args=[shared.id])).content.decode()
    assert "a shared lighthouse" in body
    assert reverse("image_visibility", args=[shared.id]) not in body
    assert reverse("image_delete", args=[shared.id]) not in body


def test_private_images_and_other_teams_are_not_found(client, bob, charlie, shared, private):
    assert login(client, "bob").get(reverse("image_detail", args=[private.id])).status_code == 404
    login(client, "charlie")
    assert client.get(reverse("image_detail", args=[shared.id])).status_code == 404
    assert client.post(reverse("image_visibility", args=[shared.id]), {"visibility": "private"}).status_code == 404
    assert client.post(reverse("image_delete", args=[shared.id])).status_code == 404


def test_the_owner_makes_an_image_private(client, bob, shared):
    login(client, "alice")
    response = client.post(reverse("image_visibility", args=[shared.id]), {"visibility": "private"})
    assert response.status_code == 302
    shared.refresh_from_db()
    assert shared.visibility == "private"
    assert login(client, "bob").get(reverse("image_detail", args=[shared.id])).status_code == 404


def test_only_the_owner_changes_visibility(client, bob, shared):
    response = login(client, "bob").post(reverse("image_visibility", args=[shared.id]), {"visibility": "private"})
    assert response.status_code == 403
    shared.refresh_from_db()
    assert shared.visibility == "team"


def test_bad_visibility_values_change_nothing(client, shared):
    login(client, "alice").post(reverse("image_visibility", args=[shared.id]), {"visibility": "public"})
    shared.refresh_from_db()
    assert shared.visibility == "team"


def test_bob_cannot_delete_alices_image(client, bob, shared):
    assert login(client, "bob").post(reverse("image_delete", args=[shared.id])).status_code == 403
    assert Image.objects.filter(id=shared.id).exists()


def test_the_owner_deletes_an_image(client, shared):
    login(client, "alice")
    assert client.get(reverse("image_delete", args=[shared.id])).status_code == 405
    response = client.post(reverse("image_delete", args=[shared.id]))
    assert response.status_code == 302 and response.url == reverse("gallery")
    assert not Image.objects.filter(id=shared.id).exists()


def test_a_team_admin_deletes_a_teammates_image(client, alice, bob, make_image):
    image = make_image(bob, prompt="bob's draft")
    body = login(client, "alice").get(reverse("image_detail", args=[image.id])).content.decode()
    assert reverse("image_delete", args=[image.id]) in body
    assert client.post(reverse("image_delete", args=[image.id])).status_code == 302
    assert not Image.objects.filter(id=image.id).exists()
