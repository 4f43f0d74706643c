"""What the worker path costs on top of a bare diffusers call, and where that cost goes.

    .venv/bin/python bench/overhead.py [--size 512] [--steps 20] [--runs 7] [--threads N] [--watchers 0]

(a) a bare `StableDiffusionPipeline(...)` call on the built-in model; (b) the same model, prompt,
seed, steps, guidance and scheduler as a Stepwise job through `webapp.jobs.queue.job_process`: claim,
job load, progress events through the channel layer, latent previews, database writes, the PNG with
its metadata, the WebP thumbnail and the final state change. The job row is created before (b)'s
clock starts: that is the web process's work, not the worker's (its time is printed apart). Runs
alternate (a, b, a, b, ...) and medians are compared.

`--watchers N` puts N listeners in the job's channel group (as browsers watching the job page would
be), so the per-step events and previews really go somewhere; 0 is a job nobody watches.

The breakdown (milliseconds per job, medians over the runs) is measured by wrapping the worker's
functions in this script only; the product code carries no timers. The process's CPU time per job
is printed too: on one core, every CPU millisecond of any thread is a millisecond of wall time.
The last line is `overhead_ratio=<b/a>`; the target is at most 1.05. Figures: docs/benchmarks.md.
"""

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("STEPWISE_DATA_DIR", tempfile.mkdtemp(prefix="stepwise-bench-overhead-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import django  # noqa: E402

django.setup()

import torch  # noqa: E402
from asgiref.sync import async_to_sync  # noqa: E402
from channels.layers import get_channel_layer  # noqa: E402
from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402
from django.db.backends.signals import connection_created  # noqa: E402

import generation.engine  # noqa: E402
import generation.previews  # noqa: E402
import generation.publisher  # noqa: E402
from generation.builtin import BUILTIN_DIRNAME, install_builtin_model  # noqa: E402
from webapp.jobs import queue, runner, worker  # noqa: E402
from webapp.jobs.services import job_create  # noqa: E402
from webapp.studio import events  # noqa: E402
from webapp.studio.catalog import register_builtin  # noqa: E402
from webapp.studio.models import Job  # noqa: E402
from webapp.studio.schema import validate_inference  # noqa: E402

PROMPT = "a yellow star on a purple background"
SEED = 1234


class Profile:
    """Per-job totals of named sections, from whichever thread they ran on."""

    def __init__(self):
        self.lock = threading.Lock()
        self.current: dict[str, float] = defaultdict(float)
        self.jobs: list[dict[str, float]] = []
        self.job_started = 0.0  # when (b)'s clock started for the current job

    def add(self, name: str, seconds: float) -> None:
        with self.lock:
            self.current[name] += seconds

    def end_job(self) -> None:
        with self.lock:
            self.jobs.append(dict(self.current))
            self.current = defaultdict(float)

    def median_ms(self, name: str) -> float:
        return 1000 * statistics.median(job.get(name, 0.0) for job in self.jobs) if self.jobs else 0.0

    def wrap(self, name: str, function):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - started)

        return timed


def thread_kind() -> str:
    name = threading.current_thread().name
    if name == "progress-publisher":
        return "publisher"
    return "worker" if name == "MainThread" else "helper"  # helper: asgiref's sync_to_async threads


def instrument(profile: Profile) -> None:
    """Wrap the worker path's parts with timers (this process only)."""
    # SQL, by database and by thread: the job database vs the channel layer's (channels_lite).
    def sql_timer(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            alias = context["connection"].alias
            kind = "write" if sql.lstrip()[:6].upper() in ("UPDATE", "INSERT", "DELETE") else "read"
            profile.add(f"sql {alias} {kind} on {thread_kind()}", time.perf_counter() - started)

    def add_sql_timer(connection, **kwargs):
        if sql_timer not in connection.execute_wrappers:
            connection.execute_wrappers.append(sql_timer)

    connection_created.connect(add_sql_timer, weak=False)
    for alias in connections:
        if connections[alias].connection is not None:
            add_sql_timer(connections[alias])

    # Claim, job load, final state change (module globals: patched where they are looked up).
    queue.job_claim = profile.wrap("claim (compare-and-swap + job.update broadcast)", queue.job_claim)
    worker.job_started = profile.wrap("worker row: job started", worker.job_started)
    queue.job_succeed = profile.wrap("final state change (succeeded + broadcast)", queue.job_succeed)
    worker.job_done = profile.wrap("worker row: job done", worker.job_done)
    runner._store_image = profile.wrap("store image (total)", runner._store_image)
    runner.png_bytes = profile.wrap("  PNG encode with metadata", runner.png_bytes)
    runner.thumbnail_bytes = profile.wrap("  WebP thumbnail", runner.thumbnail_bytes)
    runner.encode_replay_preview = profile.wrap("  replay previews (WebP, each kept step)",
                                                runner.encode_replay_preview)
    generation.publisher.encode_preview = profile.wrap("  preview JPEG encoding", generation.publisher.encode_preview)

    original_send_many = events.send_many

    def send_many(messages):
        started = time.perf_counter()
        try:
            return original_send_many(messages)
        finally:
            profile.add(f"channel-layer sends on {thread_kind()}", time.perf_counter() - started)

    events.send_many = send_many

    # The publisher thread's CPU time, all of it, and how long the runner waits for it to finish.
    publisher_class = generation.publisher.ProgressPublisher
    original_run, original_close = publisher_class._run, publisher_class.close

    def run(self):
        started = time.thread_time()
        try:
            original_run(self)
        finally:
            profile.add("publisher thread CPU (total)", time.thread_time() - started)

    publisher_class._run = run  # type: ignore[method-assign]
    publisher_class.close = profile.wrap(  # type: ignore[method-assign]
        "publisher close (wait for the last delivery)", original_close)

    # The step callback's work on the denoising thread: projection, hand-off, cancel check.
    class TimedPreviewer(generation.previews.LatentPreviewer):
        def __call__(self, latents):
            started = time.perf_counter()
            try:
                return super().__call__(latents)
            finally:
                profile.add("  preview projection (latent -> RGB)", time.perf_counter() - started)

    setattr(generation.engine, "LatentPreviewer", TimedPreviewer)  # noqa: B010 (mypy: not a type alias)


def instrument_engine(profile: Profile, engine) -> None:
    original_generate = engine.generate

    def generate(source, inputs, *, on_step, should_cancel, want_preview=None):
        profile.add("claim and job load (until engine.generate)", time.perf_counter() - profile.job_started)
        return profile.wrap("engine.generate (denoising + VAE decode)", original_generate)(
            source, inputs,
            on_step=profile.wrap("  step hand-off to the publisher", on_step),
            should_cancel=profile.wrap("  cancel check", should_cancel),
            want_preview=want_preview,
        )

    engine.generate = generate


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--cfg", type=float, default=7.0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--watchers", type=int, default=0, help="listeners in the job's channel group")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    for alias in settings.DATABASES:
        call_command("migrate", database=alias, verbosity=0)
    path = install_builtin_model(settings.STEPWISE_MODELS_DIR / BUILTIN_DIRNAME)
    register_builtin(path)
    user, _ = User.objects.get_or_create(username="bench")
    layer = get_channel_layer()
    assert layer is not None

    # (a) bare diffusers, loaded once, the same scheduler the job uses
    pipe = StableDiffusionPipeline.from_pretrained(path, safety_checker=None, requires_safety_checker=False)
    pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)

    def bare():
        generator = torch.Generator("cpu").manual_seed(SEED)
        return pipe(PROMPT, num_inference_steps=args.steps, width=args.size, height=args.size,
                    guidance_scale=args.cfg, generator=generator).images[0]

    # (b) the worker path (the model is warm in the worker's cache after the first job)
    profile = Profile()
    instrument(profile)
    engine = worker.engine()
    instrument_engine(profile, engine)
    creation_times = []

    def new_job():
        started = time.perf_counter()
        payload = {"positivePrompt": PROMPT, "model": "stepwise:1@1", "width": args.size, "height": args.size,
                   "steps": args.steps, "scheduler": "Euler", "CFGScale": args.cfg, "seed": SEED}
        job = job_create(user=user, valid=validate_inference(payload, user=user))
        for i in range(args.watchers):
            async_to_sync(layer.group_add)(events.job_group(job.id), f"bench.watcher{i}")
        creation_times.append(time.perf_counter() - started)
        return job

    def through_worker(job):
        profile.job_started = time.perf_counter()
        queue.job_process(job_id=str(job.id), engine=engine, shutdown=worker.SHUTDOWN)

    def check(job):
        job = Job.objects.get(id=job.id)
        assert job.status == "succeeded", job.error
        assert job.images.count() == 1

    bare()
    job = new_job()
    through_worker(job)  # warm-up: model load, first-call allocations
    check(job)
    profile.current.clear()
    a_times, b_times, a_cpu, b_cpu = [], [], [], []
    for _ in range(args.runs):
        cpu, started = time.process_time(), time.perf_counter()
        bare()
        a_times.append(time.perf_counter() - started)
        a_cpu.append(time.process_time() - cpu)
        job = new_job()
        cpu, started = time.process_time(), time.perf_counter()
        through_worker(job)
        b_times.append(time.perf_counter() - started)
        b_cpu.append(time.process_time() - cpu)
        profile.end_job()
        check(job)
    a, b = statistics.median(a_times), statistics.median(b_times)

    print(f"device: cpu, {torch.get_num_threads()} torch threads; {args.size}x{args.size}, {args.steps} steps, "
          f"Euler, CFG {args.cfg:g}; {args.watchers} watcher(s); channel layer {type(layer).__name__}; "
          f"database {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
    print(f"(a) bare diffusers call:       median {a:.3f}s  runs {[round(t, 3) for t in a_times]}")
    print(f"(b) through the worker path:   median {b:.3f}s  runs {[round(t, 3) for t in b_times]}")
    print(f"job creation (web side, not in (b)): median {1000 * statistics.median(creation_times[1:]):.1f} ms")
    cpu_a, cpu_b = statistics.median(a_cpu), statistics.median(b_cpu)
    print(f"process CPU per job: (a) {1000 * cpu_a:.0f} ms, (b) {1000 * cpu_b:.0f} ms, "
          f"extra {1000 * (cpu_b - cpu_a):+.0f} ms (cpu_ratio={cpu_b / cpu_a:.3f})")
    print("breakdown of (b), ms per job (medians; indented lines are part of the line above them):")
    generate_ms = profile.median_ms("engine.generate (denoising + VAE decode)")
    rows = [
        ("claim and job load (until engine.generate)", ""),
        ("claim (compare-and-swap + job.update broadcast)", "  "),
        ("worker row: job started", "  "),
        ("engine.generate (denoising + VAE decode)", ""),
        ("  preview projection (latent -> RGB)", "  "),
        ("  step hand-off to the publisher", "  "),
        ("  cancel check", "  "),
        ("publisher thread CPU (total)", ""),
        ("  preview JPEG encoding", "  "),
        ("channel-layer sends on publisher", "  "),
        ("sql default write on publisher", "  "),
        ("sql default read on publisher", "  "),
        ("publisher close (wait for the last delivery)", ""),
        ("store image (total)", ""),
        ("  PNG encode with metadata", "  "),
        ("  WebP thumbnail", "  "),
        ("  replay previews (WebP, each kept step)", "  "),
        ("sql default write on worker", ""),
        ("sql default read on worker", ""),
        ("channel-layer sends on worker", ""),
        ("sql channels read on helper", ""),
        ("sql channels write on helper", ""),
        ("final state change (succeeded + broadcast)", ""),
        ("worker row: job done", ""),
    ]
    for name, indent in rows:
        print(f"  {indent}{name.strip()}: {profile.median_ms(name):.1f}")
    print(f"  engine.generate - bare call (in-generation extra): {generate_ms - 1000 * a:+.1f}")
    print(f"  everything outside engine.generate: {1000 * b - generate_ms:.1f}")
    print("by kind of work, any thread (these overlap the sections above):")
    for label, prefix in (("database writes (job database)", "sql default write"),
                          ("database reads (job database)", "sql default read"),
                          ("channel layer's own database (channels_lite)", "sql channels"),
                          ("channel-layer sends (all, with their database time)", "channel-layer sends")):
        names = {name for job in profile.jobs for name in job if name.startswith(prefix)}
        total = statistics.median(sum(job.get(name, 0.0) for name in names) for job in profile.jobs)
        print(f"  {label}: {1000 * total:.1f}")
    print(f"overhead_ratio={b / a:.3f}")


if __name__ == "__main__":
    main()
