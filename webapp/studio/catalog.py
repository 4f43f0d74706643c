"""Catalog writes: the built-in model, making a model the default."""

from django.db import transaction

from webapp.studio.models import ModelEntry

BUILTIN_AIR = "stepwise:1@1"
BUILTIN_NOTES = (
    "A tiny Stable Diffusion 1.5-architecture model built on this machine from fixed random weights. "
    "It makes abstract patterns, not pictures: it exists so Stepwise works on a fresh machine with no GPU "
    "and no downloads. Add real checkpoints in the admin catalog."
)


def register_builtin(path):
    with transaction.atomic():
        entry, created = ModelEntry.objects.get_or_create(
            air=BUILTIN_AIR,
            defaults={
                "name": "Built-in test model (tiny, random weights)",
                "architecture": "sd15",
                "path": str(path),
                "notes": BUILTIN_NOTES,
                "default_steps": 20,
                "default_cfg": 7.0,
                "default_scheduler": "Euler",
                "default_width": 512,
                "default_height": 512,
                "builtin": True,
            },
        )
        if not created and entry.path != str(path):
            entry.path = str(path)
            entry.save(update_fields=["path"])
        if not ModelEntry.objects.filter(is_default=True).exists():
            model_make_default(entry=entry)
    return entry, created


def model_make_default(*, entry: ModelEntry) -> ModelEntry:
    with transaction.atomic():
        ModelEntry.objects.filter(is_default=True).exclude(id=entry.id).update(is_default=False)
        ModelEntry.objects.filter(id=entry.id).update(is_default=True)
    entry.is_default = True
    return entry
