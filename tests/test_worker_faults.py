"""The job runner survives what goes wrong inside a job: out of memory, a model that won't load,
a channel layer that hiccups while progress is published. The worker goes on serving."""

import pytest
from PIL import Image as PILImage

from generation import service
from generation.engine import GenerationCancelled, ModelLoadError, OutOfMemory
from webapp.studio import events
from webapp.studio.models import Job, ModelEntry
from webapp.studio.schema import validate_inference
from webapp.studio.services import job_create

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

    def generate(self, source, inputs, *, on_step, should_cancel):
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


def use_engine(monkeypatch, engine):
    monkeypatch.setattr(service, "_engine", engine)


def test_out_of_memory_fails_the_job_with_advice_and_the_worker_goes_on(monkeypatch, job):
    def oom():
        raise OutOfMemory("The GPU ran out of memory at 2048x2048; try a smaller size or fewer images.")

    use_engine(monkeypatch, FakeEngine(on_generate=oom))
    first = job()
    service.run_job(str(first.id))
    first.refresh_from_db()
    assert first.status == "failed" and "smaller size or fewer images" in first.error

    use_engine(monkeypatch, FakeEngine())
    second = job()
    service.run_job(str(second.id))
    second.refresh_from_db()
    assert second.status == "succeeded" and second.images.count() == 1


def test_a_model_that_fails_to_load_fails_its_job_and_marks_the_catalog(monkeypatch, job, builtin_model):
    def broken():
        raise ModelLoadError("FLUX.1 dev checkpoint is missing transformer weights")

    use_engine(monkeypatch, FakeEngine(on_load=broken))
    failed = job()
    service.run_job(str(failed.id))
    failed.refresh_from_db()
    assert failed.status == "failed"
    assert failed.error == "The model could not be loaded: FLUX.1 dev checkpoint is missing transformer weights"
    assert "missing transformer weights" in ModelEntry.objects.get(id=builtin_model.id).load_error

    # Once it loads again the mark is cleared.
    use_engine(monkeypatch, FakeEngine())
    fixed = job()
    service.run_job(str(fixed.id))
    assert ModelEntry.objects.get(id=builtin_model.id).load_error == ""


def test_a_channel_layer_hiccup_never_kills_a_running_generation(monkeypatch, job):
    calls = []

    class FlakyLayer:
        async def group_send(self, group, message):
            calls.append(message["type"])
            raise ConnectionError("redis went away")

    monkeypatch.setattr(events, "get_channel_layer", FlakyLayer)
    use_engine(monkeypatch, FakeEngine(steps=6))
    survivor = job(numberResults=2)
    service.run_job(str(survivor.id))
    survivor.refresh_from_db()
    assert survivor.status == "succeeded" and survivor.images.count() == 2
    assert "job.progress" in calls  # it tried, failed, and carried on


def test_a_job_that_is_no_longer_queued_is_not_run(monkeypatch, job):
    engine = FakeEngine()
    use_engine(monkeypatch, engine)
    cancelled = job()
    Job.objects.filter(id=cancelled.id).update(status="cancelled")
    service.run_job(str(cancelled.id))
    assert engine.generated == 0


def test_each_image_is_stored_as_soon_as_it_is_done(monkeypatch, job):
    seen = []

    def spy(job_id):
        current = Job.objects.get(id=job_id)
        seen.append((current.status, current.images_done))

    monkeypatch.setattr(events, "broadcast_job", spy)
    use_engine(monkeypatch, FakeEngine())
    many = job(numberResults=3, seed=41)
    service.run_job(str(many.id))
    assert seen[0] == ("queued", 0)  # the enqueue notice, on commit
    # Each image but the last is announced when stored; the last comes with the success.
    assert seen[1:] == [("running", 0), ("running", 1), ("running", 2), ("succeeded", 3)]
    assert sorted(many.images.values_list("seed", flat=True)) == [41, 42, 43]
