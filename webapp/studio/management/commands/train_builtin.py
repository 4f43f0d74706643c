"""Train the built-in model (once, offline, by the project) and write it where Stepwise ships it."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = ("Train the built-in shapes model from procedurally drawn data (deterministic from its seed, "
            "resumable). Hours on a 2-core CPU, minutes on a GPU; run it again to resume.")

    def add_arguments(self, parser):
        parser.add_argument("--workdir", type=Path, default=None,
                            help="checkpoints, latent pools and the loss log (default: <data dir>/train-builtin)")
        parser.add_argument("--out", type=Path, default=None,
                            help="where the model folder is written (default: generation/builtin/model)")
        parser.add_argument("--minutes", type=float, default=None, help="stop, resumably, after this long")
        parser.add_argument("--export-only", action="store_true", help="write the model from the last checkpoint")
        parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
        parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: cuda when present)")
        parser.add_argument("--plan", action="append", default=[], metavar="NAME=VALUE",
                            help="change one field of the training plan, e.g. unet_256_steps=20000 (repeatable)")

    def handle(self, *, workdir, out, minutes, export_only, threads, device, plan, **options):
        from generation.builtin import train  # torch: only this command and the workers load it

        try:
            plan = train.plan_with(plan)
        except ValueError as error:
            raise CommandError(str(error)) from None
        finished = train.train(
            workdir=workdir or settings.DATA_DIR / "train-builtin",
            out=out or train.SHIPPED_MODEL_DIR, minutes=minutes, export_only=export_only, threads=threads,
            device=device, plan=plan,
        )
        self.stdout.write("Training finished." if finished else "Stopped; run the command again to resume.")
