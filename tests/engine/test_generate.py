"""Generation end to end on tiny real pipelines: determinism, previews, cancellation, inpainting,
outpainting, single-file checkpoints and the errors the worker relies on."""

import itertools

import diffusers
import numpy as np
import pytest
import torch

from generation import engine as engine_module
from generation.engine import Engine, GenerationCancelled, ModelLoadError, ModelSource, OutOfMemory
from tests.engine.helpers import Recorder, center_mask, make_input, never, pattern_image
from tests.engine.ldm_export import export_sd15_single_file


def generate(engine, source, inp, should_cancel=never):
    recorder = Recorder()
    image = engine.generate(source, inp, on_step=recorder, should_cancel=should_cancel)
    return image, recorder


# -- Determinism --------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["sd15", "sdxl", "flux", "zimage"])
def test_the_same_input_gives_the_same_pixels(engine, source, family):
    first, _ = generate(engine, source(family), make_input(steps=2, seed=42))
    again, _ = generate(engine, source(family), make_input(steps=2, seed=42))
    other, _ = generate(engine, source(family), make_input(steps=2, seed=43))
    assert first.size == (64, 64)
    assert np.array_equal(np.asarray(first), np.asarray(again))
    assert not np.array_equal(np.asarray(first), np.asarray(other))


@pytest.mark.parametrize("scheduler", ["Euler a", "DPM++ SDE", "DPM++ 2M SDE", "KDPM2 a", "DDPM", "LCM"])
def test_stochastic_schedulers_are_reproducible_too(engine, source, scheduler):
    torch.manual_seed(1)  # whatever the global random state, the job seed decides
    first, _ = generate(engine, source("sd15"), make_input(steps=3, seed=11, scheduler=scheduler))
    torch.manual_seed(2)
    again, _ = generate(engine, source("sd15"), make_input(steps=3, seed=11, scheduler=scheduler))
    assert np.array_equal(np.asarray(first), np.asarray(again))


def test_a_fresh_engine_reproduces_an_image(engine, source):
    inp = make_input("imageToImage", steps=6, strength=0.5, seed=5, scheduler="Euler a")
    first, _ = generate(engine, source("sd15"), inp)
    again, _ = generate(Engine(device="cpu", cache_size=1), source("sd15"), inp)
    assert np.array_equal(np.asarray(first), np.asarray(again))


