"""Profile steps for a catalog model on this worker (generation/profile.py) and store the result.

`manage.py steps_profile` calls it directly; the catalog's "Profile steps" action queues it on the
generation queue (webapp/jobs/queue.py::profile_model_steps), so a worker's engine does the work.
"""

from generation import schedulers
from generation.profile import (
    DEFAULT_TOLERANCE,
    DISTILLED_REFERENCE,
    DISTILLED_SWEEP,
    STANDARD_REFERENCE,
    STANDARD_SWEEP,
    profile_steps,
)
from webapp.jobs.runner import model_source
from webapp.studio.models import ModelEntry, StepProfile

# When the catalog entry has no example prompts of its own.
FALLBACK_PROMPTS = ("a lighthouse on a cliff at dusk", "a bowl of fruit on a wooden table",
                    "a red bicycle leaning on a blue wall", "a snowy mountain above a lake")


def default_sweep(entry: ModelEntry) -> tuple[list[int], int]:
    """(the step counts, the reference count) for a model: the document's ranges around its own."""
    if entry.arch.distilled:
        return list(DISTILLED_SWEEP), DISTILLED_REFERENCE
    return list(STANDARD_SWEEP), STANDARD_REFERENCE


def prompts_for(entry: ModelEntry, count: int) -> list[str]:
    own = [line.strip() for line in entry.example_prompts.splitlines() if line.strip()] or list(FALLBACK_PROMPTS)
    return [own[i % len(own)] for i in range(count)]


def profile_model(*, entry: ModelEntry, engine, scheduler: str | None = None, width: int | None = None,
                  height: int | None = None, prompts: int = 3, steps: list[int] | None = None,
                  reference_steps: int | None = None, tolerance: float = DEFAULT_TOLERANCE,
                  on_progress=None) -> StepProfile:
    """Measure one model, scheduler and size; store (or replace) its profile. Bad arguments raise
    ValueError naming the argument."""
    defaults = entry.defaults()
    spec = schedulers.resolve(scheduler or defaults["scheduler"], entry.arch.family, default=defaults["scheduler"])
    width, height = width or defaults["width"], height or defaults["height"]
    if prompts < 1:
        raise ValueError(f"prompts must be 1 or more, not {prompts}.")
    sweep, reference = default_sweep(entry)
    steps = steps or [count for count in sweep if count < (reference_steps or reference)]
    result = profile_steps(engine, model_source(entry), model=entry.air, scheduler=spec, width=width, height=height,
                           prompts=prompts_for(entry, prompts), steps=steps,
                           reference_steps=reference_steps or reference, cfg_scale=defaults["CFGScale"],
                           tolerance=tolerance, on_progress=on_progress)
    row, _ = StepProfile.objects.update_or_create(model=entry, scheduler=spec.name, width=width, height=height,
                                                  defaults={"result": result.as_dict()})
    return row
