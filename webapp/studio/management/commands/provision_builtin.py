"""Install the built-in model's shipped weights into the data directory and register it as `stepwise:1@1`."""

from django.conf import settings
from django.core.management.base import BaseCommand

from generation.builtin import BUILTIN_DIRNAME, install_builtin_model
from webapp.studio.catalog import BUILTIN_AIR, register_builtin


class Command(BaseCommand):
    help = "Install the built-in model (shipped with Stepwise; nothing is downloaded) and register it in the catalog."

    def handle(self, **options):
        path = install_builtin_model(settings.STEPWISE_MODELS_DIR / BUILTIN_DIRNAME)
        entry, created = register_builtin(path)
        self.stdout.write(f"{'Registered' if created else 'Found'} {BUILTIN_AIR} at {path}")
