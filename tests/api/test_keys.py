"""API keys: the management command, the account page's section, hashing and revocation."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from tests.conftest import PASSWORD
from webapp.api.models import ApiKey, ApiSession, hash_key
from webapp.api.services import api_key_create, api_key_for, api_key_revoke, session_open


def login(client, name):
    assert client.login(username=name, password=PASSWORD)
    return client


def test_the_command_prints_the_key_alone_on_its_last_line(alice, capsys):
    call_command("create_api_key", "alice", "--name", "render farm")
    lines = capsys.readouterr().out.strip().splitlines()
    raw = lines[-1]
    assert raw.startswith("sw_") and " " not in raw
    key = ApiKey.objects.get(user=alice)
    assert key.name == "render farm"
    assert api_key_for(raw) == key


def test_the_command_refuses_an_unknown_user(db):
    with pytest.raises(CommandError, match="nobody"):
        call_command("create_api_key", "nobody")


def test_only_a_hash_is_stored(alice):
    key, raw = api_key_create(user=alice, name="x")
    key.refresh_from_db()
    assert raw not in (key.secret_hash, key.prefix, key.name)
    assert key.secret_hash == hash_key(raw)
    assert raw.startswith(key.prefix)


def test_a_wrong_or_revoked_key_is_refused(alice, bob):
    key, raw = api_key_create(user=alice)
    assert api_key_for(raw[:-1] + ("A" if raw[-1] != "A" else "B")) is None
    assert api_key_for(None) is None and api_key_for("") is None and api_key_for(12) is None
    api_key_revoke(key=key)
    assert api_key_for(raw) is None
    # An inactive user's keys stop working too.
    other, raw_bob = api_key_create(user=bob)
    bob.is_active = False
    bob.save()
    assert api_key_for(raw_bob) is None


def test_revoking_a_key_ends_its_sessions(alice):
    key, _ = api_key_create(user=alice)
    session, _ = session_open(api_key=key, channel_name="x")
    api_key_revoke(key=key)
    assert not ApiSession.objects.filter(id=session.id).exists()


def test_the_account_page_creates_a_key_and_shows_it_once(client, alice):
    login(client, "alice")
    response = client.post(reverse("api_key_create"), {"name": "laptop script"})
    assert response.status_code == 302 and response.url.endswith("#api-keys")
    key = ApiKey.objects.get(user=alice)
    page = client.get(reverse("account")).content.decode()
    assert "laptop script" in page and key.prefix in page
    shown = page.split('id="new-api-key"')[1].split('value="')[1].split('"')[0]
    assert api_key_for(shown) == key
    # Shown once: the next view lists the key by its prefix only.
    again = client.get(reverse("account")).content.decode()
    assert 'id="new-api-key"' not in again and key.prefix in again and shown not in again


def test_the_account_page_revokes_my_key_but_not_someone_elses(client, alice, charlie):
    mine, _ = api_key_create(user=alice, name="mine")
    theirs, _ = api_key_create(user=charlie, name="theirs")
    login(client, "alice")
    assert client.post(reverse("api_key_revoke", args=[theirs.id])).status_code == 404
    assert client.post(reverse("api_key_revoke", args=[mine.id])).status_code == 302
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.revoked_at is not None and theirs.revoked_at is None
    page = client.get(reverse("account")).content.decode()
    assert "Revoked" in page and "theirs" not in page


def test_key_management_needs_a_login_and_a_post(client, alice):
    key, _ = api_key_create(user=alice)
    assert client.post(reverse("api_key_create")).status_code == 302
    assert not ApiKey.objects.exclude(id=key.id).exists()
    login(client, "alice")
    assert client.get(reverse("api_key_create")).status_code == 405
    assert client.get(reverse("api_key_revoke", args=[key.id])).status_code == 405


def test_the_admin_lists_and_revokes_keys(client, alice, bob):
    alice.is_staff = alice.is_superuser = True
    alice.save()
    key, _ = api_key_create(user=bob, name="bob's script")
    login(client, "alice")
    for name in ("apikey", "apisession", "apitask"):
        assert client.get(reverse(f"admin:api_{name}_changelist")).status_code == 200
    page = client.get(reverse("admin:api_apikey_changelist")).content.decode()
    assert key.prefix in page and "bob&#x27;s script" in page
    response = client.post(reverse("admin:api_apikey_changelist"),
                           {"action": "revoke", "_selected_action": [key.id]})
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
