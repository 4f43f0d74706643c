"""Saved styles: saved from the create form, private or for the team; bob sees alice's team styles,
charlie (another team) sees none; only the owner deletes one."""

import json

import pytest
from django.urls import reverse

from webapp.studio import services
from webapp.studio.access import active_team
from webapp.studio.models import Style

JSON = {"HTTP_ACCEPT": "application/json"}


def make_style(owner, name="Cinematic", positive="cinematic still of {prompt}", negative="blurry",
               visibility="team"):
    return services.style_create(owner=owner, team=active_team(owner), name=name, positive=positive,
                                 negative=negative, visibility=visibility)


def offered(client):
    """The styles the create page embeds for its picker."""
    body = client.get(reverse("create", args=["text-to-image"])).content.decode()
    data = body.split('<script id="styles-data" type="application/json">', 1)[1].split("</script>", 1)[0]
    return {style["name"]: style for style in json.loads(data)}


def test_it_saves_the_forms_prompts_as_a_style(client, alice, builtin_model):
    client.force_login(alice)
    response = client.post(reverse("style_create"), {"name": "Cinematic", "positive": "cinematic still of {prompt}",
                                                     "negative": "cartoon", "visibility": "team"}, **JSON)
    assert response.status_code == 201
    saved = response.json()["style"]
    assert (saved["name"], saved["positive"], saved["negative"], saved["shared"], saved["mine"]) == (
        "Cinematic", "cinematic still of {prompt}", "cartoon", True, True)
    style = Style.objects.get()
    assert (style.owner, str(style.team), style.visibility) == (alice, "Studio A", "team")
    assert offered(client)["Cinematic"]["positive"] == "cinematic still of {prompt}"


@pytest.mark.parametrize(("fields", "message"), [
    ({"name": "", "positive": "x"}, "Give the style a name."),
    ({"name": "Empty", "positive": " ", "negative": ""}, "needs a prompt or a negative prompt"),
    ({"name": "x" * 61, "positive": "x"}, "at most 60 characters"),
    ({"name": "Long", "positive": "x" * 1001}, "at most 1000 characters"),
    ({"name": "Odd", "positive": "x", "visibility": "public"}, "Choose Private or Team."),
])
def test_a_bad_style_is_refused_in_words(client, alice, fields, message):
    client.force_login(alice)
    response = client.post(reverse("style_create"), fields, **JSON)
    assert response.status_code == 400 and message in response.json()["error"]
    assert not Style.objects.exists()


def test_names_are_unique_per_owner(client, alice, bob):
    make_style(alice)
    client.force_login(alice)
    response = client.post(reverse("style_create"), {"name": "Cinematic", "positive": "x"}, **JSON)
    assert "already have a style named 'Cinematic'" in response.json()["error"]
    client.force_login(bob)  # another person may use the same name
    assert client.post(reverse("style_create"), {"name": "Cinematic", "positive": "x"}, **JSON).status_code == 201


def test_the_team_sees_team_styles_and_charlie_sees_none(client, alice, bob, charlie, builtin_model):
    make_style(alice, name="Team look")
    make_style(alice, name="Alice only", visibility="private")
    client.force_login(bob)
    styles = offered(client)
    assert set(styles) == {"Team look"}
    assert (styles["Team look"]["mine"], styles["Team look"]["owner"]) == (False, "alice")
    client.force_login(charlie)
    assert offered(client) == {}
    client.force_login(alice)
    assert set(offered(client)) == {"Team look", "Alice only"}


def test_only_the_owner_deletes_a_style(client, alice, bob, charlie):
    style = make_style(alice)
    client.force_login(charlie)
    assert client.post(reverse("style_delete", args=[style.id]), **JSON).status_code == 404
    client.force_login(bob)
    assert client.post(reverse("style_delete", args=[style.id]), **JSON).status_code == 403
    client.force_login(alice)
    assert client.post(reverse("style_delete", args=[style.id]), **JSON).json() == {"deleted": str(style.id)}
    assert not Style.objects.exists()


def test_without_javascript_it_redirects_back_with_a_message(client, alice):
    client.force_login(alice)
    response = client.post(reverse("style_create"), {"name": "Plain", "negative": "watermark",
                                                     "next": "/create/inpainting/"})
    assert response.status_code == 302 and response.url == "/create/inpainting/"
    assert Style.objects.get().negative == "watermark"
