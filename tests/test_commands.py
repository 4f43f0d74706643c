"""Management commands used from scripts."""

import pytest
from django.core.management import CommandError, call_command

from webapp.studio.models import Membership


def test_add_to_team_creates_the_team_and_sets_the_role(alice, capsys):
    call_command("add_to_team", "Night Shift", "alice", "--admin")
    membership = Membership.objects.get(team__name="Night Shift", user=alice)
    assert membership.role == "admin"
    assert "alice is admin of Night Shift" in capsys.readouterr().out
    call_command("add_to_team", "Night Shift", "alice")  # safe to run again
    assert Membership.objects.filter(team__name="Night Shift").count() == 1


def test_add_to_team_names_an_unknown_user(db):
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("add_to_team", "Night Shift", "nobody")
