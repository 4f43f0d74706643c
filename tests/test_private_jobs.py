"""Private means private: a job whose images are all private shows teammates nothing of it.

Before the fix, making every image of a job private hid the images but not the job: bob still saw
its prompt and parameters on the job page, could reuse them, and could watch it on a websocket.
"""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD
from webapp.asgi import application
from webapp.studio import access
from webapp.studio.models import Image
from webapp.studio.services import image_set_visibility

PROMPT = "a secret lighthouse at dusk"


def logged_in(client, name):
    client.login(username=name, password=PASSWORD)
    return client


def make_private(image):
    image_set_visibility(image=image, visibility="private")


def test_teammates_see_nothing_of_a_job_whose_images_are_all_private(client, alice, bob, make_image):
    image = make_image(alice, visibility="team", prompt=PROMPT)
    job = image.job
    logged_in(client, "bob")
    assert client.get(reverse("job_detail", args=[job.id])).status_code == 200
    make_private(image)
    assert client.get(reverse("job_detail", args=[job.id])).status_code == 404
    assert PROMPT not in client.get(reverse("job_list")).content.decode()
    reuse = client.get(reverse("create", args=["text-to-image"]) + f"?reuse={job.id}").content.decode()
    assert PROMPT not in reuse and "not available to you" in reuse
    assert not access.jobs_visible_to(bob).filter(id=job.id).exists()
    # alice still sees all of it
    assert PROMPT in logged_in(Client(), "alice").get(reverse("job_detail", args=[job.id])).content.decode()


def test_a_mixed_job_shows_teammates_only_its_shared_images(client, alice, bob, make_image):
    shared = make_image(alice, visibility="team", prompt=PROMPT)
    job = shared.job
    private = Image.objects.create(job=job, owner=alice, team=job.team, visibility="private", index=1, seed=2,
                                   width=64, height=64, file=shared.file.name)
    body = logged_in(client, "bob").get(reverse("job_detail", args=[job.id])).content.decode()
    assert str(shared.id) in body and str(private.id) not in body


def test_a_queued_team_job_is_visible_to_teammates(client, alice, bob, builtin_model):
    from webapp.jobs.services import job_create
    from webapp.studio.schema import validate_inference

    job = job_create(user=alice, valid=validate_inference(
        {"positivePrompt": PROMPT, "model": "stepwise:1@1"}, user=alice), visibility="team")
    assert logged_in(client, "bob").get(reverse("job_detail", args=[job.id])).status_code == 200


def _headers(user):
    client = Client()
    client.force_login(user)
    return [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()), (b"origin", b"http://localhost")]


@pytest.fixture
def fresh_channel_layer():
    """A channel layer bound to this test's event loop (Redis connections are per loop)."""
    from channels.layers import channel_layers

    channel_layers.backends = {}
    yield
    channel_layers.backends = {}


@pytest.mark.django_db(transaction=True, databases="__all__")
@pytest.mark.usefixtures("fresh_channel_layer")
async def test_the_websocket_refuses_and_then_drops_teammates(alice, bob, make_image):
    image = await sync_to_async(make_image)(alice, visibility="team", prompt=PROMPT)
    job_id = await sync_to_async(lambda: image.job_id)()
    headers = await sync_to_async(_headers)(bob)
    communicator = WebsocketCommunicator(application, f"/ws/jobs/{job_id}/", headers=headers)
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    snapshot = await communicator.receive_json_from(timeout=5)
    assert [i["id"] for i in snapshot["job"]["images"]] == [str(image.id)]
    # alice makes the only image private: bob's open socket is closed, not fed further updates.
    await sync_to_async(make_private)(image)
    output = await communicator.receive_output(timeout=5)
    assert output["type"] == "websocket.close" and output.get("code") == 4403
    await communicator.wait()
    # and a new socket is refused
    communicator = WebsocketCommunicator(application, f"/ws/jobs/{job_id}/", headers=headers)
    connected, _ = await communicator.connect(timeout=10)
    assert not connected
