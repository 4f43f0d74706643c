"""What the worker path costs on top of a bare diffusers call.

    .venv/bin/python bench/overhead.py [--size 512] [--steps 20] [--runs 3]

(a) a bare `StableDiffusionPipeline(...)` call on the built-in model; (b) the same model, prompt,
seed, steps and scheduler as a Stepwise job through `webapp.jobs.queue.job_process`: claim, progress
event per step through the channel layer, latent previews, database writes, PNG with metadata and
thumbnail. Runs alternate (a, b, a, b, ...) and medians are compared. The last line is
`overhead_ratio=<b/a>`; the target is at most 1.05. Figures: docs/benchmarks.md.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("STEPWISE_DATA_DIR", tempfile.mkdtemp(prefix="stepwise-bench-overhead-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import django  # noqa: E402

django.setup()

import torch  # noqa: E402
from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402

from generation.builtin import BUILTIN_DIRNAME, install_builtin_model  # noqa: E402
from webapp.jobs import queue, worker  # noqa: E402
from webapp.jobs.services import job_create  # noqa: E402
from webapp.studio.catalog import register_builtin  # noqa: E402
from webapp.studio.models import Job  # noqa: E402
from webapp.studio.schema import validate_inference  # noqa: E402

PROMPT = "a yellow star on a purple background"
SEED = 1234


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    for alias in settings.DATABASES:
        call_command("migrate", database=alias, verbosity=0)
    path = install_builtin_model(settings.STEPWISE_MODELS_DIR / BUILTIN_DIRNAME)
    register_builtin(path)
    user, _ = User.objects.get_or_create(username="bench")

    # (a) bare diffusers, loaded once, the same scheduler the job uses
    pipe = StableDiffusionPipeline.from_pretrained(path, safety_checker=None, requires_safety_checker=False)
    pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)

    def bare():
        generator = torch.Generator("cpu").manual_seed(SEED)
        return pipe(PROMPT, num_inference_steps=args.steps, width=args.size, height=args.size, guidance_scale=7.0,
                    generator=generator).images[0]

    # (b) the worker path (the model is warm in the worker's cache after the first job)
    def through_worker():
        payload = {"positivePrompt": PROMPT, "model": "stepwise:1@1", "width": args.size, "height": args.size,
                   "steps": args.steps, "scheduler": "Euler", "CFGScale": 7.0, "seed": SEED}
        job = job_create(user=user, valid=validate_inference(payload, user=user))
        queue.job_process(job_id=str(job.id), engine=worker.engine(), shutdown=worker.SHUTDOWN)
        job = Job.objects.get(id=job.id)
        assert job.status == "succeeded", job.error
        return job

    bare()
    through_worker()  # warm-up: model load, first-call allocations
    a_times, b_times = [], []
    for _ in range(args.runs):
        started = time.perf_counter()
        bare()
        a_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        through_worker()
        b_times.append(time.perf_counter() - started)
    a, b = statistics.median(a_times), statistics.median(b_times)
    print(f"device: cpu, {torch.get_num_threads()} threads; {args.size}x{args.size}, {args.steps} steps, Euler")
    print(f"(a) bare diffusers call:       median {a:.3f}s  runs {[round(t, 3) for t in a_times]}")
    print(f"(b) through the worker path:   median {b:.3f}s  runs {[round(t, 3) for t in b_times]}")
    print(f"overhead_ratio={b / a:.3f}")


if __name__ == "__main__":
    main()
