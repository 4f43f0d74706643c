"""Compare steps: one group of jobs (same request and seed, several step counts, optional scheduler
rows) on the ordinary queue and under the same limits; a labelled grid; the grid as one PNG."""

import io
import threading

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image as PILImage

from tests.conftest import PASSWORD
from webapp.jobs import queue
from webapp.jobs.services import comparison_create
from webapp.studio.fields import InvalidRequest
from webapp.studio.models import Comparison, Job, Upload
from webapp.studio.schema import read_comparison

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

REQUEST = {"positivePrompt": "a red circle on a blue background", "model": "stepwise:1@1", "width": 128,
           "height": 128, "scheduler": "Euler"}


class StepsEngine:
    """The engine's API at the edge: the image's brightness follows its step count."""

    def load(self, source):
        return 0.01

    def loaded_models(self):
        return []

    def generate(self, source, inputs, *, on_step, should_cancel, want_preview=None):
        from generation.steps import effective_steps

        total = effective_steps(architecture="sd15", task_type=inputs.task_type, steps=inputs.steps,
                                strength=inputs.strength or 1.0).steps
        for step in range(1, total + 1):
            on_step(step, total, np.zeros((8, 8, 3), dtype=np.uint8))
        return PILImage.new("RGB", (inputs.width, inputs.height), (inputs.steps * 4, 60, 90))


def run_all(comparison):
    for job in comparison.jobs.order_by("queued_at"):
        queue.job_process(job_id=str(job.id), engine=StepsEngine(), shutdown=threading.Event())


def test_the_step_counts_default_to_the_documents_and_each_error_names_its_field():
    assert read_comparison({}) == ([10, 20, 30, 50], None)
    assert read_comparison({"compareSteps": "30, 4, 8", "compareSchedulers": "Euler, UniPC"}) == (
        [4, 8, 30], ["Euler", "UniPC"])
    for bad, field in [({"compareSteps": "10, x"}, "compareSteps"), ({"compareSteps": "10"}, "compareSteps"),
                       ({"compareSteps": list(range(1, 10))}, "compareSteps"),
                       ({"compareSteps": "10, 10"}, "compareSteps"), ({"compareSteps": "0, 10"}, "compareSteps"),
                       ({"compareSchedulers": "a, b, c, d, e"}, "compareSchedulers")]:
        with pytest.raises(InvalidRequest) as refused:
            read_comparison(bad)
        assert [e.parameter for e in refused.value.errors] == [field]


def test_one_group_of_jobs_with_one_seed_and_scheduler_rows(alice, builtin_model):
    comparison = comparison_create(user=alice, payload={**REQUEST, "compareSteps": "10, 20",
                                                        "compareSchedulers": "Euler, DPM++ 2M Karras"})
    jobs = list(comparison.jobs.all())
    assert len(jobs) == 4
    assert {j.params["seed"] for j in jobs} == {comparison.seed}
    assert sorted((j.params["scheduler"], j.params["steps"]) for j in jobs) == [
        ("DPM++ 2M Karras", 10), ("DPM++ 2M Karras", 20), ("Euler", 10), ("Euler", 20)]
    assert all(j.status == Job.Status.QUEUED and j.number_results == 1 for j in jobs)


def test_a_bad_cell_or_the_queue_limit_refuses_the_whole_group(alice, builtin_model):
    with pytest.raises(InvalidRequest) as refused:
        comparison_create(user=alice, payload={**REQUEST, "compareSchedulers": "Euler, Nope"})
    assert refused.value.errors[0].parameter == "compareSchedulers"
    from webapp.studio.services import profile_for

    profile = profile_for(alice)
    profile.max_queued_jobs = 3
    profile.save()
    with pytest.raises(InvalidRequest) as refused:
        comparison_create(user=alice, payload=REQUEST)  # 4 jobs
    assert refused.value.errors[0].code == "tooManyQueuedJobs"
    assert not Job.objects.exists() and not Comparison.objects.exists()


def test_image_tasks_store_their_source_once_and_show_effective_steps(client, alice, make_image):
    source = make_image(alice, width=128, height=128)
    comparison = comparison_create(user=alice, task_type="imageToImage", payload={
        **REQUEST, "seedImage": str(source.id), "strength": 0.5, "compareSteps": [10, 30]})
    run_all(comparison)
    assert {j.params["seedImage"] for j in comparison.jobs.all()} == {str(source.id)}
    client.login(username="alice", password=PASSWORD)
    body = client.get(reverse("comparison_detail", args=[comparison.id])).content.decode()
    assert "5 of 10 steps ran" in body and "15 of 30 steps ran" in body


def test_the_grid_labels_each_cell_and_downloads_as_one_png(client, alice, bob, charlie, builtin_model):
    comparison = comparison_create(user=alice, payload={**REQUEST, "compareSteps": "10, 20, 50"})
    client.login(username="alice", password=PASSWORD)
    pending = client.get(reverse("comparison_detail", args=[comparison.id])).content.decode()
    assert "0 of 3 done" in pending and "data-pending" in pending
    run_all(comparison)
    body = client.get(reverse("comparison_detail", args=[comparison.id])).content.decode()
    assert "all 3 done" in body and "data-pending" not in body
    assert body.count('data-testid="compare-cell"') == 3
    assert "10 steps ran" in body and "50 steps ran" in body and "reference" in body
    assert "% from 50" in body and " s</span>" in body
    for job in comparison.jobs.all():
        assert reverse("image_detail", args=[job.images.get().id]) in body  # cells open as ordinary images
    job_page = client.get(reverse("job_detail", args=[job.id])).content.decode()
    assert reverse("comparison_detail", args=[comparison.id]) in job_page
    png = client.get(reverse("comparison_png", args=[comparison.id]))
    assert png["Content-Type"] == "image/png" and "attachment" in png["Content-Disposition"]
    grid = PILImage.open(io.BytesIO(png.content))
    assert grid.width > 3 * 256 and grid.height > 256
    client.login(username="bob", password=PASSWORD)
    assert client.get(reverse("comparison_detail", args=[comparison.id])).status_code == 200
    client.login(username="charlie", password=PASSWORD)
    assert client.get(reverse("comparison_detail", args=[comparison.id])).status_code == 404
    assert client.get(reverse("comparison_png", args=[comparison.id])).status_code == 404


def test_the_create_form_starts_a_comparison_and_names_bad_fields(client, alice, builtin_model):
    client.login(username="alice", password=PASSWORD)
    url = reverse("create", args=["text-to-image"])
    form = {**REQUEST, "steps": "20", "CFGScale": "4", "numberResults": "1", "compare": "1"}
    response = client.post(url, {**form, "compareSteps": "8, 16"})
    comparison = Comparison.objects.get()
    assert response.status_code == 302 and response.url == reverse("comparison_detail", args=[comparison.id])
    response = client.post(url, {**form, "compareSteps": "8, 8"})
    assert response.status_code == 400
    assert 'id="compareSteps-error"' in response.content.decode()
    assert Comparison.objects.count() == 1
    # From any image: the create form with its parameters and the comparison open
    assert Upload.objects.count() == 0
    body = client.get(url, {"compare": "1"}).content.decode()
    assert 'id="compare-panel" open' in body
