"""Two worker processes share one queue: every job runs exactly once, every watcher gets its own steps.

Runs in both configurations: on SQLite + channels-lite, and (in the second CI run) on PostgreSQL +
channels_redis, where the workers claim with SELECT ... FOR UPDATE SKIP LOCKED.
"""

import asyncio
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from websockets.asyncio.client import connect

from tests.live import ROOT, LiveStepwise
from tests.test_e2e_spine import login, submit_text_to_image

pytestmark = pytest.mark.slow


async def watch(server, session, job_id, snapshot: asyncio.Event, timeout=300):
    """Collect one job's events until it finishes; set `snapshot` once the first (the snapshot) arrives."""
    cookies = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
    events = []
    async with connect(f"{server.ws_url}/ws/jobs/{job_id}/",
                       additional_headers={"Cookie": cookies, "Origin": server.url}) as socket:
        async with asyncio.timeout(timeout):
            async for raw in socket:
                message = json.loads(raw)
                events.append(message)
                snapshot.set()
                if message["type"] == "status" and message["job"]["status"] in ("succeeded", "failed", "cancelled"):
                    return events
    return events


def test_two_workers_run_twenty_jobs_from_three_users_exactly_once(tmp_path):
    server = LiveStepwise(tmp_path / "scale", workers=0)
    workers = []
    try:
        server.start()
        for name, team in (("alice", "Studio A"), ("bob", "Studio A"), ("charlie", "Studio B")):
            server.create_user(name, team)
        sessions = {name: login(server, name) for name in ("alice", "bob", "charlie")}
        owners = ["alice", "bob", "charlie"] * 7
        jobs = [(owner, submit_text_to_image(server, sessions[owner], steps=str(2 + i % 3), seed=str(100 + i)))
                for i, owner in enumerate(owners[:20])]
        assert len({job_id for _, job_id in jobs}) == 20

        async def run():
            snapshots = [asyncio.Event() for _ in jobs]
            watchers = [asyncio.create_task(watch(server, sessions[owner], job_id, snapshot))
                        for (owner, job_id), snapshot in zip(jobs, snapshots, strict=True)]
            # Every watcher has its snapshot before any job starts, so it sees every step.
            async with asyncio.timeout(60):
                await asyncio.gather(*(snapshot.wait() for snapshot in snapshots))
            for _ in range(2):
                workers.append(subprocess.Popen(
                    [sys.executable, str(ROOT / "manage.py"), "generation_worker", "--no-warmup"],
                    cwd=ROOT, env=server.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                ))
            return await asyncio.gather(*watchers)

        # In a thread of its own: Playwright's sync API may already run an event loop in this one.
        with ThreadPoolExecutor(max_workers=1) as pool:
            results = pool.submit(asyncio.run, run()).result()
        for (owner, job_id), events in zip(jobs, results, strict=True):
            final = events[-1]["job"]
            assert final["status"] == "succeeded", (owner, final["error"])
            assert len(final["images"]) == 1
            steps = [step for e in events if e["type"] == "progress" for step in e["steps"]]
            # Every step event of this job, in order, and nothing from anybody else's jobs.
            assert steps == list(range(1, final["totalSteps"] + 1)), (job_id, steps)
            assert {e["job"] for e in events if e["type"] == "progress"} == {job_id}
            running = [e for e in events if e["type"] == "status" and e["job"]["status"] == "running"]
            assert len({e["job"]["startedAt"] for e in running}) == 1  # it ran exactly once

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done = [w["jobsDone"] for w in server.health()["workers"] if w["alive"]]
            if sum(done) == 20:
                break
            time.sleep(1)
        assert len(done) == 2 and sum(done) == 20 and min(done) > 0, done
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
        server.stop()
