"""Scheduler registry: every name Stepwise accepts -> a diffusers scheduler class and config.

Pure data plus one lazy builder, so the web process can validate names without importing torch.
Names cover the product document (Euler, Euler Ancestral, UniPC, LCM, DPM++ 2M, DPM++ 2M Karras,
DPM++ 2M SDE, DPM++ 3M, DPM++ SDE) and every value the Runware API accepts for SD and SDXL, except
EDMEulerScheduler: it is only meant for EDM-trained models, which Stepwise does not load, so it is
refused with the list of valid names rather than run into nonsense.
"""

import functools
import inspect
from dataclasses import dataclass, field
from typing import TypedDict

from generation.architectures import FAMILIES, is_flow_matching

_SD = tuple(f for f in FAMILIES if not is_flow_matching(f))  # denoising families: sd15, sdxl
_FLOW = tuple(f for f in FAMILIES if is_flow_matching(f))  # flow-matching families: flux, zimage

FAST = "fast"
DETAIL = "detail"
STOCHASTIC = "stochastic"


class Convergence(TypedDict):
    label: str
    advice: str
    converges_at: int


# The product document's three convergence classes, with its advice.
CONVERGENCE: dict[str, Convergence] = {
    FAST: {
        "label": "Fast-converging",
        "advice": "Reaches good quality at 15-25 steps; extra steps add little.",
        "converges_at": 15,
    },
    DETAIL: {
        "label": "Detail-oriented",
        "advice": "Keeps refining up to 40-50 steps.",
        "converges_at": 40,
    },
    STOCHASTIC: {
        "label": "Stochastic",
        "advice": "Does not converge: more steps give different results, not necessarily better ones.",
        "converges_at": 20,
    },
}


@dataclass(frozen=True)
class SchedulerSpec:
    name: str  # the canonical name shown in forms
    class_name: str  # the diffusers class
    config: dict = field(default_factory=dict)  # overrides applied with from_config
    convergence: str = FAST
    families: tuple[str, ...] = _SD
    # Order-2 schedulers evaluate the model twice per step (N steps -> 2N-1 evaluations).
    order: int = 1
    aliases: tuple[str, ...] = ()


_KARRAS = {"use_karras_sigmas": True}
_SDE = {"algorithm_type": "sde-dpmsolver++"}

SCHEDULERS: list[SchedulerSpec] = [
    # Fast-converging
    SchedulerSpec("Euler", "EulerDiscreteScheduler", aliases=("EulerDiscreteScheduler",)),
    SchedulerSpec("Euler Karras", "EulerDiscreteScheduler", _KARRAS),
    SchedulerSpec("UniPC", "UniPCMultistepScheduler", aliases=("UniPCMultistepScheduler",)),
    SchedulerSpec("UniPC Karras", "UniPCMultistepScheduler", _KARRAS),
    SchedulerSpec("UniPC 2M", "UniPCMultistepScheduler", {"solver_order": 2}),
    SchedulerSpec("UniPC 3M", "UniPCMultistepScheduler", {"solver_order": 3}),
    SchedulerSpec("LCM", "LCMScheduler", aliases=("LCMScheduler",)),
    SchedulerSpec("TCD", "TCDScheduler", aliases=("TCDScheduler",)),
    SchedulerSpec("DDIM", "DDIMScheduler", aliases=("DDIMScheduler",)),
    # PLMS, as SD 1.5 ships it: without skip_prk_steps the first steps are Runge-Kutta, 4 model
    # evaluations each (14 evaluations for 5 steps). PLMS still evaluates N+1 times for N steps.
    SchedulerSpec("PNDM", "PNDMScheduler", {"skip_prk_steps": True}, aliases=("PNDMScheduler",)),
    SchedulerSpec("LMS", "LMSDiscreteScheduler", aliases=("LMSDiscreteScheduler",)),
    SchedulerSpec("LMS Karras", "LMSDiscreteScheduler", _KARRAS),
    SchedulerSpec("DEIS", "DEISMultistepScheduler", aliases=("DEISMultistepScheduler",)),
    SchedulerSpec("Heun", "HeunDiscreteScheduler", order=2, aliases=("HeunDiscreteScheduler",)),
    SchedulerSpec("Heun Karras", "HeunDiscreteScheduler", _KARRAS, order=2),
    SchedulerSpec("KDPM2", "KDPM2DiscreteScheduler", order=2, aliases=("KDPM2DiscreteScheduler",)),
    # Detail-oriented
    SchedulerSpec("DPM++ 2M", "DPMSolverMultistepScheduler", convergence=DETAIL,
                  aliases=("DPM++", "DPMSolverMultistepScheduler")),
    SchedulerSpec("DPM++ 2M Karras", "DPMSolverMultistepScheduler", _KARRAS, convergence=DETAIL,
                  aliases=("DPM++ Karras",)),
    SchedulerSpec("DPM++ 2M SDE", "DPMSolverMultistepScheduler", _SDE, convergence=DETAIL),
    SchedulerSpec("DPM++ 2M SDE Karras", "DPMSolverMultistepScheduler", {**_SDE, **_KARRAS}, convergence=DETAIL),
    SchedulerSpec("DPM++ 3M", "DPMSolverMultistepScheduler", {"solver_order": 3}, convergence=DETAIL),
    SchedulerSpec("DPM++ 3M Karras", "DPMSolverMultistepScheduler", {"solver_order": 3, **_KARRAS},
                  convergence=DETAIL),
    SchedulerSpec("DPM Singlestep", "DPMSolverSinglestepScheduler", convergence=DETAIL,
                  aliases=("DPMSolverSinglestepScheduler",)),
    # Stochastic
    SchedulerSpec("Euler Ancestral", "EulerAncestralDiscreteScheduler", convergence=STOCHASTIC,
                  aliases=("Euler a", "EulerAncestralDiscreteScheduler")),
    SchedulerSpec("DPM++ SDE", "DPMSolverSDEScheduler", convergence=STOCHASTIC, order=2,
                  aliases=("DPMSolverSDEScheduler",)),
    SchedulerSpec("DPM++ SDE Karras", "DPMSolverSDEScheduler", _KARRAS, convergence=STOCHASTIC, order=2),
    SchedulerSpec("KDPM2 Ancestral", "KDPM2AncestralDiscreteScheduler", convergence=STOCHASTIC, order=2,
                  aliases=("KDPM2 a", "KDPM2AncestralDiscreteScheduler")),
    SchedulerSpec("DDPM", "DDPMScheduler", convergence=STOCHASTIC, aliases=("DDPMScheduler",)),
]

