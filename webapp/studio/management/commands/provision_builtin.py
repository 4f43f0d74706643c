"""Build the built-in tiny model (if missing) and register it as the catalog's `stepwise:1@1`."""

from django.conf import settings
from django.core.management.base import BaseCommand

from generation.builtin_marker import BUILTIN_DIRNAME
from webapp.studio.catalog import BUILTIN_AIR, register_builtin


class Command(BaseCommand):
    help = "Build the built-in tiny test model locally (no downloads) and register it in the catalog."

    def handle(self, **options):
        from generation.builtin import build_builtin_model  # imports torch: never in the web process

        path = build_builtin_model(settings.STEPWISE_MODELS_DIR / BUILTIN_DIRNAME)
        entry, created = register_builtin(path)
        self.stdout.write(f"{'Registered' if created else 'Found'} {BUILTIN_AIR} at {path}")
