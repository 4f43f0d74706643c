"""Property test for POST /v1: whatever arrives, a JSON reply in Runware's shape, never a 500, never
a job without its API record."""

import json
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_schema_fuzz import adversarial, json_values

TASK_TYPES = ["imageInference", "imageUpload", "modelSearch", "getResponse", "ping", "authentication",
              "videoInference", "", None, 7]
FIELDS = ["positivePrompt", "model", "width", "height", "steps", "numberResults", "seedImage",
          "outputType", "outputFormat", "deliveryMethod", "includeProgress", "image", "search", "limit", "offset",
          "tags", "architecture", "apiKey", "connectionSessionUUID", "lora"]

good_uuid = st.builds(lambda: str(uuid.uuid4()))
tasks = st.fixed_dictionaries(
    {"taskType": st.sampled_from(TASK_TYPES), "taskUUID": st.one_of(good_uuid, json_values)},
    optional={name: st.one_of(json_values, adversarial) for name in FIELDS},
)
bodies = st.one_of(
    st.lists(st.one_of(tasks, json_values), min_size=0, max_size=4).map(json.dumps),
    json_values.map(lambda v: json.dumps(v)),
    st.text(max_size=60),
    st.just("[" * 100_000),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow, HealthCheck.data_too_large])
@given(body=bodies)
def test_any_body_gets_a_runware_shaped_reply(client, alice_key, builtin_model, settings, body):
    from webapp.studio.models import Job

    settings.STEPWISE_API_SYNC_TIMEOUT = 0  # no worker runs here: sync tasks answer "timeout" at once

    response = client.post("/v1", data=body, content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {alice_key}")
    assert response.status_code in (200, 400, 401), response.content[:500]
    reply = response.json()
    assert set(reply) <= {"data", "errors"} and reply
    for error in reply.get("errors", []):
        assert isinstance(error["code"], str) and isinstance(error["message"], str)
    for item in reply.get("data", []):
        assert isinstance(item["taskType"], str)
    # Every stored job has its API record (nothing half-stored).
    assert not Job.objects.filter(api_task__isnull=True).exists()
