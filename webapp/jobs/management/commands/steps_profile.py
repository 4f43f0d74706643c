"""Profile steps: how close each step count gets to a high-step reference, and this worker's seconds
per step, for one catalog model, scheduler and size. The result is stored for the forms and the catalog.

    python manage.py steps_profile --model stepwise:1@1 [--scheduler Euler] [--size 256x256] [--prompts 3]
        [--steps 4,8,12,16,20,25,30,40] [--reference 50] [--tolerance 0.95] [--svg chart.svg] [--json]
"""

import json
import re

from django.core.management.base import BaseCommand, CommandError

from generation import schedulers
from generation.profile import chart_svg
from webapp.jobs import worker
from webapp.jobs.profiling import profile_model
from webapp.studio.models import ModelEntry


def _size(value: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)x(\d+)", value.strip().lower())
    if not match:
        raise CommandError(f"--size must be WIDTHxHEIGHT, such as 512x512, not {value!r}.")
    return int(match[1]), int(match[2])


def _steps(value: str) -> list[int]:
    try:
        steps = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise CommandError(f"--steps must be whole numbers separated by commas, not {value!r}.") from None
    if not steps or any(not 1 <= s <= 100 for s in steps):
        raise CommandError(f"--steps must list step counts from 1 to 100, not {value!r}.")
    return steps


class Command(BaseCommand):
    help = "Measure similarity to a high-step reference (SSIM) and seconds per step for a model on this worker."

    def add_arguments(self, parser):
        parser.add_argument("--model", required=True, help="The catalog model's AIR id.")
        parser.add_argument("--scheduler", help="Default: the model's.")
        parser.add_argument("--size", help="WIDTHxHEIGHT. Default: the model's.")
        parser.add_argument("--prompts", type=int, default=3, help="How many prompts (the model's examples).")
        parser.add_argument("--steps", help="Comma-separated step counts below the reference.")
        parser.add_argument("--reference", type=int, help="The reference step count (default 50; 16 distilled).")
        parser.add_argument("--tolerance", type=float, default=0.95,
                            help="Recommend the smallest count within this share of the best similarity.")
        parser.add_argument("--svg", help="Also write the chart to this file.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *, model, scheduler, size, prompts, steps, reference, tolerance, svg, json: bool, **options):
        entry = ModelEntry.objects.filter(air=model).first()
        if entry is None:
            raise CommandError(f"--model: no catalog model {model!r}.")
        width, height = _size(size) if size else (None, None)
        if not 0 < tolerance <= 1:
            raise CommandError(f"--tolerance must be above 0 and at most 1, not {tolerance}.")
        if reference is not None and not 2 <= reference <= 150:
            raise CommandError(f"--reference must be 2-150, not {reference}.")
        if scheduler:
            try:
                schedulers.resolve(scheduler, entry.arch.family)
            except schedulers.UnknownScheduler as exc:
                raise CommandError(f"--scheduler: {exc}") from None
        progress = None if json else (lambda line: self.stderr.write(line))
        try:
            row = profile_model(entry=entry, engine=worker.engine(), scheduler=scheduler, width=width, height=height,
                                prompts=prompts, steps=_steps(steps) if steps else None, reference_steps=reference,
                                tolerance=tolerance, on_progress=progress)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        except Exception as exc:  # the engine's own failure: say so, with the model and scheduler
            raise CommandError(f"Profiling {entry.air} with {scheduler or entry.defaults()['scheduler']} failed in the "
                               f"engine: {type(exc).__name__}: {exc}") from exc
        result = row.profile
        if svg:
            with open(svg, "w", encoding="utf-8") as handle:
                handle.write(chart_svg(result))
        if json:
            self.stdout.write(_json_dumps(result.as_dict()))
            return
        self.stdout.write(f"{entry.name} · {result.scheduler} · {result.size} · reference {result.reference_steps} "
                          f"steps · {result.prompts} prompts")
        self.stdout.write(f"{'steps':>6} {'SSIM':>7} {'seconds':>8}")
        for point in result.points:
            mark = "  <- recommended" if point.steps == result.recommended_steps else ""
            self.stdout.write(f"{point.steps:>6} {point.similarity:>7.3f} {point.seconds:>8.2f}{mark}")
        self.stdout.write(f"{result.seconds_per_step:.3f} s per step on this worker.")
        for note in result.notes:
            self.stdout.write(note)
        if result.recommended_steps is not None:
            self.stdout.write(result.measured_sentence().capitalize() + ".")
            self.stdout.write(result.saving_sentence(entry.defaults()["steps"]))


def _json_dumps(data) -> str:
    return json.dumps(data)
