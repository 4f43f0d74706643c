"""What Stepwise knows about each model architecture. Pure data: the web process imports this.

Recommended step ranges follow the product document: standard models sit at 25-30 steps, distilled
models (LCM, Lightning, Turbo, Schnell, Z-Image Turbo) are built for 4-8.
"""

from dataclasses import dataclass
from typing import TypedDict

# Pipeline families: which diffusers pipelines load a model and how img2img counts its steps.
FAMILIES: tuple[str, ...] = ("sd15", "sdxl", "flux", "zimage")
# Flow-matching families move along a learned trajectory (FLUX, Z-Image); the others denoise.
FLOW_MATCHING_FAMILIES: tuple[str, ...] = ("flux", "zimage")
# Families whose text encoders are CLIP: clip skip and prompt weighting (compel) apply to them only.
CLIP_FAMILIES: tuple[str, ...] = ("sd15", "sdxl")


def is_flow_matching(family: str) -> bool:
    return family in FLOW_MATCHING_FAMILIES


@dataclass(frozen=True)
class Architecture:
    key: str
    label: str
    # The pipeline family: which diffusers pipelines load it, how its latents look, and how
    # img2img turns steps x strength into steps that run.
    family: str  # "sd15" | "sdxl" | "flux" | "zimage"
    runware: str  # the `architecture` value of Runware's modelSearch
    distilled: bool = False
    recommended_steps: tuple[int, int] = (25, 30)
    default_steps: int = 28
    default_cfg: float = 7.0
    default_scheduler: str = "DPM++ 2M Karras"
    default_size: int = 512
    max_size: int = 2048
    size_multiple: int = 8

    @property
    def flow_matching(self) -> bool:
        return is_flow_matching(self.family)

    @property
    def steps_advice(self) -> str:
        low, high = self.recommended_steps
        if self.distilled:
            return f"{self.label} is distilled: it is made for {low}-{high} steps; more steps waste compute."
        return f"Start at {low}-{high} steps; go higher only if you see a visible improvement."


class _DistilledDefaults(TypedDict):
    distilled: bool
    recommended_steps: tuple[int, int]
    default_steps: int


def _distilled(default_steps: int = 6) -> _DistilledDefaults:
    return {"distilled": True, "recommended_steps": (4, 8), "default_steps": default_steps}


ARCHITECTURES: dict[str, Architecture] = {
    a.key: a
    for a in [
        Architecture("sd15", "SD 1.5", "sd15", "sd1x"),
        Architecture(
            "sd15_lcm", "SD 1.5 LCM", "sd15", "sd1x", default_cfg=1.5, default_scheduler="LCM", **_distilled()
        ),
        Architecture("sdxl", "SDXL", "sdxl", "sdxl", default_size=1024),
        Architecture(
            "sdxl_lcm", "SDXL LCM", "sdxl", "sdxl", default_size=1024, default_cfg=1.5, default_scheduler="LCM",
            **_distilled(),
        ),
        Architecture(
            "sdxl_lightning", "SDXL Lightning", "sdxl", "sdxl", default_size=1024, default_cfg=1.0,
            default_scheduler="Euler", **_distilled(),
        ),
        Architecture(
            "sdxl_turbo", "SDXL Turbo", "sdxl", "sdxl", default_size=512, default_cfg=0.0,
            default_scheduler="Euler a", **_distilled(),
        ),
        Architecture(
            "flux1d", "FLUX.1 dev", "flux", "flux1d", default_size=1024, default_cfg=3.5, default_scheduler="Euler",
            size_multiple=16,
        ),
        Architecture(
            "flux1s", "FLUX.1 schnell", "flux", "flux1s", default_size=1024, default_cfg=0.0,
            default_scheduler="Euler", size_multiple=16, **_distilled(default_steps=4),
        ),
        Architecture(
            "zimage", "Z-Image", "zimage", "zimage", default_size=1024, default_cfg=4.0, default_scheduler="Euler",
            size_multiple=16,
        ),
        Architecture(
            "zimage_turbo", "Z-Image Turbo", "zimage", "zimage", default_size=1024, default_cfg=0.0,
            default_scheduler="Euler", size_multiple=16, **_distilled(default_steps=8),
        ),
    ]
}

# The phases of refinement from the product document, by step number (1-based).
PHASES = [
    (1, 5, "Composition", "Establishing basic composition, rough shapes and color distribution."),
    (6, 15, "Forms", "Forming recognizable objects, spatial relationships and textures."),
    (16, 30, "Details", "Refining details, coherence and subtle lighting."),
    (31, None, "Polish", "Polishing fine details and smoothing transitions; changes are increasingly subtle."),
]


def phase_for_step(step: int) -> tuple[str, str]:
    for low, high, name, description in PHASES:
        if step >= low and (high is None or step <= high):
            return name, description
    return PHASES[0][2], PHASES[0][3]
