"""Websockets: access is checked on connect, a snapshot comes first, then the stream."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from webapp.asgi import application
from webapp.jobs.services import job_create
from webapp.studio import events
from webapp.studio.schema import validate_inference

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def session_headers(user):
    client = Client()
    client.force_login(user)
    return [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()), (b"origin", b"http://localhost")]


def anonymous_headers():
    return [(b"origin", b"http://localhost")]


def make_job(user, visibility="team"):
    valid = validate_inference({"positivePrompt": "a lighthouse", "model": "stepwise:1@1", "steps": 12}, user=user)
    return job_create(user=user, valid=valid, visibility=visibility)


async def connect(path, headers):
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect()
    return communicator, connected


async def test_the_owner_gets_a_snapshot_then_progress(alice, builtin_model):
    job = await sync_to_async(make_job)(alice)
    communicator, connected = await connect(f"/ws/jobs/{job.id}/", await sync_to_async(session_headers)(alice))
    try:
        assert connected
        snapshot = await communicator.receive_json_from(timeout=5)
        assert snapshot["type"] == "status"
        assert snapshot["job"]["status"] == "queued" and snapshot["job"]["totalSteps"] == 12
        assert snapshot["job"]["queuePosition"] == 1
        await sync_to_async(events.send)(events.job_group(job.id), events.progress_message(
            job.id, steps=[2, 3], total_steps=12, image_index=0, images_done=0,
            phase_info={"name": "Composition", "description": ""}, preview_data_uri=None))
        progress = await communicator.receive_json_from(timeout=5)
        assert progress["type"] == "progress" and progress["step"] == 3 and progress["totalSteps"] == 12
        assert progress["steps"] == [2, 3]
    finally:
        await communicator.disconnect()


async def test_a_send_from_a_consumers_database_code_reaches_the_browser(alice, builtin_model):
    """Consumers run their database code on asgiref's one shared thread (`database_sync_to_async`).
    A notification sent from there (a job created over the API broadcasts its state) must not need
    that same thread for the channel layer's own database calls: it would wait on itself."""
    import time

    from channels.db import database_sync_to_async

    job = await sync_to_async(make_job)(alice)
    communicator, connected = await connect(f"/ws/jobs/{job.id}/", await sync_to_async(session_headers)(alice))
    try:
        assert connected
        assert (await communicator.receive_json_from(timeout=5))["type"] == "status"
        started = time.monotonic()
        sent = await database_sync_to_async(events.send)(events.job_group(job.id), events.progress_message(
            job.id, steps=[1], total_steps=12, image_index=0, images_done=0, phase_info=None, preview_data_uri=None))
        assert sent is True and time.monotonic() - started < 5
        assert (await communicator.receive_json_from(timeout=5))["steps"] == [1]
    finally:
        await communicator.disconnect()


async def test_bob_may_watch_alices_team_job_but_not_her_private_one(alice, bob, builtin_model):
    shared = await sync_to_async(make_job)(alice, "team")
    private = await sync_to_async(make_job)(alice, "private")
    headers = await sync_to_async(session_headers)(bob)
    communicator, connected = await connect(f"/ws/jobs/{shared.id}/", headers)
    assert connected
    await communicator.disconnect()
    communicator, connected = await connect(f"/ws/jobs/{private.id}/", headers)
    assert not connected


async def test_charlie_and_anonymous_users_cannot_subscribe(alice, charlie, builtin_model):
    job = await sync_to_async(make_job)(alice, "team")
    for headers in (await sync_to_async(session_headers)(charlie), anonymous_headers()):
        communicator, connected = await connect(f"/ws/jobs/{job.id}/", headers)
        assert not connected


async def test_the_gallery_socket_hears_of_team_images_only(alice, bob, charlie, builtin_model):
    bob_socket, connected = await connect("/ws/gallery/", await sync_to_async(session_headers)(bob))
    assert connected and (await bob_socket.receive_json_from())["type"] == "hello"
    charlie_socket, connected = await connect("/ws/gallery/", await sync_to_async(session_headers)(charlie))
    assert connected and (await charlie_socket.receive_json_from())["type"] == "hello"
    try:
        job = await sync_to_async(make_job)(alice, "team")
        team_id = await sync_to_async(lambda: job.team_id)()
        await sync_to_async(events.send)(events.team_group(team_id), {"type": "gallery.update", "job": str(job.id)})
        assert (await bob_socket.receive_json_from(timeout=5)) == {"type": "gallery", "job": str(job.id)}
        assert await charlie_socket.receive_nothing(timeout=1)
    finally:
        await bob_socket.disconnect()
        await charlie_socket.disconnect()


async def test_the_gallery_socket_refuses_anonymous_users():
    communicator, connected = await connect("/ws/gallery/", anonymous_headers())
    assert not connected


async def test_other_origins_are_refused(alice, builtin_model):
    job = await sync_to_async(make_job)(alice)
    headers = [h for h in await sync_to_async(session_headers)(alice) if h[0] != b"origin"]
    communicator, connected = await connect(f"/ws/jobs/{job.id}/", headers + [(b"origin", b"http://evil.example")])
    assert not connected
