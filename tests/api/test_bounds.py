"""/v1 is bounded, and ended access ends sessions.

Each test failed before the fix: 200,000 empty tasks in one message got 200,000 replies; a 60 MB frame
was parsed before authentication; a revoked key (or a deactivated user) kept working on an open
websocket; a 200 MB body was read in full before its 413.
"""

import asyncio
import json
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import ApplicationCommunicator, WebsocketCommunicator

from tests.api.conftest import WS_DB


def task_uuid():
    return str(uuid.uuid4())


async def connect():
    from webapp.asgi import application

    communicator = WebsocketCommunicator(application, "/v1", headers=[(b"host", b"testserver")])
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def auth(communicator, key):
    await communicator.send_json_to([{"taskType": "authentication", "apiKey": key}])
    return await communicator.receive_json_from(timeout=5)


def search():
    return {"taskType": "modelSearch", "taskUUID": task_uuid()}


def test_too_many_tasks_in_one_http_body_is_one_clear_error(client, alice_key, settings):
    settings.STEPWISE_API_MAX_TASKS = 50
    body = json.dumps([{}] * 51)
    response = client.post("/v1", data=body, content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {alice_key}")
    errors = response.json()["errors"]
    assert len(errors) == 1 and errors[0]["code"] == "tooManyTasks" and "at most 50" in errors[0]["message"]


@WS_DB
async def test_too_many_tasks_in_one_message_is_one_clear_error(settings):
    settings.STEPWISE_API_MAX_TASKS = 50
    communicator = await connect()
    try:
        await communicator.send_to(text_data=json.dumps([{}] * 2000))
        reply = await communicator.receive_json_from(timeout=5)
        assert [e["code"] for e in reply["errors"]] == ["tooManyTasks"]
        assert await communicator.receive_nothing(timeout=0.3)
    finally:
        await communicator.disconnect()


@WS_DB
async def test_a_large_message_before_authentication_is_refused_and_closes(settings):
    settings.STEPWISE_API_UNAUTHENTICATED_BYTES = 16 * 1024
    communicator = await connect()
    await communicator.send_to(text_data=json.dumps([{"taskType": "ping", "ping": True, "pad": "x" * 20000}]))
    reply = await communicator.receive_json_from(timeout=5)
    assert reply["errors"][0]["code"] == "messageTooLarge"
    closed = await communicator.receive_output(timeout=5)
    assert closed["type"] == "websocket.close" and closed["code"] == 1009


@WS_DB
async def test_after_authentication_large_messages_are_parsed(alice_key, builtin_model, settings):
    settings.STEPWISE_API_UNAUTHENTICATED_BYTES = 16 * 1024
    communicator = await connect()
    try:
        await auth(communicator, alice_key)
        # 400 kB of whitespace between the tasks: a large, valid message (unknown fields are refused).
        text = "[" + json.dumps(search()) + " " * 400_000 + "]"
        await communicator.send_to(text_data=text)
        reply = await communicator.receive_json_from(timeout=10)
        assert reply["data"][0]["taskType"] == "modelSearch", reply
    finally:
        await communicator.disconnect()


@WS_DB
async def test_a_revoked_key_refuses_the_next_task_and_closes(alice, alice_key, builtin_model):
    from webapp.api.models import ApiKey
    from webapp.api.services import api_key_revoke

    communicator = await connect()
    await auth(communicator, alice_key)
    await communicator.send_json_to([search()])
    assert "data" in await communicator.receive_json_from(timeout=5)
    key = await database_sync_to_async(ApiKey.objects.get)(user=alice)
    await database_sync_to_async(api_key_revoke)(key=key)
    await communicator.send_json_to([search(), search()])
    reply = await communicator.receive_json_from(timeout=5)
    assert reply["errors"][0]["code"] == "invalidApiKey" and "data" not in reply
    closed = await communicator.receive_output(timeout=5)
    assert closed["type"] == "websocket.close" and closed["code"] == 4401


@WS_DB
async def test_a_deactivated_users_idle_socket_is_closed_within_seconds(alice, alice_key, builtin_model, settings):
    settings.STEPWISE_ACCESS_CHECK_SECONDS = 0.5
    communicator = await connect()
    await auth(communicator, alice_key)
    alice.is_active = False
    await database_sync_to_async(alice.save)()
    reply = await communicator.receive_json_from(timeout=5)
    assert reply["errors"][0]["code"] == "invalidApiKey"
    closed = await communicator.receive_output(timeout=5)
    assert closed["type"] == "websocket.close" and closed["code"] == 4401


@WS_DB
async def test_a_deactivated_users_browser_socket_is_closed(alice, settings):
    from django.test import Client

    from webapp.asgi import application

    settings.STEPWISE_ACCESS_CHECK_SECONDS = 0.5
    client = Client()
    await database_sync_to_async(client.force_login)(alice)
    headers = [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
               (b"origin", b"http://localhost")]
    communicator = WebsocketCommunicator(application, "/ws/gallery/", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from(timeout=5))["type"] == "hello"
    alice.is_active = False
    await database_sync_to_async(alice.save)()
    closed = await communicator.receive_output(timeout=5)
    assert closed["type"] == "websocket.close" and closed["code"] == 4401


# Request bodies --------------------------------------------------------------------------------


def _http_scope(headers):
    return {"type": "http", "method": "POST", "path": "/v1", "raw_path": b"/v1", "query_string": b"",
            "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), *headers],
            "scheme": "http", "server": ("testserver", 80), "client": ("127.0.0.1", 5000),
            "http_version": "1.1", "asgi": {"version": "3.0"}}


@pytest.mark.django_db(transaction=True)
async def test_an_over_limit_content_length_is_refused_without_reading(settings):
    from webapp.asgi import application

    settings.STEPWISE_MAX_REQUEST_BYTES = 1000
    app = ApplicationCommunicator(application, _http_scope([(b"content-length", b"200000000")]))
    # Nothing is sent: a server that waited for the body would never answer.
    start = await app.receive_output(timeout=5)
    assert start["status"] == 413
    body = await app.receive_output(timeout=5)
    assert json.loads(body["body"])["errors"][0]["code"] == "requestTooLarge"


@pytest.mark.django_db(transaction=True)
async def test_a_chunked_body_is_cut_at_the_limit(settings):
    from webapp.asgi import application

    settings.STEPWISE_MAX_REQUEST_BYTES = 1000
    app = ApplicationCommunicator(application, _http_scope([(b"transfer-encoding", b"chunked")]))
    for _ in range(50):
        await app.send_input({"type": "http.request", "body": b"x" * 300, "more_body": True})
        await asyncio.sleep(0)
    start = await app.receive_output(timeout=5)
    assert start["status"] == 413
    # The app stopped asking for chunks after the fourth (1,200 bytes): the rest stay unread.
    assert app.input_queue.qsize() >= 40


@WS_DB
async def test_heavy_tasks_run_in_the_bounded_pool_not_the_shared_thread(alice_key, settings, monkeypatch):
    """Image work used to run on the one thread every socket's database calls share."""
    import threading

    from webapp.api import heavy
    from webapp.api.protocol import dispatch

    settings.STEPWISE_HEAVY_THREADS = 2
    heavy._pool.cache_clear()
    threads = []
    original = dispatch.run_task

    def recording(task, client, **kwargs):
        threads.append((task.get("taskType"), threading.current_thread().name))
        return original(task, client, **kwargs)

    monkeypatch.setattr("webapp.api.consumers.run_task", recording)
    communicator = await connect()
    try:
        await auth(communicator, alice_key)
        await communicator.send_json_to([{"taskType": "imageUpload", "taskUUID": task_uuid(), "image": "bm90"}])
        await communicator.receive_json_from(timeout=10)
        await communicator.send_json_to([search()])
        await communicator.receive_json_from(timeout=10)
    finally:
        await communicator.disconnect()
        heavy._pool.cache_clear()
    assert threads[0][0] == "imageUpload" and threads[0][1].startswith("heavy")
    assert threads[1][0] == "modelSearch" and not threads[1][1].startswith("heavy")