# -- Previews -----------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["sd15", "sdxl", "flux", "zimage"])
def test_every_step_brings_a_latent_resolution_rgb_preview(engine, source, family):
    # 96x64 (not square) so that a FLUX unpacking mix-up of height and width would show.
    _, recorder = generate(engine, source(family), make_input(steps=2, width=96, height=64))
    arrays = [np.asarray(preview) for _, _, preview in recorder.calls]  # projected only when read
    for preview in arrays:
        assert preview.dtype == np.uint8
        assert preview.shape == (64 // 8, 96 // 8, 3)
    assert arrays[-1].std() > 0  # not a flat image


def test_previews_follow_the_run(engine, source):
    _, recorder = generate(engine, source("sd15"), make_input(steps=4))
    previews = [preview for _, _, preview in recorder.calls]
    assert all(not np.array_equal(a, b) for a, b in itertools.pairwise(previews))


# -- Cancellation -------------------------------------------------------------------------------


@pytest.mark.parametrize("scheduler", ["Euler", "Heun"])
def test_cancelling_stops_after_the_current_step(engine, source, scheduler):
    recorder = Recorder()
    with pytest.raises(GenerationCancelled):
        engine.generate(source("sd15"), make_input(steps=6, scheduler=scheduler), on_step=recorder,
                        should_cancel=lambda: len(recorder.calls) >= 2)
    assert recorder.steps == [1, 2]

    # The cached pipeline is not left interrupted: the next job runs all its steps.
    _, after = generate(engine, source("sd15"), make_input(steps=3, scheduler=scheduler))
    assert after.steps == [1, 2, 3]


def test_a_job_cancelled_before_it_starts_runs_no_step(engine, source):
    recorder = Recorder()
    with pytest.raises(GenerationCancelled):
        engine.generate(source("sd15"), make_input(steps=3), on_step=recorder, should_cancel=lambda: True)
    assert recorder.calls == []


def test_cancelling_works_on_flow_matching_models(engine, source):
    recorder = Recorder()
    with pytest.raises(GenerationCancelled):
        engine.generate(source("flux"), make_input("imageToImage", steps=8, strength=1.0), on_step=recorder,
                        should_cancel=lambda: len(recorder.calls) >= 2)
    assert recorder.steps == [1, 2]


# -- Image tasks --------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["sd15", "sdxl", "flux", "zimage"])
def test_inpainting_keeps_the_unmasked_pixels(engine, source, family):
    inp = make_input("inpainting", steps=4, strength=1.0)
    image, _ = generate(engine, source(family), inp)

    result, original = np.asarray(image).astype(int), np.asarray(inp.seed_image).astype(int)
    keep = np.asarray(center_mask()) == 0
    assert image.size == (64, 64)
    assert np.array_equal(result[keep], original[keep])
    assert np.abs(result[~keep] - original[~keep]).mean() > 5  # the masked area was repainted


def test_image_tasks_resize_the_source_to_the_requested_size(engine, source):
    inp = make_input("imageToImage", steps=2, strength=0.5, width=64, height=64)
    inp.seed_image = pattern_image(100, 70)
    image, _ = generate(engine, source("sd15"), inp)
    assert image.size == (64, 64)


@pytest.mark.parametrize("family", ["sd15", "flux"])
def test_outpainting_extends_the_image_and_keeps_the_source(engine, source, family):
    outpaint = {"top": 64, "right": 0, "bottom": 0, "left": 64, "blur": 8}
    inp = make_input("outpainting", steps=3, strength=0.9, width=128, height=128, outpaint=outpaint)

    image, _ = generate(engine, source(family), inp)

    assert image.size == (128, 128)  # the source (64x64) plus the extensions
    result = np.asarray(image).astype(int)
    original = np.asarray(inp.seed_image).astype(int)
    # Beyond the blur band the source is pasted back exactly.
    assert np.array_equal(result[64 + 8:, 64 + 8:], original[8:, 8:])
    # The new area was painted, not left as the edge-stretched pre-fill.
    assert result[:64, :].std() > 0


# -- Single-file checkpoints --------------------------------------------------------------------


def test_a_single_file_checkpoint_loads_offline_with_a_local_config(engine, source, builtin_dir, tmp_path):
    checkpoint = export_sd15_single_file(builtin_dir, tmp_path / "tiny-sd15.safetensors")
    single = ModelSource(air="test:single@1", architecture="sd15", path=str(checkpoint),
                         config_path=str(builtin_dir))

    from_file, recorder = generate(engine, single, make_input(steps=3, seed=9))
    from_folder, _ = generate(engine, source("sd15"), make_input(steps=3, seed=9))

    assert recorder.steps == [1, 2, 3]
    assert np.array_equal(np.asarray(from_file), np.asarray(from_folder))


def test_a_single_file_checkpoint_without_a_local_config_fails_to_load_and_says_why(builtin_dir, tmp_path):
    checkpoint = export_sd15_single_file(builtin_dir, tmp_path / "tiny-sd15.safetensors")
    single = ModelSource(air="test:single@2", architecture="sd15", path=str(checkpoint))
    with pytest.raises(ModelLoadError, match="test:single@2"):
        Engine(device="cpu").load(single)


# -- Errors -------------------------------------------------------------------------------------


def test_a_missing_model_is_a_load_error(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        Engine(device="cpu").load(ModelSource(air="test:gone@1", architecture="sd15", path=str(tmp_path / "gone")))


def test_an_unknown_architecture_is_a_load_error(builtin_dir):
    with pytest.raises(ModelLoadError, match="'sd3'"):
        Engine(device="cpu").load(ModelSource(air="test:x@1", architecture="sd3", path=str(builtin_dir)))


def test_an_architecture_this_diffusers_lacks_is_a_load_error_naming_it(monkeypatch, source):
    # As with an older diffusers: the family's inpainting pipeline class does not exist.
    monkeypatch.setitem(engine_module.PIPELINES["zimage"], "inpaint", "ZImageInpaintPipelineFromTheFuture")
    with pytest.raises(ModelLoadError, match="Z-Image.*ZImageInpaintPipelineFromTheFuture"):
        Engine(device="cpu").load(source("zimage", air="test:zimage@2"))


def test_a_broken_model_folder_is_a_load_error_with_the_reason(tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "model_index.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="Could not load test:broken@1"):
        Engine(device="cpu").load(ModelSource(air="test:broken@1", architecture="sd15", path=str(tmp_path / "broken")))


def test_zero_effective_steps_are_refused(engine, source):
    with pytest.raises(ValueError, match="no denoising step"):
        generate(engine, source("sd15"), make_input("imageToImage", steps=10, strength=0.05))


def test_out_of_memory_frees_the_cache_and_advises(engine, source, monkeypatch):
    emptied = []

    def out_of_memory(self, *args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(diffusers.StableDiffusionPipeline, "__call__", out_of_memory)
    monkeypatch.setattr(engine_module, "_free_memory", lambda: emptied.append(True))

    with pytest.raises(OutOfMemory, match="smaller size or fewer images"):
        generate(engine, source("sd15"), make_input(steps=2))
    assert emptied


def test_the_device_is_described(engine):
    assert engine.device == "cpu"
    assert engine.describe_device().startswith("cpu (")
