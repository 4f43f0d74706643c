"""webhookURL and uploadEndpoint: a local HTTP server on 127.0.0.1 receives the POSTs and PUTs.

The jobs run on the real job runner (fake engine, `worker_threads`); the webhook sender runs on
the jobs side's background thread, which `outbound.wait_idle()` waits for.
"""

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image as PILImage

from tests.api.conftest import WS_DB
from tests.api.test_http import post, t2i, task_uuid


class Receiver:
    """Records each request; answers each with the next status of `statuses` (then 200)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append({"method": self.command, "path": self.path,
                                          "type": self.headers.get("Content-Type"), "body": body})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    settings.STEPWISE_URL_FETCH_ALLOW_PRIVATE = True
    settings.STEPWISE_OUTBOUND_BACKOFF = 0.01
    settings.STEPWISE_OUTBOUND_TIMEOUT = 5
    server = Receiver()
    yield server
    server.close()


def _wait(worker_threads):
    from webapp.jobs import outbound

    for thread in worker_threads:
        thread.join(30)
    outbound.wait_idle()


def test_a_private_address_is_refused_without_the_setting(client, alice_key, builtin_model, settings):
    settings.STEPWISE_URL_FETCH_ALLOW_PRIVATE = False
    response = post(client, [t2i(webhookURL="http://127.0.0.1:9/hook", uploadEndpoint="http://10.0.0.1/put")],
                    key=alice_key)
    errors = {e["parameter"]: e for e in response.json()["errors"]}
    assert "private or local address" in errors["webhookURL"]["message"]
    assert "private or local address" in errors["uploadEndpoint"]["message"]
    response = post(client, [t2i(webhookURL="ftp://example.com/x")], key=alice_key)
    assert response.json()["errors"][0]["parameter"] == "webhookURL"


@WS_DB
def test_each_result_is_posted_to_the_webhook(client, alice, alice_key, builtin_model, worker_threads, receiver):
    from webapp.studio.models import Delivery, Job

    tid = task_uuid()
    response = post(client, [t2i(taskUUID=tid, numberResults=2, seed=5, deliveryMethod="async",
                                 webhookURL=receiver.url("/hook?token=abc"))], key=alice_key)
    assert response.json()["data"][0]["status"] == "processing"
    _wait(worker_threads)
    bodies = [json.loads(r["body"]) for r in receiver.requests]
    assert all(r["method"] == "POST" and r["path"] == "/hook?token=abc" for r in receiver.requests)
    assert all(r["type"] == "application/json" for r in receiver.requests)
    items = [b["data"][0] for b in bodies]
    assert sorted(i["seed"] for i in items) == [5, 6]
    assert {i["taskUUID"] for i in items} == {tid}
    assert all(i["imageURL"].startswith("http://testserver/files/signed/") for i in items)
    job = Job.objects.get(api_task_uuid=tid)
    deliveries = list(Delivery.objects.filter(job=job))
    assert len(deliveries) == 2 and all(d.delivered and d.kind == "webhook" for d in deliveries)
    # The owner sees them on the job page.
    client.force_login(alice)
    page = client.get(f"/jobs/{job.id}/").content.decode()
    assert "webhook POST" in page and "delivered" in page


@WS_DB
def test_a_failed_task_posts_its_error_and_failures_are_retried(client, alice_key, builtin_model, worker_threads,
                                                              receiver, fake_engine, settings):
    from webapp.studio.models import Delivery

    settings.STEPWISE_OUTBOUND_RETRIES = 2
    receiver.statuses = [500, 503]  # the third attempt gets through
    fake_engine.fail_with = RuntimeError("boom")
    tid = task_uuid()
    post(client, [t2i(taskUUID=tid, deliveryMethod="async", webhookURL=receiver.url())], key=alice_key)
    _wait(worker_threads)
    assert len(receiver.requests) == 3
    body = json.loads(receiver.requests[-1]["body"])
    assert body["errors"][0]["code"] == "inferenceFailed" and body["errors"][0]["taskUUID"] == tid
    delivery = Delivery.objects.get()
    assert delivery.what == "error" and delivery.delivered
    assert [a["status"] for a in delivery.attempts] == [500, 503, 200]


@WS_DB
def test_a_webhook_that_never_answers_well_is_recorded(client, alice_key, builtin_model, worker_threads, receiver,
                                                      settings):
    from webapp.studio.models import Delivery

    settings.STEPWISE_OUTBOUND_RETRIES = 1
    receiver.statuses = [500, 500]
    post(client, [t2i(deliveryMethod="async", webhookURL=receiver.url())], key=alice_key)
    _wait(worker_threads)
    delivery = Delivery.objects.get()
    assert not delivery.delivered and len(delivery.attempts) == 2
    assert delivery.last_error == "the server answered 500"


@WS_DB
def test_each_image_is_put_to_the_upload_endpoint(client, alice_key, builtin_model, worker_threads, receiver):
    from webapp.studio.models import Delivery

    response = post(client, [t2i(numberResults=2, outputFormat="PNG", uploadEndpoint=receiver.url("/bucket/x"))],
                    key=alice_key)
    assert len(response.json()["data"]) == 2, response.json()
    puts = [r for r in receiver.requests if r["method"] == "PUT"]
    assert len(puts) == 2 and all(r["type"] == "image/png" for r in puts)
    assert PILImage.open(io.BytesIO(puts[0]["body"])).size == (128, 128)
    assert Delivery.objects.filter(kind="upload", delivered=True).count() == 2


@WS_DB
def test_a_failed_upload_is_the_tasks_error(client, alice_key, builtin_model, worker_threads, receiver, settings):
    settings.STEPWISE_OUTBOUND_RETRIES = 1
    receiver.statuses = [500, 500]
    tid = task_uuid()
    response = post(client, [t2i(taskUUID=tid, uploadEndpoint=receiver.url("/bucket/x"))], key=alice_key)
    error = response.json()["errors"][0]
    assert error["code"] == "uploadFailed" and error["parameter"] == "uploadEndpoint" and error["taskUUID"] == tid
    assert "the server answered 500" in error["message"]
