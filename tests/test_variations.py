"""Seed variations (variationSeed, variationStrength): the validator, the runner's seed rule, the PNG's
A1111 text, the create form, Reuse and the image page's Variations."""

import dataclasses
import io
import threading

import pytest
from django.urls import reverse
from PIL import Image as PILImage
from runware import types

from tests.conftest import PASSWORD
from tests.test_worker_faults import FakeEngine
from webapp.api.protocol import field_table
from webapp.jobs import queue
from webapp.jobs.services import job_create
from webapp.studio.fields import InvalidRequest
from webapp.studio.images import a1111_parameters
from webapp.studio.models import Job
from webapp.studio.schema import MAX_SEED, result_seeds, validate_inference


def request(**fields):
    return {"positivePrompt": "a red circle on a blue background", "model": "stepwise:1@1", "seed": 100, **fields}


def errors_of(payload, user, **kwargs):
    with pytest.raises(InvalidRequest) as caught:
        validate_inference(payload, user=user, **kwargs)
    return caught.value.by_field()


def test_a_strength_is_stored_with_its_variation_seed(alice, builtin_model):
    params = validate_inference(request(variationSeed=7, variationStrength=0.2), user=alice).params
    assert (params["seed"], params["variationSeed"], params["variationStrength"]) == (100, 7, 0.2)


def test_a_strength_without_a_variation_seed_draws_one(alice, builtin_model):
    params = validate_inference(request(variationStrength=0.3), user=alice).params
    assert 1 <= params["variationSeed"] < 2**31


def test_no_strength_means_no_variation(alice, builtin_model):
    params = validate_inference(request(variationStrength=0), user=alice).params
    assert "variationSeed" not in params and "variationStrength" not in params


@pytest.mark.parametrize(("fields", "field", "fragment"), [
    ({"variationSeed": 7}, "variationSeed", "no effect without a variationStrength"),
    ({"variationSeed": 7, "variationStrength": 0}, "variationSeed", "no effect"),
    ({"variationStrength": 1.5}, "variationStrength", "between 0 and 1"),
    ({"variationStrength": "much"}, "variationStrength", "number"),
    ({"variationSeed": 0, "variationStrength": 0.2}, "variationSeed", "between 1 and"),
    ({"variationSeed": MAX_SEED, "variationStrength": 0.2, "numberResults": 2}, "variationSeed", "too large"),
])
def test_bad_values_are_refused_by_name(alice, builtin_model, fields, field, fragment):
    assert fragment in errors_of(request(**fields), alice)[field]


def test_image_tasks_refuse_variations_by_name(alice, builtin_model):
    errors = errors_of(request(variationStrength=0.2, seedImage="x", strength=0.5), alice, task_type="imageToImage")
    assert "text to image only" in errors["variationStrength"]


def test_with_variations_every_result_keeps_the_seed_and_the_variation_seed_counts_up():
    plain = {"seed": 100}
    varied = {"seed": 100, "variationSeed": 7, "variationStrength": 0.2}
    assert [result_seeds(plain, k) for k in range(3)] == [(100, None), (101, None), (102, None)]
    assert [result_seeds(varied, k) for k in range(3)] == [(100, 7), (100, 8), (100, 9)]


def test_the_extension_fields_are_documented_as_stepwise_extensions():
    sdk = {f.name for f in dataclasses.fields(types.IImageInference)}
    for name in ("variationSeed", "variationStrength"):
        assert name not in sdk  # Runware has no such field: it is ours
        assert field_table.HONOURED[name].startswith("Stepwise extension")
    for name, note in field_table.HONOURED.items():
        # taskType is the SDK's own (it sets it); checkNSFW is the raw form of its checkNsfw InitVar.
        if name not in sdk and name not in ("taskType", "checkNSFW"):
            assert note.startswith("Stepwise extension"), name


def test_the_a1111_text_names_the_variation_like_a1111():
    params = {"positivePrompt": "a star", "steps": 20, "scheduler": "Euler", "CFGScale": 7, "width": 256,
              "height": 256, "model": "stepwise:1@1", "variationSeed": 7, "variationStrength": 0.15}
    text = a1111_parameters(params, seed=100, variation_seed=8, model_name="Shapes", steps_run=20)
    assert "Seed: 100," in text and "Variation seed: 8, Variation seed strength: 0.15," in text
    assert "Variation" not in a1111_parameters({**params, "variationStrength": 0}, seed=100, model_name="Shapes",
                                               steps_run=20)


