"""The job runner survives what goes wrong inside a job: out of memory, a model that won't load,
a channel layer that hiccups while progress is published, its own worker stopping. The worker goes
on serving."""

import threading

import pytest
from PIL import Image as PILImage

from generation.inputs import GenerationCancelled, ModelLoadError, OutOfMemory
from webapp.jobs import queue
from webapp.jobs.services import job_create
from webapp.studio import events
from webapp.studio.models import Job, ModelEntry
from webapp.studio.schema import validate_inference

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


class FakeEngine:
    """Stands in for the diffusers engine at the edge: same API, scripted behaviour."""

    def __init__(self, *, on_load=None, on_generate=None, steps=4):
        self.on_load, self.on_generate, self.steps = on_load, on_generate, steps
        self.generated = 0

    def load(self, source):
        if self.on_load:
            self.on_load()
        return 0.01

    def loaded_models(self):
        return []

    def generate(self, source, inputs, *, on_step, should_cancel, want_preview=None):
        if self.on_generate:
            self.on_generate()
        for step in range(1, self.steps + 1):
            on_step(step, self.steps, None)
            if should_cancel():
                raise GenerationCancelled()
        self.generated += 1
        return PILImage.new("RGB", (inputs.width, inputs.height), (10, 20, 30))


@pytest.fixture
def job(alice, builtin_model):
    def make(**fields):
        payload = {"positivePrompt": "a lighthouse", "model": "stepwise:1@1", "steps": 4, "width": 128,
                   "height": 128, **fields}
        return job_create(user=alice, valid=validate_inference(payload, user=alice))
    return make


def run(job, engine, shutdown=None):
    """What the generation task does with this worker's engine: claim, run, record."""
    return queue.job_process(job_id=str(job.id), engine=engine, shutdown=shutdown or threading.Event())


def test_out_of_memory_fails_the_job_with_advice_and_the_worker_goes_on(job):
    def oom():
        raise OutOfMemory("The GPU ran out of memory at 2048x2048; try a smaller size or fewer images.")

    first = job()
    run(first, FakeEngine(on_generate=oom))
    first.refresh_from_db()
    assert first.status == "failed" and "smaller size or fewer images" in first.error

    second = job()
    run(second, FakeEngine())
    second.refresh_from_db()
    assert second.status == "succeeded" and second.images.count() == 1


def test_a_model_that_fails_to_load_fails_its_job_and_marks_the_catalog(job, builtin_model, caplog):
    def broken():
        raise ModelLoadError("/srv/models/flux-dev: FLUX.1 dev checkpoint is missing transformer weights")

    failed = job()
    run(failed, FakeEngine(on_load=broken))
    failed.refresh_from_db()
    assert failed.status == "failed"
    # Server paths go to the log and the admin's catalog, never to the job users and API clients read.
    assert failed.error == "The model stepwise:1@1 could not be loaded; an admin can see why in the model catalog."
    assert "/srv/models" in ModelEntry.objects.get(id=builtin_model.id).load_error
    assert "/srv/models" in caplog.text

    # Once it loads again the mark is cleared.
    fixed = job()
    run(fixed, FakeEngine())
    assert ModelEntry.objects.get(id=builtin_model.id).load_error == ""


def test_a_channel_layer_hiccup_never_kills_a_running_generation(monkeypatch, job):
    calls = []

    class FlakyLayer:
        async def group_send(self, group, message):
            calls.append(message["type"])
            raise ConnectionError("redis went away")

    monkeypatch.setattr(events, "get_channel_layer", FlakyLayer)
    survivor = job(numberResults=2)
    run(survivor, FakeEngine(steps=6))
    survivor.refresh_from_db()
    assert survivor.status == "succeeded" and survivor.images.count() == 2
    assert "job.progress" in calls  # it tried, failed, and carried on


def test_a_job_that_is_no_longer_queued_is_not_run(job):
    engine = FakeEngine()
    cancelled = job()
    Job.objects.filter(id=cancelled.id).update(status="cancelled")
    run(cancelled, engine)
    assert engine.generated == 0


def test_each_image_is_stored_as_soon_as_it_is_done(monkeypatch, job):
    seen = []

    def spy(job_id):
        current = Job.objects.get(id=job_id)
        seen.append((current.status, current.images_done))

    monkeypatch.setattr(events, "broadcast_job", spy)
    many = job(numberResults=3, seed=41)
    run(many, FakeEngine())
    assert seen[0] == ("queued", 0)  # the enqueue notice, on commit
    # Each image but the last is announced when stored; the last comes with the success.
    assert seen[1:] == [("running", 0), ("running", 1), ("running", 2), ("succeeded", 3)]
    assert sorted(many.images.values_list("seed", flat=True)) == [41, 42, 43]


def test_a_stopping_worker_hands_its_job_back_without_counting_an_attempt(job):
    stopping = threading.Event()
    stopping.set()  # SIGTERM arrived: the generation stops at its first step
    interrupted = job()
    first_task = Job.objects.get(id=interrupted.id).task_result_id
    outcome = run(interrupted, FakeEngine(), shutdown=stopping)
    assert outcome.status == "interrupted"
    interrupted.refresh_from_db()
    assert interrupted.status == "queued" and interrupted.attempts == 0 and interrupted.worker_id == ""
    assert interrupted.task_result_id not in ("", first_task)  # enqueued again for the next worker

    run(interrupted, FakeEngine())
    interrupted.refresh_from_db()
    assert interrupted.status == "succeeded" and interrupted.attempts == 1
