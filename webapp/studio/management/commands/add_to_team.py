from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from webapp.studio.services import team_add_member


class Command(BaseCommand):
    help = "Add a user to a team (the team is created if missing)."

    def add_arguments(self, parser):
        parser.add_argument("team")
        parser.add_argument("username")
        parser.add_argument("--admin", action="store_true", help="Make the user an admin of the team.")

    def handle(self, *, team, username, admin, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}")
        membership = team_add_member(team_name=team, user=user, admin=admin)
        self.stdout.write(f"{username} is {membership.role} of {membership.team.name}")
