"""Property test: whatever arrives, the validator answers with field-named errors or a storable job.

Never an unexpected exception (which would be a 500), never a half-stored job or upload.
"""

import base64
import io
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage

from webapp.jobs.services import QueueFull, job_create
from webapp.studio.fields import InvalidRequest
from webapp.studio.models import Job, Upload
from webapp.studio.schema import validate_inference

FIELDS = ["positivePrompt", "negativePrompt", "model", "width", "height", "steps", "scheduler", "CFGScale", "seed",
          "numberResults", "seedImage", "maskImage", "strength", "outpaint", "outputType", "outputFormat",
          "outputQuality", "includeCost", "deliveryMethod", "taskUUID", "lora", "unknownField"]


def _png(width, height):
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), (40, 90, 200)).save(out, format="PNG")
    return out.getvalue()


GOOD_PNG = base64.b64encode(_png(128, 128)).decode()
TRUNCATED_PNG = base64.b64encode(_png(128, 128)[:80]).decode()
# A small file that claims an enormous canvas: the classic decompression bomb.
# The IHDR's 128 x 128 becomes 65535 x 65535.
BOMB = base64.b64encode(
    _png(128, 128).replace(b"\x00\x00\x00\x80\x00\x00\x00\x80", b"\x00\x00\xff\xff\x00\x00\xff\xff", 1)
).decode()

json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
)
json_values = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
adversarial = st.sampled_from([
    "x" * 1_000_000, -64, 0, 2**63, 10**30, math.nan, math.inf, "", " ", "null", "DPM++ 2M Karras",
    "stepwise:1@1", "data:image/png;base64,%%%", GOOD_PNG, TRUNCATED_PNG, BOMB, "data:image/png;base64," + GOOD_PNG,
    {"top": 64, "left": 64, "blur": 4}, {"top": 63}, {"top": "64"}, [[[[[[[[[[[]]]]]]]]]]], 128, 512, 0.5, 1.0, 20,
])
payloads = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), st.one_of(json_values, adversarial), max_size=10),
    json_values,
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow, HealthCheck.data_too_large])
@given(payload=payloads, task_type=st.sampled_from([None, "textToImage", "imageToImage", "inpainting", "outpainting"]))
def test_any_payload_gets_named_errors_or_a_whole_job(alice, builtin_model, payload, task_type):
    jobs, uploads = Job.objects.count(), Upload.objects.count()
    try:
        valid = validate_inference(payload, user=alice, task_type=task_type)
    except InvalidRequest as refused:
        assert refused.errors
        for error in refused.errors:
            assert error.parameter and isinstance(error.parameter, str)
            assert error.message and len(error.message) < 2000
        assert (Job.objects.count(), Upload.objects.count()) == (jobs, uploads)
        return
    try:
        job = job_create(user=alice, valid=valid)
    except QueueFull:
        return
    assert Job.objects.count() == jobs + 1
    assert job.total_steps == valid.plan.steps >= 1
    Job.objects.filter(id=job.id).delete()  # keep the per-user queue limit out of the way
