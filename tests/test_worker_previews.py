"""Previews cost only when somebody watches: without a listener in the job's channel group the
worker projects, encodes and sends no preview, yet the job row still has its step (the snapshot a
browser gets on connecting) and the image arrives as always."""

import threading

import pytest
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from PIL import Image as PILImage

from webapp.jobs import queue, runner
from webapp.jobs.services import job_create
from webapp.studio import events
from webapp.studio.models import Job
from webapp.studio.schema import validate_inference

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


class PreviewingEngine:
    """Like the real engine at its edge: asks `want_preview` each step and projects only if wanted."""

    def __init__(self, steps=4):
        self.steps, self.wanted = steps, []

    def load(self, source):
        return 0.0

    def loaded_models(self):
        return []

    def generate(self, source, inputs, *, on_step, should_cancel, want_preview=None):
        import numpy as np

        for step in range(1, self.steps + 1):
            wanted = want_preview is None or want_preview()
            self.wanted.append(wanted)
            on_step(step, self.steps, np.full((8, 8, 3), 40 * step, dtype=np.uint8) if wanted else None)
            should_cancel()
        return PILImage.new("RGB", (inputs.width, inputs.height), (10, 20, 30))


@pytest.fixture
def job(alice, builtin_model):
    payload = {"positivePrompt": "a lighthouse", "model": "stepwise:1@1", "steps": 4, "width": 128, "height": 128}
    return job_create(user=alice, valid=validate_inference(payload, user=alice))


@pytest.fixture
def spies(monkeypatch):
    """Progress messages sent, and the job row as it was when the image was stored."""
    sent: list[dict] = []
    at_store: dict = {}
    send_many = events.send_many

    def spy_send(messages):
        sent.extend(message for _, message in messages if message["type"] == "job.progress")
        return send_many(messages)


    store = runner._store_image

    def spy_store(job, image, **kwargs):
        row = Job.objects.get(id=job.id)
        at_store.update(step=row.step, preview=row.preview, snapshot=events.job_snapshot(row))
        return store(job, image, **kwargs)

    monkeypatch.setattr(events, "send_many", spy_send)
    monkeypatch.setattr(runner, "_store_image", spy_store)
    return sent, at_store


def layer():
    channel_layer = get_channel_layer()
    assert channel_layer is not None
    return channel_layer


def run(job, engine):
    return queue.job_process(job_id=str(job.id), engine=engine, shutdown=threading.Event())


def test_a_job_nobody_watches_has_no_previews_but_its_steps_snapshot_and_image(job, spies, settings):
    settings.STEPWISE_STEP_PREVIEW_DAYS = 0  # no replay kept: nothing needs a preview
    sent, at_store = spies
    engine = PreviewingEngine()
    run(job, engine)
    assert engine.wanted == [False] * 4  # not even projected
    assert sent == []  # no progress events for nobody
    assert at_store["step"] == 4 and at_store["preview"] is None  # the row still follows the steps
    assert at_store["snapshot"]["step"] == 4 and at_store["snapshot"]["previewDataURI"] is None
    job.refresh_from_db()
    snapshot = events.job_snapshot(job)
    assert snapshot["status"] == "succeeded" and len(snapshot["images"]) == 1
    assert job.images.get().file.read().startswith(b"\x89PNG")


def test_a_job_nobody_watches_still_projects_the_steps_its_replay_keeps_but_sends_nothing(job, spies):
    sent, _ = spies
    engine = PreviewingEngine()
    run(job, engine)
    assert engine.wanted == [True] * 4  # the replay keeps every step of a 4-step job
    assert sent == []
    assert sorted(job.step_previews.values_list("step", flat=True)) == [1, 2, 3, 4]


def test_a_watched_job_sends_every_step_with_previews_and_keeps_the_newest_in_its_row(job, spies):
    sent, at_store = spies
    async_to_sync(layer().group_add)(events.job_group(job.id), "test.jobpage")
    engine = PreviewingEngine()
    run(job, engine)
    assert engine.wanted == [True] * 4
    # Every step, in order, each once; one message per delivery, its `step` the newest of its `steps`.
    assert [step for message in sent for step in message["steps"]] == [1, 2, 3, 4]
    assert all(message["step"] == message["steps"][-1] for message in sent)
    assert sent[-1]["previewDataURI"].startswith("data:image/jpeg;base64,")
    assert bytes(at_store["preview"]).startswith(b"\xff\xd8")  # what a browser connecting now is shown
    job.refresh_from_db()
    assert job.status == "succeeded" and job.images.count() == 1


