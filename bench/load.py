"""Load: many watchers, a burst of jobs, and the pages people use meanwhile.

    .venv/bin/python bench/load.py [--watchers 100] [--jobs 200] [--workers 2]

Starts a real Stepwise (`manage.py serve`) on a throwaway data dir (PostgreSQL/Redis when
DATABASE_URL/REDIS_URL are set), on this machine's loopback only, and:

1. 100 websocket watchers on one job: each must receive every step event.
2. 200 jobs submitted at once by 4 users with a per-user limit of 40 waiting jobs: each is either
   accepted or refused with the limit's message, and every accepted job finishes.
3. Meanwhile the gallery and the create form are fetched continuously: p50/p95 latency.

Every loop is bounded in count and time. Figures: docs/benchmarks.md.
"""

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from tests.live import PASSWORD, ROOT, LiveStepwise  # noqa: E402

USERS = ["alice", "bob", "dana", "eve"]
LIMIT = 40


def login(server, username):
    session = requests.Session()
    session.get(f"{server.url}/login/", timeout=30)
    session.post(f"{server.url}/login/", data={"username": username, "password": PASSWORD,
                                               "csrfmiddlewaretoken": session.cookies["csrftoken"]}, timeout=30)
    return session


def submit(server, session, steps=2, size=128):
    data = {"positivePrompt": "a lighthouse at dusk", "model": "stepwise:1@1", "width": size, "height": size,
            "steps": steps, "CFGScale": 7, "scheduler": "Euler", "numberResults": 1,
            "csrfmiddlewaretoken": session.cookies["csrftoken"]}
    response = session.post(f"{server.url}/create/text-to-image/", data=data, allow_redirects=False, timeout=60)
    if response.status_code == 302:
        return response.headers["Location"].rstrip("/").rsplit("/", 1)[-1], None
    return None, response


async def watch(server, session, job_id, timeout):
    cookies = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
    steps = []
    async with connect(f"{server.ws_url}/ws/jobs/{job_id}/", open_timeout=60,
                       additional_headers={"Cookie": cookies, "Origin": server.url}) as socket:
        async with asyncio.timeout(timeout):
            async for raw in socket:
                message = json.loads(raw)
                if message["type"] == "progress":
                    steps.append(message["step"])
                elif message["type"] == "status" and message["job"]["status"] in ("succeeded", "failed"):
                    return steps, message["job"]["status"]
    return steps, "timeout"


def start_worker(server):
    return subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "generation_worker", "--no-warmup"], cwd=ROOT,
                            env=server.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def percentile(values, q):
    values = sorted(values)
    return values[max(0, round(len(values) * q) - 1)] if values else float("nan")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--watchers", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20, help="steps of the watched job")
    args = parser.parse_args()

    server = LiveStepwise(Path(tempfile.mkdtemp(prefix="stepwise-bench-load-")), workers=0,
                          extra_env={"STEPWISE_MAX_QUEUED_PER_USER": str(LIMIT)})
    workers = []
    try:
        server.start()
        for name in USERS:
            server.create_user(name, "Studio A")
        sessions = {name: login(server, name) for name in USERS}
        print(f"server up at {server.url} ({'PostgreSQL' if 'DATABASE_URL' in server.env else 'SQLite'}); "
              f"{args.workers} worker(s)")

        # 1. Watchers: all connected before the job starts, then a worker starts.
        job_id, _ = submit(server, sessions["alice"], steps=args.steps)

        async def watchers():
            tasks = [asyncio.create_task(watch(server, sessions["alice"], job_id, 300)) for _ in range(args.watchers)]
            await asyncio.sleep(5)
            workers.append(start_worker(server))
            return await asyncio.gather(*tasks)

        results = asyncio.run(watchers())
        complete = sum(1 for steps, status in results if steps == list(range(1, args.steps + 1)) and
                       status == "succeeded")
        print(f"1. {args.watchers} watchers of one {args.steps}-step job: {complete} received every step event")

        for _ in range(args.workers - 1):
            workers.append(start_worker(server))

        # 2 + 3. A burst of jobs while people browse.
        latencies: dict[str, list[float]] = {"gallery": [], "create form": []}
        stop = threading.Event()

        def browse():
            session = login(server, "bob")
            while not stop.is_set():
                for label, path in (("gallery", "/gallery/"), ("create form", "/create/text-to-image/")):
                    started = time.perf_counter()
                    assert session.get(server.url + path, timeout=60).status_code == 200
                    latencies[label].append((time.perf_counter() - started) * 1000)
                time.sleep(0.2)

        browser = threading.Thread(target=browse, daemon=True)
        browser.start()
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=16) as pool:
            outcomes = list(pool.map(lambda i: submit(server, sessions[USERS[i % len(USERS)]]), range(args.jobs)))
        submit_seconds = time.perf_counter() - started
        accepted = [job for job, _ in outcomes if job]
        refused = [response for job, response in outcomes if not job]
        clear = sum(1 for r in refused if r.status_code == 400 and "waiting (the limit is" in r.text)
        print(f"2. {args.jobs} jobs submitted in {submit_seconds:.1f}s: {len(accepted)} accepted, {len(refused)} "
              f"refused ({clear} with the per-user limit's message)")

        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            health = server.health()
            if health["queueDepth"] == 0 and health["running"] == 0:
                break
            time.sleep(2)
        finish_seconds = time.perf_counter() - started
        stop.set()
        browser.join(timeout=60)
        succeeded = int(server.manage("shell", "-c", "from webapp.studio.models import Job; "
                                      "print(Job.objects.filter(status='succeeded').count())"
                                      ).stdout.split()[-1]) - 1  # minus the watched job
        print(f"   accepted jobs done after {finish_seconds:.1f}s: {succeeded} of {len(accepted)} succeeded")
        for label, values in latencies.items():
            print(f"3. {label:12} while loaded: {len(values)} requests, p50 {statistics.median(values):.0f} ms, "
                  f"p95 {percentile(values, 0.95):.0f} ms")
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)
        server.stop()


if __name__ == "__main__":
    main()