class RecordingEngine(FakeEngine):
    def __init__(self):
        super().__init__(steps=1)
        self.inputs = []

    def generate(self, source, inputs, **kwargs):
        self.inputs.append(inputs)
        return super().generate(source, inputs, **kwargs)


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_the_runner_gives_each_image_the_next_variation_seed_and_records_it(alice, builtin_model):
    valid = validate_inference(request(numberResults=3, variationSeed=7, variationStrength=0.25, width=128,
                                       height=128, steps=4), user=alice)
    job = job_create(user=alice, valid=valid)
    engine = RecordingEngine()
    queue.job_process(job_id=str(job.id), engine=engine, shutdown=threading.Event())
    assert [(i.seed, i.variation_seed, i.variation_strength) for i in engine.inputs] == [
        (100, 7, 0.25), (100, 8, 0.25), (100, 9, 0.25)]
    job = Job.objects.get(id=job.id)
    last = job.images.get(index=2)
    assert last.seed == 100
    with last.file.open("rb") as handle:
        texts = PILImage.open(io.BytesIO(handle.read())).info
    assert "Variation seed: 9, Variation seed strength: 0.25" in texts["parameters"]
    assert '"variationSeed": 9' in texts["stepwise"]


# The create form, Reuse and the image page ------------------------------------------------------

@pytest.fixture
def alice_client(client, alice, builtin_model):
    client.login(username="alice", password=PASSWORD)
    return client


def _post(client, **fields):
    data = {"positivePrompt": "a lighthouse at dusk", "model": "stepwise:1@1", "steps": "20", "CFGScale": "7",
            "scheduler": "Euler", "numberResults": "2", "width": "256", "height": "256", "seed": "55", **fields}
    return client.post(reverse("create", args=["text-to-image"]), data)


def test_the_form_sends_variations_only_when_they_are_switched_on(alice_client):
    _post(alice_client, variationSeed="9", variationStrength="0.2")
    assert "variationSeed" not in Job.objects.latest("queued_at").params
    _post(alice_client, variations="1", variationSeed="9", variationStrength="0.2")
    params = Job.objects.latest("queued_at").params
    assert (params["seed"], params["variationSeed"], params["variationStrength"]) == (55, 9, 0.2)


def test_a_bad_variation_strength_is_named_in_the_forms_words(alice_client):
    response = _post(alice_client, variations="1", variationStrength="2")
    body = response.content.decode()
    assert response.status_code == 400
    assert 'id="variationStrength-error"' in body and "Variation strength must be" in body
    assert 'id="variations" name="variations" value="1" checked' in body


def _variation_image(make_image, owner, index):
    image = make_image(owner, prompt="a green triangle", seed=300)
    params = {**image.job.params, "numberResults": 3, "variationSeed": 40, "variationStrength": 0.2}
    Job.objects.filter(id=image.job_id).update(params=params, number_results=3)
    type(image).objects.filter(id=image.id).update(index=index)
    return image


def test_reuse_restores_the_images_own_variation_seed_and_strength(alice_client, alice, make_image):
    image = _variation_image(make_image, alice, index=2)
    body = alice_client.get(reverse("create", args=["text-to-image"]) + f"?reuse={image.id}").content.decode()
    assert 'id="variations" name="variations" value="1" checked' in body
    assert 'name="variationSeed" min="1" step="1" inputmode="numeric" placeholder="Random" value="42"' in body
    assert 'name="variationStrength" min="0" max="1" step="0.01" inputmode="decimal" value="0.2"' in body
    assert 'value="300"' in body  # the seed stays


def test_the_image_page_offers_variations_and_names_its_own(alice_client, alice, make_image):
    image = _variation_image(make_image, alice, index=1)
    body = alice_client.get(reverse("image_detail", args=[image.id])).content.decode()
    assert 'data-testid="variations-from-image"' in body
    assert "seed 41 · strength 0.2" in body
    assert "Variation seed: 41, Variation seed strength: 0.2" in body


def test_variations_from_an_image_keep_its_seed_and_ask_for_four_around_it(alice_client, alice, make_image):
    image = make_image(alice, prompt="a green triangle", seed=300)
    url = reverse("create", args=["text-to-image"]) + f"?reuse={image.id}&variations=1"
    body = alice_client.get(url).content.decode()
    assert 'value="300"' in body
    assert 'id="variations" name="variations" value="1" checked' in body
    assert 'placeholder="Random" value=""' in body  # a random variation seed
    assert 'name="numberResults" min="1" max="8" step="1" inputmode="numeric" value="4"' in body


def test_image_tasks_have_no_variations(alice_client, alice, make_image):
    image = make_image(alice, task_type="imageToImage")
    body = alice_client.get(reverse("create", args=["image-to-image"])).content.decode()
    assert 'id="variations"' not in body
    assert 'data-testid="variations-from-image"' not in alice_client.get(
        reverse("image_detail", args=[image.id])).content.decode()


def test_the_job_page_shows_the_variation_seeds_of_its_images(alice_client, alice):
    _post(alice_client, variations="1", variationSeed="9", variationStrength="0.2", numberResults="3")
    job = Job.objects.latest("queued_at")
    body = alice_client.get(reverse("job_detail", args=[job.id])).content.decode()
    assert "seed 9</span><span class=\"subtle small\"> – 11 (one per image)</span> · strength 0.2" in body
    assert "– 57 (one per image)" not in body  # the seed itself stays 55 for every image