def test_the_channel_layer_says_who_listens(job):
    group = events.job_group(job.id)
    assert events.has_listeners(group) is False
    async_to_sync(layer().group_add)(group, "test.jobpage")
    assert events.has_listeners(group) is True
    async_to_sync(layer().group_discard)(group, "test.jobpage")
    assert events.has_listeners(group) is False


def test_state_changes_go_only_to_groups_somebody_is_in(job, alice, monkeypatch):
    """The job's page, its owner's connections and the team gallery each get the new state only when
    somebody is there; for nobody no snapshot is even built. The row holds the state either way."""
    # A layer of its own: a shared one (Redis in the scale-out run) may hold other tests' members.
    memory_layer = InMemoryChannelLayer()
    monkeypatch.setattr(events, "get_channel_layer", lambda: memory_layer)
    messages: list[tuple[str, dict]] = []
    monkeypatch.setattr(events, "send_many", messages.extend)
    snapshots = []

    def job_snapshot(row):
        snapshots.append(row.id)
        return {"id": str(row.id)}

    monkeypatch.setattr(events, "job_snapshot", job_snapshot)
    Job.objects.filter(id=job.id).update(status=Job.Status.SUCCEEDED)

    events.broadcast_job(job.id)
    assert messages == [] and snapshots == []

    team = events.team_group(job.team_id)
    async_to_sync(memory_layer.group_add)(team, "test.gallery")
    events.broadcast_job(job.id)
    assert messages == [(team, {"type": "gallery.update", "job": str(job.id)})] and snapshots == []

    messages.clear()
    async_to_sync(memory_layer.group_add)(events.user_group(alice.id), "test.api")
    events.broadcast_job(job.id)
    assert messages == [(events.user_group(alice.id), {"type": "job.update", "job": {"id": str(job.id)}}),
                        (team, {"type": "gallery.update", "job": str(job.id)})]
    assert snapshots == [job.id]


def test_a_layer_that_cannot_say_gets_every_state_change(job, monkeypatch):
    class SomeOtherLayer:
        pass

    messages: list[tuple[str, dict]] = []
    monkeypatch.setattr(events, "send_many", messages.extend)
    monkeypatch.setattr(events, "get_channel_layer", SomeOtherLayer)
    events.broadcast_job(job.id)
    assert [group for group, _ in messages] == [events.job_group(job.id), events.user_group(job.owner_id)]
    assert messages[0][1]["job"]["status"] == "queued"


def test_the_in_memory_layer_says_who_listens(monkeypatch):
    layer = InMemoryChannelLayer()
    monkeypatch.setattr(events, "get_channel_layer", lambda: layer)
    assert events.has_listeners("job-1") is False
    async_to_sync(layer.group_add)("job-1", "test.jobpage")
    assert events.has_listeners("job-1") is True


def test_a_layer_that_cannot_say_counts_as_watched(monkeypatch):
    class SomeOtherLayer:
        pass

    class BrokenGroups(dict):
        def get(self, *args):
            raise ConnectionError("gone")

    monkeypatch.setattr(events, "get_channel_layer", SomeOtherLayer)
    assert events.has_listeners("job-1") is True  # previews are then made, as before
    broken = InMemoryChannelLayer()
    broken.groups = BrokenGroups()
    monkeypatch.setattr(events, "get_channel_layer", lambda: broken)
    assert events.has_listeners("job-1") is True


@pytest.mark.services
def test_the_redis_layer_says_who_listens(monkeypatch):
    import os

    import redis
    from channels_redis.core import RedisChannelLayer  # type: ignore[import-untyped]

    from tests.conftest import require

    # Any reachable Redis will do (this test builds its own layer), so it runs in both CI phases.
    url = os.environ.get("REDIS_URL") or os.environ.get("STEPWISE_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_timeout=3).ping()
        reachable = True
    except redis.RedisError:
        reachable = False
    require(reachable, f"needs a Redis server at {url} (set REDIS_URL or STEPWISE_TEST_REDIS_URL)")
    redis_layer = RedisChannelLayer(hosts=[url], prefix="stepwise-test-listeners")
    monkeypatch.setattr(events, "get_channel_layer", lambda: redis_layer)
    assert events.has_listeners("job-1") is False
    async_to_sync(redis_layer.group_add)("job-1", "test.jobpage")
    assert events.has_listeners("job-1") is True
    async_to_sync(redis_layer.group_discard)("job-1", "test.jobpage")
    assert events.has_listeners("job-1") is False
