"""Catalog writes: the built-in model, making a model the default; and the steps profile a model shows."""

from django.db import transaction

from generation.builtin import CATALOG_DEFAULTS, DESCRIPTION, EXAMPLE_PROMPTS
from webapp.studio.models import ModelEntry, StepProfile

BUILTIN_AIR = "stepwise:1@1"


def register_builtin(path):
    """Register the installed built-in model. A new install (another path) refreshes the entry's
    recommended settings and description from the shipped model's; the admin's `enabled` and teams stay."""
    fields = {**CATALOG_DEFAULTS, "notes": DESCRIPTION, "example_prompts": "\n".join(EXAMPLE_PROMPTS)}
    with transaction.atomic():
        entry, created = ModelEntry.objects.get_or_create(
            air=BUILTIN_AIR, defaults={**fields, "path": str(path), "builtin": True}
        )
        if not created and entry.path != str(path):
            for name, value in {**fields, "path": str(path)}.items():
                setattr(entry, name, value)
            entry.save()
        if not ModelEntry.objects.filter(is_default=True).exists():
            model_make_default(entry=entry)
    return entry, created


def model_make_default(*, entry: ModelEntry) -> ModelEntry:
    with transaction.atomic():
        ModelEntry.objects.filter(is_default=True).exclude(id=entry.id).update(is_default=False)
        ModelEntry.objects.filter(id=entry.id).update(is_default=True)
    entry.is_default = True
    return entry


def measured_profile(entry: ModelEntry) -> StepProfile | None:
    """The steps profile measured for this model with its default scheduler and size, else its newest."""
    defaults = entry.defaults()
    profiles = list(entry.step_profiles.all())
    for row in profiles:
        if (row.scheduler, row.width, row.height) == (defaults["scheduler"], defaults["width"], defaults["height"]):
            return row
    return profiles[0] if profiles else None
