"""Nothing lost, nothing stuck: dead workers are replaced, their jobs requeued, and serve stops cleanly."""

import json
import os
import signal
import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tests.live import LiveStepwise
from tests.test_e2e_spine import login, open_socket, submit_text_to_image
from webapp.jobs.recovery import recover_stale_jobs
from webapp.jobs.services import job_create
from webapp.studio.models import Job, WorkerStatus
from webapp.studio.schema import validate_inference


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_a_killed_worker_is_replaced_its_job_requeued_and_serve_stops_cleanly(tmp_path):
    server = LiveStepwise(tmp_path / "reliability", workers=1)
    try:
        server.start()
        server.create_user("alice", "Studio A", admin=True)
        session = login(server, "alice")
        first_pid = server.health()["workers"][0]["pid"]

        # 1. A long job starts; the worker dies mid-job with SIGKILL.
        job_id = submit_text_to_image(server, session, steps="24", width="256", height="256")
        with open_socket(server, session, f"/ws/jobs/{job_id}/") as socket:
            statuses: list[str] = []
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                message = json.loads(socket.recv(timeout=60))
                if message["type"] == "progress" and message["step"] >= 2:
                    break
            os.kill(first_pid, signal.SIGKILL)

            # 2. Watchers are told it went back to the queue, then that it ran again to the end
            #    on the replacement worker that serve started.
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                message = json.loads(socket.recv(timeout=120))
                if message["type"] == "status":
                    status = message["job"]["status"]
                    if not statuses or statuses[-1] != status:
                        statuses.append(status)
                    if status in ("succeeded", "failed", "cancelled"):
                        break
        assert statuses[-1] == "succeeded", statuses
        assert "queued" in statuses and statuses.index("queued") < statuses.index("succeeded")
        health = server.health()
        live = [w for w in health["workers"] if w["alive"]]
        assert len(live) == 1 and live[0]["pid"] != first_pid
        assert not any(w["pid"] == first_pid for w in health["workers"])  # the stale row is gone

        # 3. SIGTERM to serve stops every child: no orphans.
        assert server.process is not None
        children = children_of(server.process.pid)
        assert len(children) >= 2  # the web server and the worker
    finally:
        server.stop()
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in children if alive(pid)] == []


def _running_job(user, worker_id, attempts):
    valid = validate_inference({"positivePrompt": "a fox", "model": "stepwise:1@1"}, user=user)
    job = job_create(user=user, valid=valid)
    Job.objects.filter(id=job.id).update(status="running", worker_id=worker_id, attempts=attempts,
                                         started_at=timezone.now() - timedelta(minutes=5))
    return Job.objects.get(id=job.id)


def test_a_job_lost_twice_fails_with_worker_lost(alice, builtin_model, django_capture_on_commit_callbacks):
    WorkerStatus.objects.create(worker_id="dead", hostname="h", pid=1, device="cpu",
                                last_heartbeat=timezone.now() - timedelta(minutes=5))
    first = _running_job(alice, "dead", attempts=1)
    second = _running_job(alice, "dead", attempts=2)
    with django_capture_on_commit_callbacks(execute=True):
        assert recover_stale_jobs() == 2
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == "queued" and first.worker_id == ""
    assert second.status == "failed" and "worker running this job was lost" in second.error
    assert not WorkerStatus.objects.filter(worker_id="dead").exists()
    # Running it again changes nothing: the recovery is idempotent.
    assert recover_stale_jobs() == 0


def test_jobs_of_live_workers_are_left_alone(alice, builtin_model):
    WorkerStatus.objects.create(worker_id="busy", hostname="h", pid=1, device="cpu", last_heartbeat=timezone.now())
    job = _running_job(alice, "busy", attempts=1)
    assert recover_stale_jobs() == 0
    job.refresh_from_db()
    assert job.status == "running"


@pytest.mark.slow
def test_a_restart_loses_no_queued_job_and_no_finished_image(tmp_path):
    server = LiveStepwise(tmp_path / "restart", workers=1)
    try:
        server.start()
        server.create_user("alice", "Studio A", admin=True)
        session = login(server, "alice")
        finished = submit_text_to_image(server, session, steps="2")
        with open_socket(server, session, f"/ws/jobs/{finished}/") as socket:
            message: dict[str, Any] = {}
            while not (message.get("type") == "status" and message["job"]["status"] == "succeeded"):
                message = json.loads(socket.recv(timeout=120))
        # Stop the workers' side of the world, queue work, then restart everything.
        server.restart(workers=0)
        session = login(server, "alice")
        waiting = [submit_text_to_image(server, session, steps="2", seed=str(i)) for i in (1, 2, 3)]
        server.restart(workers=1)
        session = login(server, "alice")
        for job_id in waiting:
            with open_socket(server, session, f"/ws/jobs/{job_id}/") as socket:
                status = None
                deadline = time.monotonic() + 180
                while status != "succeeded" and time.monotonic() < deadline:
                    message = json.loads(socket.recv(timeout=120))
                    if message["type"] == "status":
                        status = message["job"]["status"]
                assert status == "succeeded"
        image = session.get(f"{server.url}/jobs/{finished}/", timeout=10)
        assert image.status_code == 200
        with open_socket(server, session, f"/ws/jobs/{finished}/") as socket:
            snapshot = json.loads(socket.recv(timeout=10))["job"]
        assert snapshot["status"] == "succeeded"
        assert session.get(server.url + snapshot["images"][0]["url"], timeout=10).status_code == 200
    finally:
        server.stop()