# Flow-matching models (FLUX, Z-Image) get their own entries: the same names, flow schedulers.
FLOW_SCHEDULERS: list[SchedulerSpec] = [
    SchedulerSpec("Euler", "FlowMatchEulerDiscreteScheduler", families=_FLOW,
                  aliases=("FlowMatchEulerDiscreteScheduler", "EulerDiscreteScheduler")),
    SchedulerSpec("Euler Karras", "FlowMatchEulerDiscreteScheduler", _KARRAS, families=_FLOW),
    SchedulerSpec("Euler Exponential", "FlowMatchEulerDiscreteScheduler", {"use_exponential_sigmas": True},
                  families=_FLOW),
    SchedulerSpec("Euler Beta", "FlowMatchEulerDiscreteScheduler", {"use_beta_sigmas": True}, families=_FLOW),
]

DEFAULT_NAME = "Default"
_SIGMA_SPACINGS = ("use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas")


def _index(specs):
    table = {}
    for spec in specs:
        for name in (spec.name, *spec.aliases):
            table[name.lower()] = spec
    return table


def _specs_for(family: str) -> list[SchedulerSpec]:
    return FLOW_SCHEDULERS if is_flow_matching(family) else SCHEDULERS


_BY_FAMILY = {family: _index(_specs_for(family)) for family in FAMILIES}


class UnknownScheduler(ValueError):
    pass


def names_for(family: str) -> list[str]:
    """Canonical scheduler names a model of this family can use, in display order."""
    return [spec.name for spec in _specs_for(family)]


def all_accepted_names(family: str) -> list[str]:
    return [DEFAULT_NAME] + [n for s in _specs_for(family) for n in (s.name, *s.aliases)]


def resolve(name: str, family: str, *, default: str | None = None) -> SchedulerSpec:
    """Find the scheduler for `name` on a model of `family`; "Default" means the model's default."""
    if name.strip().lower() == DEFAULT_NAME.lower() and default:
        name = default
    spec = _BY_FAMILY[family].get(name.strip().lower())
    if spec is None:
        valid = ", ".join(names_for(family))
        raise UnknownScheduler(f"Scheduler {name[:60]!r} is not available for this model. Valid: {valid}.")
    return spec


def build(spec: SchedulerSpec, base_config):
    """A fresh scheduler for one job, from the pipeline's own scheduler config (never shared)."""
    import diffusers  # lazy: only the worker builds schedulers

    scheduler_class = getattr(diffusers, spec.class_name)
    # "Euler" means plain Euler even when the model ships a Karras (or other) sigma schedule in its
    # config: the spacing options not named by the spec are switched off explicitly.
    accepted = inspect.signature(scheduler_class.__init__).parameters
    overrides = {name: False for name in _SIGMA_SPACINGS if name in accepted}
    overrides.update(spec.config)
    scheduler = scheduler_class.from_config(base_config, **overrides)
    _start_at_first_timestep(scheduler)
    return scheduler


def _start_at_first_timestep(scheduler) -> None:
    """Make a text-to-image run start at index 0 even when the first timesteps repeat.

    Karras sigmas on a zero-terminal-SNR model start near sigma 4096, and the top few sigmas all map
    to timestep 999. Left alone, diffusers then starts at the *second* 999 (its rule for img2img
    resumes) and runs off the end of its sigmas: DPM++ 2M Karras failed with an IndexError at 30
    steps. Image-to-image pipelines call `set_begin_index` themselves after `set_timesteps`, so
    they still start where their strength says.
    """
    if not hasattr(scheduler, "set_begin_index"):
        return
    set_timesteps = scheduler.set_timesteps

    # wraps: pipelines inspect set_timesteps' signature for `sigmas` and `timesteps`.
    @functools.wraps(set_timesteps)
    def set_timesteps_from_the_start(*args, **kwargs):
        set_timesteps(*args, **kwargs)
        scheduler.set_begin_index(0)

    scheduler.set_timesteps = set_timesteps_from_the_start


def catalog() -> dict:
    """JSON for the browser: per family, each scheduler with its class, order, advice and aliases."""
    result = {}
    for family in FAMILIES:
        result[family] = [
            {
                "name": s.name,
                "aliases": list(s.aliases),
                "order": s.order,
                "convergence": s.convergence,
                "convergenceLabel": CONVERGENCE[s.convergence]["label"],
                "advice": CONVERGENCE[s.convergence]["advice"],
                "convergesAt": CONVERGENCE[s.convergence]["converges_at"],
            }
            for s in _specs_for(family)
        ]
    return result
