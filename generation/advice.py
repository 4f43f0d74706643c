"""The product document's step advice (reference: "Steps: Controlling refinement in image generation").

The one set of rules: the create page asks for it while the sliders move (a small JSON view), the job
page and the validator call `step_advice` directly. Each item has a level the pages style
("ok", "info", "warn", "error"), a stable key, and its text.
"""

from dataclasses import asdict, dataclass

from generation.architectures import ARCHITECTURES
from generation.schedulers import CONVERGENCE, DETAIL, FAST, STOCHASTIC, SchedulerSpec
from generation.steps import effective_steps
from generation.task_types import IMAGE_TASKS, OUTPAINTING

# Below this strength an image task runs few steps: the document's tip 3 ("increase steps when using
# low strength").
LOW_STRENGTH = 0.5
# Outpainting needs most of the schedule to paint the new area.
OUTPAINT_MIN_STRENGTH = 0.7
# Fast-converging schedulers "reach good quality at 15-25 steps": past the top, extra steps add little.
FAST_ENOUGH = 25


@dataclass(frozen=True)
class Advice:
    level: str  # "ok" | "info" | "warn" | "error"
    key: str  # stable, for tests and styling: "low-strength", "converge", ...
    text: str

    def as_dict(self) -> dict:
        return asdict(self)


def steps_to_reach(target: int, *, architecture: str, task_type: str, strength: float) -> int | None:
    """The smallest step count (up to 100) whose run reaches `target` steps; None if none does."""
    for steps in range(1, 101):
        if effective_steps(architecture=architecture, task_type=task_type, steps=steps,
                           strength=strength).steps >= target:
            return steps
    return None


def step_advice(*, model_name: str, architecture: str, recommended_steps: tuple[int, int],
                scheduler: SchedulerSpec | None, task_type: str, steps: int,
                strength: float | None) -> list[Advice]:
    """The document's tips that apply to one request, most important first.

    1. No step runs at all (image tasks): an error, and nothing else.
    2. The step count against the model's recommended range (distilled models: 4-8).
    3. Low strength: how few steps run, and how many would reach the scheduler's convergence.
    4. The scheduler: stochastic, not yet converged, or past the point where extra steps help.
    5. Outpainting below strength 0.7.
    """
    image_task = task_type in IMAGE_TASKS
    strength = strength if image_task and strength is not None else 1.0
    plan = effective_steps(architecture=architecture, task_type=task_type, steps=steps, strength=strength,
                           scheduler_order=scheduler.order if scheduler else 1)
    distilled = ARCHITECTURES[architecture].distilled
    low, high = recommended_steps
    advice = []
    # 1. Nothing runs
    if image_task and plan.steps < 1:
        return [Advice("error", "no-steps", f"{steps} steps × strength {strength:g} runs no denoising step at all: "
                                            "raise strength or steps.")]
    # 2. The recommended range
    if distilled and plan.requested > high:
        advice.append(Advice("warn", "distilled",
                             f"This distilled model is meant for {low}-{high} steps; {plan.requested} wastes compute."))
    elif distilled:
        advice.append(Advice("info", "distilled-ok",
                             f"Distilled models (LCM, Lightning, Turbo, Schnell) are built for {low}-{high} steps."))
    elif plan.requested < low:
        advice.append(Advice("warn", "below-range", f"{model_name} is recommended at {low}-{high} steps; "
                                                    f"{low}-{high} is the sweet spot for standard models."))
    elif plan.requested <= high:
        advice.append(Advice("ok", "sweet-spot", f"{low}-{high} steps is the sweet spot for standard models."))
    else:
        advice.append(Advice("info", "above-range", f"{low}-{high} is the sweet spot for standard models: "
                                                    "go higher only if you see a visible improvement."))
    # 3. Low strength
    if image_task and strength < LOW_STRENGTH:
        target = CONVERGENCE[scheduler.convergence]["converges_at"] if scheduler else CONVERGENCE[FAST]["converges_at"]
        better = steps_to_reach(min(target, 100), architecture=architecture, task_type=task_type, strength=strength)
        text = f"At strength {strength:g}, {plan.requested} steps run only {plan.steps}"
        if better and better > plan.requested:
            better_run = effective_steps(architecture=architecture, task_type=task_type, steps=better,
                                         strength=strength).steps
            text += f" — {better} would run {better_run}"
        advice.append(Advice("warn", "low-strength", f"{text}: raise steps at low strength."))
    # 4. The scheduler
    if scheduler and scheduler.convergence == STOCHASTIC:
        advice.append(Advice("info", "stochastic", f"{scheduler.name} is stochastic: it does not converge, so more "
                                                   "steps give different, not better, results."))
    elif scheduler and not distilled and plan.steps < CONVERGENCE[scheduler.convergence]["converges_at"]:
        what = ("keeps refining up to 40-50 steps" if scheduler.convergence == DETAIL
                else "reaches good quality at 15-25 steps")
        advice.append(Advice("warn", "converge", f"{scheduler.name} {what}; only {plan.steps} will run. Fine for "
                                                 "prototyping, raise steps for final renders."))
    elif scheduler and scheduler.convergence == FAST and not distilled and plan.steps > FAST_ENOUGH:
        advice.append(Advice("info", "fast-extra", f"{scheduler.name} is fast-converging: past {FAST_ENOUGH} steps "
                                                   "extra steps add little."))
    # 5. Outpainting
    if task_type == OUTPAINTING and strength < OUTPAINT_MIN_STRENGTH:
        advice.append(Advice("warn", "outpaint-strength", "Outpainting works best at strength 0.85-0.95; below 0.7 "
                                                          "the new area stays flat."))
    return advice
