"""The latent -> RGB preview projection."""

import numpy as np
import pytest
import torch

from generation.previews import FLUX_FACTORS, SD15_FACTORS, SDXL_BIAS, LatentPreviewer, latent_preview


def test_it_projects_each_channel_with_comfyuis_factors():
    latents = torch.zeros(1, 4, 2, 3)
    latents[0, 0] = 1.0  # only the first channel: RGB = its factor row
    preview = LatentPreviewer("sd15", height=16, width=24)(latents)
    expected = np.clip((1.0 + np.array(SD15_FACTORS[0])) * 127.5, 0, 255).astype(np.uint8)
    assert preview.shape == (2, 3, 3) and preview.dtype == np.uint8
    assert (preview == expected).all()


def test_sdxl_adds_its_bias():
    preview = LatentPreviewer("sdxl", height=16, width=16)(torch.zeros(1, 4, 2, 2))
    expected = np.clip((1.0 + np.array(SDXL_BIAS)) * 127.5, 0, 255).astype(np.uint8)
    assert (preview == expected).all()


def test_packed_flux_latents_preview_as_their_unpacked_image():
    from diffusers import FluxPipeline

    latents = torch.randn(1, 16, 6, 10)  # a 48x80 px image at 8x: not square, so a mix-up would show
    packed = FluxPipeline._pack_latents(latents, 1, 16, 6, 10)
    assert torch.equal(FluxPipeline._unpack_latents(packed, 48, 80, 8), latents)

    from_packed = latent_preview(packed, "flux", height=48, width=80)
    from_unpacked = latent_preview(latents, "flux", height=48, width=80)
    assert from_packed.shape == (6, 10, 3)
    assert np.abs(from_packed.astype(int) - from_unpacked.astype(int)).max() <= 1  # float rounding


@pytest.mark.parametrize("family", ["flux", "zimage"])
def test_flux_and_zimage_share_the_16_channel_format(family):
    latents = torch.zeros(1, 16, 4, 4)
    latents[0, 6] = 1.0
    previewer = LatentPreviewer(family, height=32, width=32)
    packed = latents.view(1, 16, 2, 2, 2, 2).permute(0, 2, 4, 1, 3, 5).reshape(1, 4, 64)
    preview = previewer(packed if family == "flux" else latents)
    assert preview.shape == (4, 4, 3)
    bias = np.array([-0.0329, -0.0718, -0.0851])
    expected = np.clip((1.0 + np.array(FLUX_FACTORS[6]) + bias) * 127.5, 0, 255).astype(np.uint8)
    assert (preview == expected).all()


def test_only_the_first_image_of_a_batch_is_previewed():
    latents = torch.zeros(2, 4, 2, 2)
    latents[1] = 5.0
    assert (LatentPreviewer("sd15", height=16, width=16)(latents) == 127).all()


def test_the_engine_projects_a_preview_only_while_one_is_wanted(engine, source):
    from tests.engine.helpers import Recorder, make_input, never

    wanted = iter([False, True, False, True])  # nobody watches, somebody connects, ...
    recorder = Recorder()
    engine.generate(source("sd15"), make_input(steps=4), on_step=recorder, should_cancel=never,
                    want_preview=lambda: next(wanted))
    assert recorder.steps == [1, 2, 3, 4]  # every step is reported either way
    assert [preview is not None for _, _, preview in recorder.calls] == [False, True, False, True]
    assert np.asarray(recorder.calls[1][2]).shape == (8, 8, 3)  # 64x64 pixels: an 8x8 latent preview


def test_a_pending_preview_is_its_steps_latents_projected_when_read():
    previewer = LatentPreviewer("sd15", height=16, width=16)
    latents = torch.randn(2, 4, 2, 2)
    expected = previewer(latents)
    pending = previewer.pending(latents)
    latents.zero_()  # whatever happens to the pipeline's tensor after the step
    assert np.asarray(pending).dtype == np.uint8
    assert (np.asarray(pending) == expected).all()


@pytest.mark.parametrize("family,channels", [("sd15", 4), ("sdxl", 4), ("flux", 16)])
def test_on_the_cpu_it_is_the_same_projection_as_torchs(family, channels):
    # On the CPU the projection runs in numpy (a torch op on the publisher's thread would start a
    # second OpenMP team beside the denoising one): it must give what the device path computes.
    previewer = LatentPreviewer(family, height=40, width=56)
    latents = torch.randn(1, channels, 5, 7) * 2
    projected = torch.einsum("chw,cr->hwr", latents[0], previewer.factors)
    reference = ((projected + previewer.bias + 1.0) * 127.5).clamp(0, 255).to(torch.uint8).numpy()
    preview = previewer(latents)
    assert preview.shape == (5, 7, 3) and preview.dtype == np.uint8
    assert np.abs(preview.astype(int) - reference.astype(int)).max() <= 1  # float rounding


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_a_pending_preview_of_half_precision_latents_reads_as_the_float_ones(dtype):
    previewer = LatentPreviewer("sd15", height=16, width=16)
    latents = torch.randn(1, 4, 2, 2).to(dtype)
    assert (np.asarray(previewer.pending(latents)) == previewer(latents.float())).all()
