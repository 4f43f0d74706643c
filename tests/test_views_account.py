import pytest
from django.urls import reverse

from tests.conftest import PASSWORD
from webapp.studio.models import Profile, Team
from webapp.studio.services import team_add_member


def login(client, name):
    assert client.login(username=name, password=PASSWORD)
    return client


@pytest.mark.parametrize("name", ["home", "account", "guide", "api_docs", "password_change"])
def test_pages_require_login(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_the_login_page_renders(client, db):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert 'name="username"' in response.content.decode()


def test_logging_out_is_a_post(client, alice):
    body = login(client, "alice").get(reverse("home")).content.decode()
    assert f'action="{reverse("logout")}"' in body
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("home")).status_code == 302


def test_the_shell_shows_teams_and_admin_only_for_staff(client, alice, builtin_model):
    team_add_member(team_name="Concept Art", user=alice)
    body = login(client, "alice").get(reverse("home")).content.decode()
    assert "Studio A" in body and "Concept Art" in body
    assert reverse("admin:index") not in body
    alice.is_staff = True
    alice.save()
    assert reverse("admin:index") in client.get(reverse("home")).content.decode()


def test_switching_teams(client, alice):
    concept = team_add_member(team_name="Concept Art", user=alice).team
    login(client, "alice")
    response = client.post(reverse("switch_team"), {"team": concept.id, "next": reverse("gallery")})
    assert response.status_code == 302 and response.url == reverse("gallery")
    assert Profile.objects.get(user=alice).active_team == concept


def test_switching_to_a_team_i_am_not_in_changes_nothing(client, alice, charlie):
    other = Team.objects.get(name="Studio B")
    login(client, "alice").post(reverse("switch_team"), {"team": other.id})
    active = Profile.objects.get(user=alice).active_team
    assert active is not None and active.name == "Studio A"


def test_an_open_redirect_is_refused(client, alice):
    response = login(client, "alice").post(reverse("switch_team"), {"team": "x", "next": "https://evil.example/"})
    assert response.url == reverse("account")


def test_default_visibility_and_profile(client, alice):
    login(client, "alice")
    client.post(reverse("account"), {"action": "visibility", "default_visibility": "private"})
    assert Profile.objects.get(user=alice).default_visibility == "private"
    client.post(reverse("account"), {"action": "profile", "first_name": "Alice", "last_name": "Liddell",
                                     "email": "alice@studio.test"})
    alice.refresh_from_db()
    assert alice.last_name == "Liddell"
    response = client.post(reverse("account"), {"action": "profile", "email": "not an email"})
    assert response.status_code == 400


def test_the_account_page(client, alice):
    body = login(client, "alice").get(reverse("account")).content.decode()
    assert "Studio A" in body
    assert reverse("password_change") in body


def test_the_guide_covers_the_product_document(client, alice, builtin_model):
    body = login(client, "alice").get(reverse("guide")).content.decode()
    for text in ("Composition", "Forms", "Details", "Polish", "Fast-converging", "Detail-oriented", "Stochastic",
                 "SDXL Lightning", "4-8", "25-30", "last 20 steps", "~15 actual refinement steps",
                 "DPM++ 2M Karras at 30 steps", "a third", "civitai:101055@128078"):
        assert text in body, text


def test_the_api_docs_page_renders(client, alice):
    assert login(client, "alice").get(reverse("api_docs")).status_code == 200


def test_the_password_change_page_renders(client, alice):
    body = login(client, "alice").get(reverse("password_change")).content.decode()
    assert 'name="old_password"' in body and 'name="new_password1"' in body


def test_the_guide_shows_phases_by_position_in_the_schedule(client, alice, builtin_model):
    body = login(client, "alice").get(reverse("guide")).content.decode()
    assert "Polish · steps 28-30 of 30" in body
    assert "8-step run goes Composition (step 1), Forms (2-4), Details (5-7), Polish (step 8)." in body
