"""Gallery speed with a big team history: the first page's server time with 10,000 images.

    .venv/bin/python bench/gallery.py [--images 10000] [--runs 30]

Uses a throwaway data dir (or DATABASE_URL when set). Target: first page under 300 ms of server
time, with a query count that does not grow with the number of images. Figures: docs/benchmarks.md.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("STEPWISE_DATA_DIR", tempfile.mkdtemp(prefix="stepwise-bench-gallery-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from webapp.studio.catalog import register_builtin  # noqa: E402
from webapp.studio.models import Image, Job  # noqa: E402
from webapp.studio.services import team_add_member  # noqa: E402

PROMPTS = ["a lighthouse at dusk", "isometric game tile, mossy ruins", "ceramic teapot, studio light",
           "portrait of a clockwork fox", "watercolor map of an archipelago", "sci-fi corridor, teal and orange"]


def populate(count: int) -> User:
    for alias in django.conf.settings.DATABASES:
        call_command("migrate", database=alias, verbosity=0)
    model, _ = register_builtin(Path("unused-by-this-benchmark"))
    users = []
    for name in ("alice", "bob", "dana", "eve"):
        user, _ = User.objects.get_or_create(username=name)
        team_add_member(team_name="Studio A", user=user)
        users.append(user)
    if Image.objects.count() >= count:
        return users[0]
    team = users[0].memberships.get().team
    now = timezone.now()
    batch = 1000
    for start in range(0, count, batch):
        jobs, images = [], []
        for i in range(start, min(count, start + batch)):
            owner = users[i % len(users)]
            params = {"taskType": "imageInference", "model": model.air, "positivePrompt": f"{PROMPTS[i % 6]} #{i}",
                      "steps": 30, "CFGScale": 7.0, "scheduler": "DPM++ 2M Karras", "seed": i + 1,
                      "numberResults": 1, "width": 512, "height": 512}
            job = Job(owner=owner, team=team, visibility="team" if i % 5 else "private", task_type="textToImage",
                      model=model, params=params, status="succeeded", step=30, total_steps=30, images_done=1,
                      finished_at=now)
            jobs.append(job)
            images.append(Image(job=job, owner=owner, team=team, visibility=job.visibility, seed=i + 1, width=512,
                                height=512, file=f"images/{job.id}.png", thumbnail=f"thumbs/{job.id}.webp"))
        Job.objects.bulk_create(jobs)
        Image.objects.bulk_create(images)
    return users[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    started = time.perf_counter()
    alice = populate(args.images)
    print(f"database: {connection.vendor}, {Image.objects.count()} images (set up in "
          f"{time.perf_counter() - started:.1f}s)")
    client = Client(HTTP_HOST="localhost")
    client.force_login(alice)
    medians = {}
    for label, url in [("first page", "/gallery/"), ("search 'teapot'", "/gallery/?q=teapot"),
                       ("mine, page 5", "/gallery/?scope=mine&page=5")]:
        client.get(url)  # warm caches and templates
        timings = []
        for _ in range(args.runs):
            began = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        timings.sort()
        p95 = timings[max(0, round(len(timings) * 0.95) - 1)]
        medians[label] = statistics.median(timings)
        print(f"{label:18} median {statistics.median(timings):6.1f} ms  p95 {p95:6.1f} ms  "
              f"queries {len(queries)}")
    print(f"gallery_first_page_median_ms={medians['first page']:.1f}")


if __name__ == "__main__":
    main()
