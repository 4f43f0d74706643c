"""Step previews: a linear latent -> RGB projection, cheap enough to run after every denoising step.

A VAE decode per step would roughly halve throughput; this is one small matrix product at latent
resolution (64x64 for a 512x512 image) on the device, then a single `.cpu()` of a uint8 HxWx3 tensor
(on the CPU, the same product in numpy: see `LatentPreviewer.__call__`).
The factors are ComfyUI's (`comfy/latent_formats.py`), fitted per latent format, rows = latent channels.
They expect latents in the diffusion model's space (VAE latents after scale/shift), which is what
diffusers' pipelines hand to `callback_on_step_end`.

The preview shows the current noisy sample x_t, so the first steps look noisy; that is the honest
picture of where the run is.
"""

import json
from pathlib import Path

import numpy as np
import torch

SD15_FACTORS = [
    [0.3512, 0.2297, 0.3227],
    [0.3250, 0.4974, 0.2350],
    [-0.2829, 0.1762, 0.2721],
    [-0.2120, -0.2616, -0.7177],
]

SDXL_FACTORS = [
    [0.3651, 0.4232, 0.4341],
    [-0.2533, -0.0042, 0.1068],
    [0.1076, 0.1111, -0.0362],
    [-0.3165, -0.2492, -0.2188],
]
SDXL_BIAS = [0.1084, -0.0175, -0.0011]

# FLUX.1's 16-channel VAE. Z-Image uses the same VAE, and ComfyUI previews it with the same format
# (its Lumina2/ZImage model classes set `latent_format = Flux`).
FLUX_FACTORS = [
    [-0.0346, 0.0244, 0.0681],
    [0.0034, 0.0210, 0.0687],
    [0.0275, -0.0668, -0.0433],
    [-0.0174, 0.0160, 0.0617],
    [0.0859, 0.0721, 0.0329],
    [0.0004, 0.0383, 0.0115],
    [0.0405, 0.0861, 0.0915],
    [-0.0236, -0.0185, -0.0259],
    [-0.0245, 0.0250, 0.1180],
    [0.1008, 0.0755, -0.0421],
    [-0.0515, 0.0201, 0.0011],
    [0.0428, -0.0012, -0.0036],
    [0.0817, 0.0765, 0.0749],
    [-0.1264, -0.0522, -0.1103],
    [-0.0280, -0.0881, -0.0499],
    [-0.1262, -0.0982, -0.0778],
]
FLUX_BIAS = [-0.0329, -0.0718, -0.0851]

LATENT_FORMATS = {
    "sd15": (SD15_FACTORS, None),
    "sdxl": (SDXL_FACTORS, SDXL_BIAS),
    "flux": (FLUX_FACTORS, FLUX_BIAS),
    "zimage": (FLUX_FACTORS, FLUX_BIAS),
}


# A model folder may carry its own projection, fitted to its VAE (the built-in model does: see
# generation/builtin/train.py). Real checkpoints of a family share their VAE's published one.
MODEL_FORMAT_FILE = "latent_preview.json"


def latent_format(family: str, model_path: str | Path | None = None) -> tuple[list, list | None]:
    """The (factors, bias) for previews of a model: its own fitted ones if its folder has them."""
    own = Path(model_path) / MODEL_FORMAT_FILE if model_path else None
    if own is not None and own.is_file():
        fitted = json.loads(own.read_text())
        return fitted["factors"], fitted.get("bias")
    return LATENT_FORMATS[family]


