"""safety.checkContent / checkNSFW with a content checker installed: a tiny one built here, whose
answer the test controls, run by the real job runner (fake engine for the generation only)."""

import base64
import io

import pytest
from PIL import Image as PILImage

from tests.api.conftest import WS_DB
from tests.api.test_http import post, t2i, task_uuid
from tests.engine.helpers import pattern_image


@pytest.fixture(scope="module")
def checker_folders(tmp_path_factory):
    from generation.builtin.tiny import build_tiny_content_checker

    root = tmp_path_factory.mktemp("checkers")
    return {flags: str(build_tiny_content_checker(root / str(flags), flags_everything=flags))
            for flags in (True, False)}


@pytest.fixture
def install(checker_folders, db):
    def _install(*, flags_everything):
        from webapp.studio.models import ContentChecker

        return ContentChecker.objects.create(name="tiny", path=checker_folders[flags_everything])
    return _install


@pytest.fixture
def patterned(fake_engine, monkeypatch):
    """The fake engine paints structure (not a flat colour), so a blur is visible."""
    original = fake_engine.generate

    def generate(source, inp, **kwargs):
        original(source, inp, **kwargs)
        return pattern_image(inp.width, inp.height, seed=inp.seed)

    monkeypatch.setattr(fake_engine, "generate", generate)
    return fake_engine


def test_without_a_checker_a_content_check_is_refused_by_name(client, alice_key, builtin_model):
    for fields, name in (({"checkNSFW": True}, "checkNSFW"), ({"safety": {"checkContent": True}}, "safety")):
        error = post(client, [t2i(**fields)], key=alice_key).json()["errors"][0]
        assert error["parameter"] == name and error["code"] == "unsupportedParameter"
        assert "no content checker is installed" in error["message"]


def test_the_create_form_offers_no_content_check(client, alice, builtin_model):
    from tests.conftest import PASSWORD

    assert client.login(username="alice", password=PASSWORD)
    page = client.get("/create/text-to-image/").content.decode()
    assert "checkNSFW" not in page and "checkContent" not in page


def test_what_the_checker_cannot_do_is_refused(client, alice_key, builtin_model, install):
    install(flags_everything=False)
    error = post(client, [t2i(safety={"checkContent": True, "checkInputs": True})], key=alice_key).json()["errors"][0]
    assert error["parameter"] == "safety" and error["code"] == "unsupportedParameter"
    error = post(client, [t2i(safety={"checkContent": True, "mode": "sometimes"})], key=alice_key).json()["errors"][0]
    assert error["parameter"] == "safety" and "flag, blur, withhold" in error["message"]


@WS_DB
@pytest.mark.parametrize("flags_everything", [False, True])
def test_each_result_says_what_the_checker_found(client, alice_key, builtin_model, worker_threads, install,
                                                flags_everything):
    install(flags_everything=flags_everything)
    items = post(client, [t2i(checkNSFW=True, numberResults=2)], key=alice_key).json()["data"]
    assert [i["NSFWContent"] for i in items] == [flags_everything] * 2
    # Without the request asking, there is no NSFWContent at all (nothing was checked).
    assert "NSFWContent" not in post(client, [t2i()], key=alice_key).json()["data"][0]


@WS_DB
def test_blur_mode_blurs_a_flagged_image(client, alice_key, builtin_model, worker_threads, install, patterned):
    install(flags_everything=True)
    flagged = post(client, [t2i(seed=3, outputFormat="PNG", outputType="base64Data",
                                safety={"checkContent": True, "mode": "blur"})], key=alice_key).json()["data"][0]
    assert flagged["NSFWContent"] is True
    received = PILImage.open(io.BytesIO(base64.b64decode(flagged["imageBase64Data"]))).convert("RGB")
    original = pattern_image(128, 128, seed=3)
    assert received.tobytes() != original.tobytes()

    def roughness(im):
        import numpy as np

        pixels = np.asarray(im.convert("L"), dtype=float)
        return float(np.abs(np.diff(pixels, axis=1)).mean())
    assert roughness(received) < roughness(original) / 3


@WS_DB
def test_withhold_mode_fails_the_task_and_keeps_the_image_back(client, alice_key, builtin_model, worker_threads,
                                                               install):
    from webapp.studio.models import Image

    install(flags_everything=True)
    tid = task_uuid()
    body = post(client, [t2i(taskUUID=tid, safety={"checkContent": True, "mode": "withhold"})], key=alice_key).json()
    error = body["errors"][0]
    assert error["code"] == "sensitiveContentDetected" and error["parameter"] == "safety" and error["taskUUID"] == tid
    assert "data" not in body or body["data"] == []
    assert Image.objects.count() == 0
