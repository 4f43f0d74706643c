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
            "sd15_lcm", "SD 1.5 LCM", "sd15", "sd1xlcm", default_cfg=1.5, default_scheduler="LCM", **_distilled()
        ),
        Architecture("sdxl", "SDXL", "sdxl", "sdxl", default_size=1024),
        Architecture(
            "sdxl_lcm", "SDXL LCM", "sdxl", "sdxllcm", default_size=1024, default_cfg=1.5, default_scheduler="LCM",
            **_distilled(),
        ),
        Architecture(
            "sdxl_lightning", "SDXL Lightning", "sdxl", "sdxllightning", default_size=1024, default_cfg=1.0,
            default_scheduler="Euler", **_distilled(),
        ),
        Architecture(
            "sdxl_turbo", "SDXL Turbo", "sdxl", "sdxlturbo", default_size=512, default_cfg=0.0,
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

# The phases of refinement from the product document. A phase follows the position in the noise
# schedule, not the absolute step number: every run, 4 steps or 50, goes from composition to polish.
# Each phase ends at a fraction of the schedule (numerator, denominator), judged at the middle of a
# step, calibrated so that a 30-step run matches the document: Composition 1-5, Forms 6-15, Details
# 16-27 and Polish for the final steps 28-30 (the document's "later steps (15-30)" and "final steps").
# The first step is always Composition and the last (of two or more) always Polish.
PHASES: list[tuple[str, str, tuple[int, int]]] = [
    ("Composition", "Establishing basic composition, rough shapes and color distribution.", (1, 6)),
    ("Forms", "Forming recognizable objects, spatial relationships and textures.", (1, 2)),
    ("Details", "Refining details, coherence and subtle lighting.", (9, 10)),
    ("Polish", "Polishing fine details and smoothing transitions; changes are increasingly subtle.", (1, 1)),
]


def phase_index(step: int, requested: int) -> int:
    """Which phase (an index into PHASES) step `step` (1-based) of a `requested`-step schedule is in.

    Integer arithmetic, so that static/js/steps.js gives the same answer: step s is in the first
    phase whose end num/den satisfies (s - 1/2) / requested <= num/den.
    """
    requested = max(requested, 1)
    step = min(max(step, 1), requested)
    if step == 1:
        return 0
    if step == requested:
        return len(PHASES) - 1
    for index, (_name, _description, (num, den)) in enumerate(PHASES):
        if (2 * step - 1) * den <= 2 * requested * num:
            return index
    return len(PHASES) - 1


def phase_for_step(step: int, requested: int) -> tuple[str, str]:
    name, description, _end = PHASES[phase_index(step, requested)]
    return name, description


def phase_ranges(requested: int) -> list[tuple[int, int, str, str]]:
    """(first step, last step, name, description) of each phase of a `requested`-step schedule that has
    at least one step."""
    ranges: list[tuple[int, int, str, str]] = []
    for step in range(1, max(requested, 1) + 1):
        name, description = phase_for_step(step, requested)
        if ranges and ranges[-1][2] == name:
            ranges[-1] = (ranges[-1][0], step, name, description)
        else:
            ranges.append((step, step, name, description))
    return ranges
