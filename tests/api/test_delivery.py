"""What a websocket session is owed (protocol/delivery.py), straight from the database."""

import uuid

from webapp.api.models import ApiTask
from webapp.api.protocol.delivery import mark_delivered, pending_deliveries
from webapp.api.services import api_key_create, session_open


def _task(owner, job, *, channel="chan-1"):
    key, _ = api_key_create(user=owner)
    session, _ = session_open(api_key=key, channel_name=channel)
    return ApiTask.objects.create(job=job, owner=owner, api_key=key, session=session, task_uuid=str(uuid.uuid4()),
                                  output_types=["URL"])


def _two_image_job(owner, make_image, *, status="succeeded"):
    from webapp.studio.models import Image

    first = make_image(owner)
    job = first.job
    job.number_results, job.status = 2, status
    job.save()
    Image.objects.create(job=job, owner=owner, seed=2, width=64, height=64, index=1, file=first.file.name)
    return job


def test_a_finished_job_is_owed_every_image_then_closes(alice, make_image):
    job = _two_image_job(alice, make_image)
    api_task = _task(alice, job)
    [delivery] = pending_deliveries(session_id=api_task.session_id, channel_name="chan-1", base_url="http://x")
    assert [m["data"][0]["seed"] for m in delivery.messages] == [1234, 2]
    assert delivery.closed
    mark_delivered(delivery)
    assert pending_deliveries(session_id=api_task.session_id, channel_name="chan-1", base_url="http://x") == []


def test_the_last_image_waits_for_the_job_to_finish(alice, make_image):
    job = _two_image_job(alice, make_image, status="running")
    api_task = _task(alice, job)
    [delivery] = pending_deliveries(session_id=api_task.session_id, channel_name="chan-1", base_url="http://x")
    assert len(delivery.messages) == 1 and not delivery.closed


def test_a_limit_holds_images_back_until_their_progress_was_passed_on(alice, make_image):
    job = _two_image_job(alice, make_image)
    api_task = _task(alice, job)
    kwargs = dict(session_id=api_task.session_id, channel_name="chan-1", base_url="http://x")
    [held] = pending_deliveries(**kwargs, limits={str(job.id): 1})
    assert len(held.messages) == 1 and held.delivered == 1 and not held.closed
    mark_delivered(held)
    [rest] = pending_deliveries(**kwargs, limits={str(job.id): 2})
    assert [m["data"][0]["seed"] for m in rest.messages] == [2] and rest.closed


def test_a_failed_jobs_error_comes_after_its_images(alice, make_image):
    job = _two_image_job(alice, make_image, status="failed")
    job.error = "out of memory"
    job.save()
    api_task = _task(alice, job)
    [delivery] = pending_deliveries(session_id=api_task.session_id, channel_name="chan-1", base_url="http://x")
    assert "data" in delivery.messages[0] and "data" in delivery.messages[1]
    assert delivery.messages[2]["errors"][0]["message"] == "out of memory" and delivery.closed


def test_only_the_connection_holding_the_session_delivers(alice, make_image):
    job = _two_image_job(alice, make_image)
    api_task = _task(alice, job, channel="chan-1")
    assert pending_deliveries(session_id=api_task.session_id, channel_name="chan-2", base_url="x") == []
