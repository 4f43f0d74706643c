"""Catalog writes: the built-in model, importing detected models, making a model the default; and the steps
profile a model shows."""

from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.utils.text import slugify

from generation.builtin import CATALOG_DEFAULTS, DESCRIPTION, EXAMPLE_PROMPTS
from generation.detect import Detection, candidates, detect
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


@dataclass(frozen=True)
class Candidate:
    """A model file or folder under a path, what detection made of it, and its catalog entry if any."""

    path: Path
    detection: Detection
    entry: ModelEntry | None

    @property
    def importable(self) -> bool:
        return self.entry is None and self.detection.architecture is not None


def model_candidates(root: Path) -> list[Candidate]:
    """Every diffusers folder and .safetensors file under `root`, with the import command's detection.
    Files already in the catalog are not read again."""
    root = Path(root)
    if not root.exists():
        return []
    known = {entry.path: entry for entry in ModelEntry.objects.all()}
    found = []
    for path in candidates(root):
        entry = known.get(str(path))
        detection = Detection(entry.architecture, "in the catalog") if entry else detect(path)
        found.append(Candidate(path=path, detection=detection, entry=entry))
    return found


def model_import(*, path: Path, detection: Detection, config_path: str = "", enabled: bool = True) -> ModelEntry:
    """Register one detected model under a new local AIR id, named after its file or folder."""
    assert detection.architecture is not None, "only detected models are imported"
    return ModelEntry.objects.create(
        air=_new_air(path),
        name=path.stem.replace("_", " ").replace("-", " ").strip() or path.name,
        kind=detection.kind,
        architecture=detection.architecture,
        path=str(path),
        config_path=config_path if path.is_file() and detection.kind == ModelEntry.Kind.CHECKPOINT else "",
        trigger_words=", ".join(detection.trigger_words),
        enabled=enabled,
        notes=f"Imported from {path}: {detection.reason}.",
    )


def _new_air(path: Path) -> str:
    base = slugify(path.stem)[:60] or "model"
    air, version = f"local:{base}@1", 1
    while ModelEntry.objects.filter(air=air).exists():
        version += 1
        air = f"local:{base}@{version}"
    return air
