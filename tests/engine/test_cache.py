"""The pipeline cache: LRU by AIR id, and task switches that reuse the loaded weights."""

import diffusers
import pytest

from generation.engine import Engine, ModelSource
from tests.engine.helpers import Recorder, make_input, never


@pytest.fixture
def loads(monkeypatch):
    """Counts real model loads (StableDiffusionPipeline.from_pretrained calls)."""
    calls = []
    original = diffusers.StableDiffusionPipeline.from_pretrained.__func__

    def counting(cls, *args, **kwargs):
        calls.append(args[0])
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(diffusers.StableDiffusionPipeline, "from_pretrained", classmethod(counting))
    return calls


def builtin_as(builtin_dir, air):
    return ModelSource(air=air, architecture="sd15", path=str(builtin_dir))


def test_it_loads_once_and_then_hits_the_cache(builtin_dir, loads):
    engine = Engine(device="cpu", cache_size=2)
    a = builtin_as(builtin_dir, "test:a@1")

    first = engine.load(a)
    second = engine.load(a)

    assert len(loads) == 1
    assert engine.loaded_models() == ["test:a@1"]
    assert first > 0 and second < first


def test_it_evicts_the_least_recently_used_model(builtin_dir, loads):
    engine = Engine(device="cpu", cache_size=2)
    a, b, c = (builtin_as(builtin_dir, f"test:{name}@1") for name in "abc")

    engine.load(a)
    engine.load(b)
    engine.load(a)  # a is now the most recently used
    engine.load(c)  # evicts b

    assert engine.loaded_models() == ["test:a@1", "test:c@1"]
    engine.load(b)  # evicts a, and b is loaded again
    assert engine.loaded_models() == ["test:c@1", "test:b@1"]
    assert len(loads) == 4


def test_generating_uses_the_cache_too(builtin_dir, loads):
    engine = Engine(device="cpu", cache_size=1)
    a = builtin_as(builtin_dir, "test:a@1")
    engine.generate(a, make_input(steps=1), on_step=Recorder(), should_cancel=never)
    engine.generate(a, make_input(steps=1), on_step=Recorder(), should_cancel=never)
    assert len(loads) == 1


def test_switching_task_type_reuses_the_loaded_weights(builtin_dir, loads):
    engine = Engine(device="cpu", cache_size=2)
    a = builtin_as(builtin_dir, "test:a@1")
    for task_type in ("textToImage", "imageToImage", "inpainting", "outpainting", "textToImage"):
        outpaint = {"top": 0, "right": 64, "bottom": 0, "left": 0, "blur": 4} if task_type == "outpainting" else None
        engine.generate(a, make_input(task_type, steps=2, strength=0.5, outpaint=outpaint,
                                      width=128 if outpaint else 64), on_step=Recorder(), should_cancel=never)

    assert len(loads) == 1
    pipelines = engine._cache["test:a@1"]
    assert set(pipelines) == {"text", "image", "inpaint"}
    text = pipelines["text"]
    assert type(pipelines["image"]).__name__ == "StableDiffusionImg2ImgPipeline"
    assert type(pipelines["inpaint"]).__name__ == "StableDiffusionInpaintPipeline"
    for pipe in pipelines.values():
        assert pipe.unet is text.unet and pipe.vae is text.vae and pipe.text_encoder is text.text_encoder


def test_a_cache_size_below_one_is_refused():
    with pytest.raises(ValueError, match="cache_size"):
        Engine(device="cpu", cache_size=0)
