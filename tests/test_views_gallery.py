import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.conftest import PASSWORD
from webapp.studio.models import Image


def login(client, name):
    assert client.login(username=name, password=PASSWORD)
    return client


@pytest.fixture
def images(alice, bob, charlie, make_image):
    return {
        "alice_team": make_image(alice, prompt="alice shares a lighthouse"),
        "alice_private": make_image(alice, prompt="alice keeps a secret", visibility="private"),
        "bob_team": make_image(bob, prompt="bob shares a forest", task_type="imageToImage"),
        "charlie_team": make_image(charlie, prompt="charlie elsewhere"),
    }


def test_it_requires_login(client, db):
    response = client.get(reverse("gallery"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_bob_sees_his_images_and_alices_shared_ones(client, images):
    body = login(client, "bob").get(reverse("gallery")).content.decode()
    assert "alice shares a lighthouse" in body
    assert "bob shares a forest" in body
    assert "alice keeps a secret" not in body
    assert "charlie elsewhere" not in body


def test_the_filters(client, images):
    login(client, "alice")
    mine = client.get(reverse("gallery") + "?scope=mine").content.decode()
    assert "alice keeps a secret" in mine and "bob shares a forest" not in mine
    team = client.get(reverse("gallery") + "?scope=team").content.decode()
    assert "bob shares a forest" in team and "alice shares a lighthouse" not in team
    search = client.get(reverse("gallery") + "?q=LIGHTHOUSE").content.decode()
    assert "alice shares a lighthouse" in search and "bob shares a forest" not in search
    task = client.get(reverse("gallery") + "?task=imageToImage").content.decode()
    assert "bob shares a forest" in task and "alice shares a lighthouse" not in task
    model = client.get(reverse("gallery") + "?model=nope:1@1").content.decode()
    assert "No images match these filters" in model
    today = timezone.now().date()
    dated = client.get(reverse("gallery") + f"?since={today}&until={today}").content.decode()
    assert "alice shares a lighthouse" in dated
    later = client.get(reverse("gallery") + f"?since={today + datetime.timedelta(days=1)}").content.decode()
    assert "alice shares a lighthouse" not in later


def test_the_fragment_returns_only_the_tiles(client, images):
    response = login(client, "alice").get(reverse("gallery") + "?fragment=1")
    body = response.content.decode()
    assert "<html" not in body
    assert body.count('class="tile"') == 3
    assert response["X-Next-Page"] == ""


def test_it_paginates_newest_first(client, alice, make_image):
    for i in range(30):
        make_image(alice, prompt=f"picture number {i:02d}")
    login(client, "alice")
    first = client.get(reverse("gallery")).content.decode()
    assert "picture number 29" in first and "picture number 00" not in first
    response = client.get(reverse("gallery") + "?page=2&fragment=1")
    assert "picture number 00" in response.content.decode()
    assert response["X-Next-Page"] == ""


def test_the_gallery_does_not_query_per_image(client, alice, bob, make_image, django_assert_max_num_queries):
    for i in range(12):
        make_image(alice if i % 2 else bob, prompt=f"image {i}")
    login(client, "alice")
    with django_assert_max_num_queries(10):
        response = client.get(reverse("gallery"))
    assert response.content.decode().count('class="tile"') == 12
    for i in range(12, 24):
        make_image(bob, prompt=f"image {i}")
    with django_assert_max_num_queries(10):
        response = client.get(reverse("gallery"))
    assert response.content.decode().count('class="tile"') == 24


def test_an_empty_gallery_says_so(client, alice):
    body = login(client, "alice").get(reverse("gallery")).content.decode()
    assert "The gallery is empty" in body
    assert Image.objects.count() == 0


def _dated(image, minutes_ago):
    Image.objects.filter(id=image.id).update(created_at=timezone.now() - datetime.timedelta(minutes=minutes_ago))


def test_the_image_page_steps_through_the_gallery_under_its_filters(client, alice, bob, make_image):
    oldest = make_image(alice, prompt="a red lighthouse")
    middle = make_image(bob, prompt="a green forest")
    newest = make_image(alice, prompt="a blue lighthouse")
    private = make_image(alice, prompt="a secret lighthouse", visibility="private")
    for image, minutes in ((oldest, 30), (middle, 20), (newest, 10), (private, 15)):
        _dated(image, minutes)
    login(client, "bob")

    # No filter: bob's gallery is newest, middle, oldest (alice's private image is not his to see).
    body = client.get(reverse("image_detail", args=[middle.id])).content.decode()
    newer, older = reverse("image_detail", args=[newest.id]), reverse("image_detail", args=[oldest.id])
    assert f'id="image-prev" rel="prev" data-shortcut="ArrowLeft" href="{newer}"' in body
    assert f'id="image-next" rel="next" data-shortcut="ArrowRight" href="{older}"' in body
    assert str(private.id) not in body

    # Filtered to "lighthouse": middle is not in it, so newest and oldest are neighbours, and the
    # links keep the filter.
    body = client.get(reverse("image_detail", args=[newest.id]) + "?q=lighthouse").content.decode()
    assert 'id="image-prev"' not in body  # the newest match: nothing before it
    assert f'href="{reverse("image_detail", args=[oldest.id])}?q=lighthouse"' in body
    gallery = client.get(reverse("gallery") + "?q=lighthouse").content.decode()
    assert f'href="{reverse("image_detail", args=[newest.id])}?q=lighthouse"' in gallery


def test_edits_offer_a_comparison_with_their_source_and_text_to_image_does_not(client, alice, make_image):
    source = make_image(alice, prompt="the source")
    edit = make_image(alice, prompt="the edit", task_type="imageToImage")
    edit.job.params["seedImage"] = str(source.id)
    edit.job.save(update_fields=["params"])
    login(client, "alice")
    body = client.get(reverse("image_detail", args=[edit.id])).content.decode()
    assert 'id="compare-toggle"' in body
    assert f'src="{reverse("image_file", args=[source.id])}" alt="The source image"' in body
    assert 'id="compare-toggle"' not in client.get(reverse("image_detail", args=[source.id])).content.decode()


def test_favourites_are_each_persons_own_and_filter_the_gallery(client, alice, bob, charlie, make_image):
    liked = make_image(alice, prompt="a liked lighthouse")
    make_image(alice, prompt="another lighthouse")
    url = reverse("image_favourite", args=[liked.id])
    login(client, "bob")
    response = client.post(url, {"favourite": "1"}, HTTP_ACCEPT="application/json")
    assert response.json() == {"favourite": True}
    assert list(bob.favourite_images.all()) == [liked]
    assert not alice.favourite_images.exists()  # bob's favourite is not alice's

    body = client.get(reverse("gallery") + "?favourites=1").content.decode()
    assert "a liked lighthouse" in body and "another lighthouse" not in body
    assert 'data-testid="tile-favourite"' in body
    assert 'aria-pressed="true"' in client.get(reverse("image_detail", args=[liked.id])).content.decode()

    # Anything but 1 or 0 is refused by name and changes nothing.
    response = client.post(url, {"favourite": "yes"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 400 and "favourite must be 1 or 0" in response.json()["error"]
    assert bob.favourite_images.count() == 1
    # Without the script: a plain form post and a redirect back.
    response = client.post(url, {"favourite": "0"})
    assert response.status_code == 302 and not bob.favourite_images.exists()


    # Another team cannot even see it.
    login(client, "charlie")
    assert client.post(url, {"favourite": "1"}).status_code == 404
    assert not charlie.favourite_images.exists()


def _bulk(client, action, images, **extra):
    return client.post(reverse("gallery_bulk"), {"action": action, "image": [str(i.id) for i in images],
                                                 "next": "/gallery/?scope=mine", **extra})


def test_selected_images_download_as_one_zip(client, alice, bob, make_image):
    import io
    import zipfile

    mine, alices = make_image(bob, seed=11), make_image(alice, seed=22)
    login(client, "bob")
    response = _bulk(client, "zip", [mine, alices])  # a teammate's team image may be downloaded too
    assert response["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert sorted(n.split("-")[1] for n in names) == ["11", "22"] and all(n.endswith(".png") for n in names)


def test_bulk_visibility_is_all_or_nothing_and_only_for_the_owner(client, alice, bob, make_image):
    first, second, alices = make_image(bob), make_image(bob), make_image(alice)
    login(client, "bob")
    response = _bulk(client, "private", [first, alices], )
    assert response.status_code == 302 and response.url == "/gallery/?scope=mine"
    assert Image.objects.get(id=first.id).visibility == "team"  # refused as a whole
    response = _bulk(client, "private", [first, second])
    assert set(Image.objects.filter(id__in=[first.id, second.id]).values_list("visibility", flat=True)) == {"private"}
    _bulk(client, "team", [first])
    assert Image.objects.get(id=first.id).visibility == "team"


def test_bulk_delete_needs_the_right_to_delete_every_one(client, alice, bob, charlie, make_image):
    bobs, alices = make_image(bob), make_image(alice)
    login(client, "bob")
    _bulk(client, "delete", [bobs, alices])  # bob may not delete alice's image: nothing goes
    assert Image.objects.filter(id__in=[bobs.id, alices.id]).count() == 2
    login(client, "alice")  # a team admin may delete a teammate's image
    _bulk(client, "delete", [bobs, alices])
    assert not Image.objects.filter(id__in=[bobs.id, alices.id]).exists()


def test_bulk_refuses_what_it_cannot_read_by_name(client, alice, charlie, make_image):
    theirs = make_image(charlie)
    mine = make_image(alice)
    login(client, "alice")
    for data, message in (
        ({"action": "zip", "image": [str(mine.id), str(theirs.id)]}, "1 of the selected images are not available"),
        ({"action": "zip", "image": ["not-a-uuid"]}, "are not images"),
        ({"action": "explode", "image": [str(mine.id)]}, "Choose what to do"),
        ({"action": "delete"}, "Select at least one image"),
    ):
        response = client.post(reverse("gallery_bulk"), data, follow=True)
        assert message in response.content.decode(), data
    assert Image.objects.filter(id__in=[mine.id, theirs.id]).count() == 2
