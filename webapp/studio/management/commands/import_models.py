"""Register every diffusers folder and .safetensors file (checkpoint, LoRA, LyCORIS, embedding, VAE) under a path."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from generation.architectures import ARCHITECTURES
from generation.detect import candidates, detect
from webapp.studio.catalog import model_import
from webapp.studio.models import ModelEntry


class Command(BaseCommand):
    help = ("Detect and register models (diffusers folders; .safetensors checkpoints, LoRAs, LyCORIS, embeddings, "
            "VAEs) under PATH from their headers, without loading weights. Safe to run again.")

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--config", default="", help="Local diffusers config folder for single-file checkpoints.")
        parser.add_argument("--disabled", action="store_true", help="Register new models disabled.")

    def handle(self, *, path, config, disabled, verbosity, **options):
        root = Path(path).expanduser().resolve()
        if not root.exists():
            raise CommandError(f"{root} does not exist")
        found = list(candidates(root))
        added, known, skipped = [], [], []
        for candidate in tqdm(found, desc="Reading headers", unit="model", disable=verbosity == 0, file=self.stderr):
            if ModelEntry.objects.filter(path=str(candidate)).exists():
                known.append(candidate)
                continue
            detection = detect(candidate)
            if detection.architecture is None:
                skipped.append((candidate, detection.reason))
                continue
            entry = model_import(path=candidate, detection=detection, config_path=config, enabled=not disabled)
            added.append(entry)
        for entry in added:
            label = f"{ARCHITECTURES[entry.architecture].label} {entry.get_kind_display().split(' ')[0]}"
            self.stdout.write(f"added   {entry.air:40} {label:24} {entry.path}")
        for candidate in known:
            self.stdout.write(f"known   {candidate}")
        for candidate, reason in skipped:
            self.stdout.write(f"skipped {candidate}: {reason}")
        self.stdout.write(self.style.SUCCESS(f"{len(added)} added, {len(known)} already known, {len(skipped)} skipped"))
