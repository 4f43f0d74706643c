"""End to end through the real stack: the web form, the queue, a separate worker process, the
channel layer and the websocket, exactly as a browser sees it."""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from PIL import Image as PILImage
from PIL.PngImagePlugin import PngImageFile
from websockets.sync.client import connect

from tests.live import PASSWORD, ROOT, LiveStepwise

pytestmark = pytest.mark.slow


def login(server, username) -> requests.Session:
    session = requests.Session()
    session.get(f"{server.url}/login/", timeout=10)
    response = session.post(
        f"{server.url}/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        timeout=10,
    )
    assert "sessionid" in session.cookies, response.text[:500]
    return session


def open_socket(server, session, path):
    cookies = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
    return connect(f"{server.ws_url}{path}", additional_headers={"Cookie": cookies, "Origin": server.url},
                   open_timeout=10)


def submit_text_to_image(server, session, **fields):
    data = {
        "positivePrompt": "a lighthouse on a cliff at dusk",
        "model": "stepwise:1@1",
        "width": "128",
        "height": "128",
        "steps": "7",
        "CFGScale": "7",
        "scheduler": "Euler",
        "numberResults": "1",
        "seed": "1234",
        "csrfmiddlewaretoken": session.cookies["csrftoken"],
        **fields,
    }
    response = session.post(f"{server.url}/create/text-to-image/", data=data, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text[:2000]
    match = re.search(r"/jobs/([0-9a-f-]{36})/", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


@pytest.fixture(scope="module")
def server_without_workers(tmp_path_factory):
    server = LiveStepwise(tmp_path_factory.mktemp("spine"), workers=0)
    try:
        server.start()
        server.create_user("alice", "Studio A", admin=True)
        yield server
    finally:
        server.stop()


def test_it_runs_a_job_from_queued_to_succeeded_with_every_step(server_without_workers):
    server = server_without_workers
    session = login(server, "alice")
    job_id = submit_text_to_image(server, session)

    with open_socket(server, session, f"/ws/jobs/{job_id}/") as socket:
        # 1. The snapshot on connect: queued, first in line, nothing run yet.
        snapshot = json.loads(socket.recv(timeout=10))
        assert snapshot["type"] == "status"
        assert snapshot["job"]["status"] == "queued"
        assert snapshot["job"]["queuePosition"] == 1
        assert snapshot["job"]["totalSteps"] == 7

        # 2. Only now a worker starts, in its own process, as on another machine.
        worker = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "generation_worker", "--max-tasks", "1"],
            cwd=ROOT, env=server.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        try:
            statuses: list[str] = []
            steps: list[int] = []
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                message = json.loads(socket.recv(timeout=max(1, deadline - time.monotonic())))
                if message["type"] == "progress":  # the steps since the last message; `step` the newest
                    steps.extend(message["steps"])
                    assert message["step"] == message["steps"][-1] and message["totalSteps"] == 7
                elif message["type"] == "status":
                    if not statuses or statuses[-1] != message["job"]["status"]:
                        statuses.append(message["job"]["status"])
                    if message["job"]["status"] in ("succeeded", "failed", "cancelled"):
                        final = message["job"]
                        break
            output, _ = worker.communicate(timeout=60)
            assert worker.returncode == 0, output.decode()
        finally:
            if worker.poll() is None:
                worker.kill()

    # 3. queued -> running -> succeeded, and every step reported exactly once, in order.
    assert statuses == ["running", "succeeded"], final.get("error")
    assert steps == list(range(1, 8))
    assert final["step"] == 7 and final["imagesDone"] == 1

    # 4. A valid PNG of the requested size on disk, reachable for its owner.
    image = final["images"][0]
    files = list(Path(server.data_dir, "media", "images").glob(f"{image['id']}.png"))
    assert len(files) == 1
    with PILImage.open(files[0]) as png:
        assert isinstance(png, PngImageFile) and png.size == (128, 128)
        assert "Steps: 7" in png.text["parameters"]
    response = session.get(server.url + image["url"], timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/png"


def test_it_cancels_a_running_job_at_the_next_step(live_server_process):
    server = live_server_process
    session = login(server, "alice")
    job_id = submit_text_to_image(server, session, steps="100", width="512", height="512")
    with open_socket(server, session, f"/ws/jobs/{job_id}/") as socket:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            message = json.loads(socket.recv(timeout=60))
            if message["type"] == "progress" and message["step"] >= 2:
                break
        response = session.post(f"{server.url}/jobs/{job_id}/cancel/",
                                data={"csrfmiddlewaretoken": session.cookies["csrftoken"]}, timeout=10)
        assert response.status_code in (200, 302)
        last_step = 0
        while time.monotonic() < deadline:
            message = json.loads(socket.recv(timeout=60))
            if message["type"] == "progress":
                last_step = message["step"]
            if message["type"] == "status" and message["job"]["status"] in ("succeeded", "failed", "cancelled"):
                assert message["job"]["status"] == "cancelled"
                assert message["job"]["images"] == []
                break
        assert last_step < 100
    # The worker moves on: the next job runs.
    next_job = submit_text_to_image(server, session, steps="3")
    with open_socket(server, session, f"/ws/jobs/{next_job}/") as socket:
        while time.monotonic() < deadline + 60:
            message = json.loads(socket.recv(timeout=60))
            if message["type"] == "status" and message["job"]["status"] == "succeeded":
                break


def test_healthz_reports_database_channel_layer_workers_and_queue(live_server_process):
    health = live_server_process.health()
    assert health["status"] == "ok"
    assert health["database"] == "ok" and health["channelLayer"] == "ok"
    assert health["workersAlive"] == 1
    worker = health["workers"][0]
    assert worker["device"].startswith("cpu")
    assert "stepwise:1@1" in worker["loadedModels"]
    assert isinstance(health["queueDepth"], int)
