"""Fixtures for the Runware-compatible API tests.

- alice_key / bob_key / charlie_key: a raw API key for each of the three people.
- fake_engine: the worker's engine replaced by one that paints a flat image per seed and reports
  every step through the real job runner (`webapp.jobs.queue.job_process`), so the protocol is tested
  against the real worker code without loading torch pipelines. The live-server tests
  (test_sdk_live.py, test_raw_live.py) run the real engine.
"""

import pytest

# "__all__": the SQLite channel layer has a database of its own; with Redis there is none.
WS_DB = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """A channel layer per test: each async test has an event loop of its own, and a layer keeps
    receive tasks bound to the loop that created them (channels-lite's poller, Redis connections)."""
    from channels.layers import channel_layers

    channel_layers.backends = {}
    yield
    channel_layers.backends = {}


@pytest.fixture(autouse=True)
def _close_thread_connections():
    """Consumers reach the database from asgiref's one sync thread; with PostgreSQL (CONN_MAX_AGE)
    that connection would outlive the test and block dropping the test database."""
    yield
    from asgiref.sync import SyncToAsync
    from django.db import connections

    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=30)


def _key(user, name="tests"):
    from webapp.api.services import api_key_create

    return api_key_create(user=user, name=name)[1]


@pytest.fixture
def alice_key(alice):
    return _key(alice)


@pytest.fixture
def bob_key(bob):
    return _key(bob)


@pytest.fixture
def charlie_key(charlie):
    return _key(charlie)


class FakeEngine:
    """Counts steps exactly like the real engine (job_plan: one counter across a second pass) and never
    touches torch."""

    def __init__(self):
        self.fail_with = None
        self.generated = []
        self.checkers = {}

    def load(self, source):
        return 0.0

    def loaded_models(self):
        return []

    def content_flagged(self, checker_path, image):
        # The real checker (a tiny one a test built), loaded once, as the real engine runs it.
        from generation.safety import ContentChecker

        if checker_path not in self.checkers:
            self.checkers[checker_path] = ContentChecker(checker_path)
        return self.checkers[checker_path].flagged(image)

    def generate(self, source, inp, *, on_step, should_cancel, want_preview=None):
        import numpy as np
        from PIL import Image

        from generation import schedulers
        from generation.architectures import ARCHITECTURES
        from generation.inputs import GenerationCancelled
        from generation.steps import job_plan, upscaled_size

        if self.fail_with is not None:
            raise self.fail_with
        arch = ARCHITECTURES[source.architecture]
        spec = schedulers.resolve(inp.scheduler, arch.family, default=arch.default_scheduler)
        strength = 1.0 if inp.task_type == "textToImage" or inp.strength is None else inp.strength
        plan = job_plan(architecture=source.architecture, task_type=inp.task_type, steps=inp.steps,
                        strength=strength, scheduler_order=spec.order,
                        refiner_start_step=inp.refiner.start_step if inp.refiner else None,
                        hires_steps=inp.hires.steps if inp.hires else None,
                        hires_strength=inp.hires.strength if inp.hires else None)
        for step in range(1, plan.steps + 1):
            wanted = want_preview is None or want_preview()  # as the engine: no projection for nobody
            on_step(step, plan.steps, np.full((8, 8, 3), step * 10 % 255, dtype=np.uint8) if wanted else None)
            if should_cancel():
                raise GenerationCancelled("cancelled")
        self.generated.append(inp)
        size = (inp.width, inp.height)
        if inp.hires is not None:
            size = upscaled_size(inp.width, inp.height, upscale=inp.hires.upscale, multiple=arch.size_multiple)
        return Image.new("RGB", size, (inp.seed % 255, 90, 160))


@pytest.fixture
def fake_engine():
    return FakeEngine()


def _process(job_id, engine):
    """What the generation task does, on `engine`: claim, run, record; then close this thread's
    database connections."""
    import threading

    from django.db import connections

    from webapp.jobs import queue

    try:
        queue.job_process(job_id=str(job_id), engine=engine, shutdown=threading.Event())
    finally:
        connections.close_all()


@pytest.fixture
def run_job(fake_engine):
    """run_job(job_id): the real job runner, in a thread of its own (await it from async tests)."""
    from asgiref.sync import sync_to_async

    def _run(job_id):
        return sync_to_async(_process, thread_sensitive=False)(str(job_id), fake_engine)

    return _run


@pytest.fixture
def worker_threads(fake_engine, monkeypatch):
    """Every job runs in a thread of its own as soon as it is enqueued, like a worker picking it up."""
    import threading

    from webapp.jobs import queue

    threads = []
    original = queue._enqueue

    def enqueue(*, job_id, priority):
        original(job_id=job_id, priority=priority)
        thread = threading.Thread(target=_process, args=(job_id, fake_engine), daemon=True)
        threads.append(thread)
        thread.start()

    monkeypatch.setattr(queue, "_enqueue", enqueue)
    yield threads
    for thread in threads:
        thread.join(30)
