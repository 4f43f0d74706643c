"""Create an API key for a user. The key is printed once, alone on the last line, and never stored."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from webapp.api.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for USERNAME and print it (alone on the last line of output)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="A label shown in the user's key list.")

    def handle(self, *, username, name, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}")
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive; an API key would be refused.")
        key, raw = api_key_create(user=user, name=name or "created with manage.py")
        self.stdout.write(f"Created API key {key.prefix}… for {username}. Store it now: it cannot be shown again.")
        self.stdout.write(raw)