class LatentPreviewer:
    """Projects one job's latents to RGB. Built once per job, so the factors move to the device once."""

    def __init__(self, family: str, *, height: int, width: int, vae_scale_factor: int = 8, device=None,
                 latent_format: tuple[list, list | None] | None = None):
        factors, bias = latent_format or LATENT_FORMATS[family]
        self.height, self.width, self.vae_scale_factor = height, width, vae_scale_factor
        # Packed FLUX latents hold one token per 2x2 patch of this latent height and width.
        self.packed_size = (2 * (int(height) // (vae_scale_factor * 2)), 2 * (int(width) // (vae_scale_factor * 2)))
        # The projection as arrays (used for latents on the CPU, see __call__), and on the device.
        self.factors_array = np.asarray(factors, dtype=np.float32)
        self.bias_array = np.asarray(bias or [0.0, 0.0, 0.0], dtype=np.float32)
        # For packed FLUX latents, (channel, dy, dx) -> (dy, dx, rgb): the same factors for each of
        # a 2x2 patch's 4 pixels, so one matrix product projects all of them.
        self.packed_factors_array = np.einsum(
            "cr,pq->cpqr", self.factors_array, np.eye(4, dtype=np.float32)).reshape(-1, 12)
        self.factors, self.bias, self.packed_factors = (
            torch.from_numpy(array).to(device) for array in
            (self.factors_array, self.bias_array, self.packed_factors_array))

    @torch.no_grad()
    def __call__(self, latents: torch.Tensor) -> np.ndarray:
        """First image of the batch as a uint8 (latent height, latent width, 3) array.

        On a GPU it runs there and copies 3 channels back. On the CPU it runs in numpy, because it is
        called from the publisher's thread: a torch op there starts a second OpenMP team beside the
        denoising thread's, and its threads spin on the same cores. A watched 256-px job on 2 cores
        took 1.85 times the bare call with it, 1.11 without (`bench/overhead.py --watchers 1`).
        """
        if latents.device.type == "cpu":
            return self._project_array(latents[0].float().numpy())
        latents = latents[0].float()
        h, w = self.packed_size
        if latents.ndim == 2:
            # FLUX keeps latents packed: (tokens, channels x 2 x 2), one token per 2x2 patch
            # (`FluxPipeline._pack_latents`). Project each patch's pixels, then lay the patches out:
            # moving 3 channels around is cheaper than unpacking 16.
            rgb = (latents @ self.packed_factors).view(h // 2, w // 2, 2, 2, 3)  # (row, column, dy, dx, rgb)
            rgb = rgb.permute(0, 2, 1, 3, 4).reshape(h, w, 3)
        else:
            rgb = torch.einsum("chw,cr->hwr", latents, self.factors)
        # ComfyUI's mapping of the projection's [-1, 1] to [0, 255].
        rgb = ((rgb + self.bias + 1.0) * 127.5).clamp(0, 255).to(torch.uint8)
        # One small device -> host copy.
        return rgb.cpu().numpy()

    def _project_array(self, latents: np.ndarray) -> np.ndarray:
        """`__call__` for one image's latents as a float32 array: the same steps in numpy."""
        h, w = self.packed_size
        if latents.ndim == 2:
            # einsum, not `@`: numpy's matrix product would start BLAS threads of its own here.
            rgb = np.einsum("tk,kr->tr", latents, self.packed_factors_array).reshape(h // 2, w // 2, 2, 2, 3)
            rgb = rgb.transpose(0, 2, 1, 3, 4).reshape(h, w, 3)
        else:
            rgb = np.einsum("chw,cr->hwr", latents, self.factors_array)
        return np.clip((rgb + self.bias_array + 1.0) * 127.5, 0, 255).astype(np.uint8)

    def pending(self, latents: torch.Tensor) -> "PendingPreview":
        return PendingPreview(self, latents)


class PendingPreview:
    """One step's preview, projected only when it is read: `np.asarray(preview)` gives the uint8
    (latent height, latent width, 3) array.

    The denoising thread only copies the first image's latents (on a GPU, one asynchronous device
    copy, no wait for the step to finish); the projection and its device-to-host copy run where the
    preview is used: on the publisher's thread for a watcher (only the newest of a batch), after the
    last step for the replay. Projecting every step on the denoising thread, in step with torch's
    threads, cost a 256x256 job on 2 cores about 1.5 %."""

    __slots__ = ("_previewer", "_latents")

    def __init__(self, previewer: LatentPreviewer, latents: torch.Tensor):
        self._previewer = previewer
        # float32 here, on the denoising thread: the publisher's thread then runs no torch op on a CPU.
        self._latents = latents[:1].detach().to(torch.float32, copy=True)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        rgb = self._previewer(self._latents)
        return rgb if dtype is None else rgb.astype(dtype)


def latent_preview(latents: torch.Tensor, family: str, *, height: int, width: int, vae_scale_factor: int = 8):
    """One-off version of `LatentPreviewer` (the engine builds one previewer per job instead)."""
    previewer = LatentPreviewer(family, height=height, width=width, vae_scale_factor=vae_scale_factor,
                                device=latents.device)
    return previewer(latents)
