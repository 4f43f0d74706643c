import pytest
from django.urls import reverse

from tests.conftest import PASSWORD
from webapp.studio.access import active_team
from webapp.studio.models import Job


@pytest.fixture
def make_job(builtin_model):
    def make(owner, *, status="queued", visibility="team", steps=20, total=20, prompt="a lighthouse", **extra):
        params = {"taskType": "imageInference", "model": builtin_model.air, "positivePrompt": prompt, "steps": steps,
                  "CFGScale": 7.0, "scheduler": "Euler", "seed": 99, "numberResults": 1, "width": 512, "height": 512}
        params.update(extra.pop("params", {}))
        return Job.objects.create(owner=owner, team=active_team(owner), visibility=visibility, task_type="textToImage",
                                  model=builtin_model, params=params, status=status, total_steps=total, **extra)
    return make


def login(client, name):
    assert client.login(username=name, password=PASSWORD)
    return client


def test_it_requires_login(client, alice, make_job):
    job = make_job(alice)
    for url in (reverse("job_detail", args=[job.id]), reverse("job_list")):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_the_owner_sees_progress_hooks_and_a_cancel_button(client, alice, make_job):
    job = make_job(alice)
    body = login(client, "alice").get(reverse("job_detail", args=[job.id])).content.decode()
    assert 'data-testid="step-counter"' in body and "Step 0 of 20" in body
    assert 'data-testid="job-status"' in body
    assert 'data-testid="preview"' in body
    assert "1st in queue" in body
    assert reverse("job_cancel", args=[job.id]) in body
    assert 'id="job-data"' in body


def test_a_teammate_sees_a_team_job_but_cannot_cancel_it(client, alice, bob, make_job):
    job = make_job(alice)
    body = login(client, "bob").get(reverse("job_detail", args=[job.id])).content.decode()
    assert "Step 0 of 20" in body
    assert reverse("job_cancel", args=[job.id]) not in body
    assert client.post(reverse("job_cancel", args=[job.id])).status_code == 403
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED


def test_private_jobs_and_other_teams_are_not_found(client, alice, bob, charlie, make_job):
    team_job = make_job(alice)
    private_job = make_job(alice, visibility="private")
    login(client, "charlie")
    assert client.get(reverse("job_detail", args=[team_job.id])).status_code == 404
    assert client.post(reverse("job_cancel", args=[team_job.id])).status_code == 404
    login(client, "bob")
    assert client.get(reverse("job_detail", args=[private_job.id])).status_code == 404


def test_the_owner_cancels_a_queued_job(client, alice, make_job):
    job = make_job(alice)
    login(client, "alice")
    assert client.get(reverse("job_cancel", args=[job.id])).status_code == 405
    response = client.post(reverse("job_cancel", args=[job.id]))
    assert response.status_code == 302 and response.url == reverse("job_detail", args=[job.id])
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED


def test_cancelling_a_running_job_asks_the_worker_to_stop(client, alice, make_job):
    job = make_job(alice, status="running", step=5)
    login(client, "alice").post(reverse("job_cancel", args=[job.id]))
    job.refresh_from_db()
    assert job.cancel_requested and job.status == Job.Status.RUNNING


def test_a_finished_job_shows_results_seed_and_the_steps_that_ran(client, alice, make_image):
    image = make_image(alice, task_type="imageToImage", seed=31337)
    body = login(client, "alice").get(reverse("job_detail", args=[image.job_id])).content.decode()
    assert 'data-testid="result-image"' in body
    assert reverse("image_detail", args=[image.id]) in body
    assert "31337" in body
    assert "10 of 20 steps" in body  # steps 20 x strength 0.5


def test_a_failed_job_shows_its_error(client, alice, make_job):
    job = make_job(alice, status="failed", error="CUDA out of memory")
    body = login(client, "alice").get(reverse("job_detail", args=[job.id])).content.decode()
    assert "This job failed." in body and "CUDA out of memory" in body


def test_the_job_page_gives_the_documents_advice(client, alice, make_job):
    job = make_job(alice, steps=5, total=5)
    body = login(client, "alice").get(reverse("job_detail", args=[job.id])).content.decode()
    assert "is recommended at 10-30 steps; 5 is below its range." in body
    assert body.count("data-advice=") == 1


@pytest.mark.parametrize("steps,last_phase", [(4, "Polish"), (8, "Polish"), (30, "Polish"), (50, "Polish")])
def test_every_run_ends_in_the_final_phase_on_the_job_page_and_in_progress(client, alice, make_job, steps,
                                                                            last_phase):
    from webapp.studio import events

    job = make_job(alice, status="running", steps=steps, total=steps, step=steps)
    assert events.phase(job, 1)["name"] == "Composition"
    assert events.phase(job, steps)["name"] == last_phase
    assert events.job_snapshot(job)["phase"]["name"] == last_phase
    body = login(client, "alice").get(reverse("job_detail", args=[job.id])).content.decode()
    assert f'data-testid="phase-name">{last_phase}<' in body


def test_the_list_shows_only_my_jobs_with_their_queue_position(client, alice, bob, make_job):
    make_job(alice, prompt="alice waits")
    make_job(bob, prompt="bob waits")
    body = login(client, "bob").get(reverse("job_list")).content.decode()
    assert "bob waits" in body and "alice waits" not in body
    assert "2nd in queue" in body


def test_the_list_filters_by_status(client, alice, make_job):
    make_job(alice, prompt="still waiting")
    make_job(alice, prompt="went wrong", status="failed")
    body = login(client, "alice").get(reverse("job_list") + "?status=problems").content.decode()
    assert "went wrong" in body and "still waiting" not in body


def _finished(make_job, owner, *, device, gpu_seconds=3.5):
    import datetime

    from django.utils import timezone

    start = timezone.now() - datetime.timedelta(seconds=10)
    job = make_job(owner, status="succeeded", step=20, device=device, gpu_seconds=gpu_seconds,
                   started_at=start, finished_at=start + datetime.timedelta(seconds=4))
    Job.objects.filter(id=job.id).update(queued_at=start - datetime.timedelta(seconds=2))
    job.refresh_from_db()
    return job


def test_a_finished_jobs_snapshot_carries_its_timings_so_the_page_shows_them_without_a_reload(alice, make_job):
    from webapp.studio.events import job_snapshot

    snapshot = job_snapshot(_finished(make_job, alice, device="cuda:0"))
    timings = {t["label"]: t["seconds"] for t in snapshot["timings"]}
    assert timings["Waited in queue"] == pytest.approx(2.0)
    assert timings["Ran for"] == pytest.approx(4.0)
    assert timings["GPU time"] == 3.5
    # While a job runs there is nothing to time yet.
    assert job_snapshot(make_job(alice, status="running"))["timings"] == []


def test_gpu_time_shows_only_for_a_job_a_gpu_ran(client, alice, make_job):
    cpu_job = _finished(make_job, alice, device="cpu")
    gpu_job = _finished(make_job, alice, device="cuda:0")
    login(client, "alice")
    cpu_body = client.get(reverse("job_detail", args=[cpu_job.id])).content.decode()
    assert "Ran for" in cpu_body and "GPU time" not in cpu_body
    assert "GPU time" in client.get(reverse("job_detail", args=[gpu_job.id])).content.decode()


def test_claiming_a_job_records_the_device_that_runs_it(alice, make_job):
    from webapp.jobs.queue import job_claim

    job = make_job(alice)
    assert job_claim(job_id=job.id, worker_id="w1", device="cpu")
    job.refresh_from_db()
    assert (job.status, job.device) == ("running", "cpu")
