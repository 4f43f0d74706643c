"""Content checks on generated images: diffusers' `StableDiffusionSafetyChecker`, installed by an admin.

No Django here, and torch is imported only when a checker is loaded (in a worker). The folder an
admin names is in the diffusers format: either a pipeline folder with `safety_checker/` (config and
weights) and `feature_extractor/` (the CLIP image processor's config), or one folder holding both
(as `CompVis/stable-diffusion-safety-checker` does).
"""

from pathlib import Path

from PIL import Image, ImageFilter


class ContentCheckerError(Exception):
    pass


def _parts(path: str) -> tuple[Path, Path]:
    root = Path(path)
    if (root / "safety_checker").is_dir():
        return root / "safety_checker", root / "feature_extractor"
    return root, root


class ContentChecker:
    """One loaded checker; `flagged(image)` says whether it finds the image unsafe."""

    def __init__(self, path: str, *, device: str = "cpu"):
        import torch
        from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
        from transformers import CLIPImageProcessor

        model_dir, processor_dir = _parts(path)
        try:
            self.model = StableDiffusionSafetyChecker.from_pretrained(str(model_dir), local_files_only=True)
            self.processor = CLIPImageProcessor.from_pretrained(str(processor_dir), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ContentCheckerError(f"The content checker at {path} could not be loaded: {exc}") from exc
        self.model.to(device).eval()
        self.device = device
        self._torch = torch

    def flagged(self, image: Image.Image) -> bool:
        import numpy as np

        rgb = image.convert("RGB")
        pixels = self.processor(images=[rgb], return_tensors="pt").pixel_values.to(self.device)
        with self._torch.no_grad():
            _, has_nsfw = self.model(clip_input=pixels, images=[np.asarray(rgb).copy()])
        return bool(has_nsfw[0])


def blurred(image: Image.Image) -> Image.Image:
    """A flagged image made unreadable: a blur a twentieth of its longer side wide."""
    return image.filter(ImageFilter.GaussianBlur(radius=max(8, max(image.size) // 20)))
