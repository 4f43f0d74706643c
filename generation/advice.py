"""The product document's step advice (reference: "Steps: Controlling refinement in image generation").

The one set of rules: the create page asks for it while the sliders move (a small JSON view), the job
page and the validator call `step_advice` directly, and the model picker's note comes from
`range_note`. The browser never has a copy of these rules.

`step_advice` gives ONE recommendation: the most important that applies. Two tips side by side can
contradict each other ("go higher only if you see an improvement" beside "raise steps at low
strength"), and a stack of warnings reads as noise; the order below is the document's priority.
Each item has a level the pages style ("ok", "info", "warn", "error"), a stable key, and its text.
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
# Detail-oriented schedulers "continue refining up to 40-50 steps".
DETAIL_TOP = 50
MAX_STEPS = 100


@dataclass(frozen=True)
class Advice:
    level: str  # "ok" | "info" | "warn" | "error"
    key: str  # stable, for tests and styling: "low-strength", "below-range", ...
    text: str

    def as_dict(self) -> dict:
        return asdict(self)


def steps_to_reach(target: int, *, architecture: str, task_type: str, strength: float) -> int | None:
    """The smallest step count (up to 100) whose run reaches `target` steps; None if none does."""
    for steps in range(1, MAX_STEPS + 1):
        if effective_steps(architecture=architecture, task_type=task_type, steps=steps,
                           strength=strength).steps >= target:
            return steps
    return None


def range_note(*, model_name: str, distilled: bool, recommended_steps: tuple[int, int]) -> str:
    """What the model picker says about a model's steps: its own range, not its architecture's."""
    low, high = recommended_steps
    if distilled:
        return f"{model_name} is distilled: it is made for {low}-{high} steps; more steps waste compute."
    return f"{model_name} is recommended at {low}-{high} steps; go higher only if you see a visible improvement."


def cost_sentence(*, architecture: str, task_type: str, steps: int, strength: float, scheduler_order: int,
                  reference_steps: int, number_results: int = 1) -> str:
    """The compute of this request against a full run at `reference_steps`, in the user's own numbers.

    Denoising compute grows with the model evaluations that run (2N-1 for order-2 schedulers).
    """
    plan = effective_steps(architecture=architecture, task_type=task_type, steps=steps, strength=strength,
                           scheduler_order=scheduler_order)
    reference = effective_steps(architecture=architecture, task_type="textToImage", steps=reference_steps,
                                strength=1.0, scheduler_order=scheduler_order)
    if plan.steps < 1 or reference.evaluations < 1:
        return ""
    ratio = plan.evaluations / reference.evaluations
    percent = round(abs(1 - ratio) * 100)
    what = f"{plan.steps} steps" if plan.steps == plan.requested else f"{plan.steps} of {plan.requested} steps"
    if percent == 0:
        text = f"{what}: the same compute as a {reference_steps}-step run"
    else:
        text = (f"{what} instead of {reference_steps}: {percent}% "
                f"{'less' if ratio < 1 else 'more'} compute")
    if number_results > 1:
        text += f"; {plan.evaluations * number_results} model evaluations for {number_results} images"
    return text + "."


def time_sentence(*, steps_run: int, number_results: int, seconds_per_step: float | None, measured: str,
                  gpu_hour_price: float = 0.0, currency: str = "") -> str:
    """The estimated time (and cost at the GPU price) of a request, from this server's measured seconds
    per step ("from its steps profile" or "from recent jobs"); "" when nothing was measured."""
    if not seconds_per_step or steps_run < 1:
        return ""
    seconds = seconds_per_step * steps_run * max(number_results, 1)
    text = f"About {seconds:.1f} s of GPU time on this server ({seconds_per_step:.2f} s per step, {measured})"
    if gpu_hour_price > 0:
        text += f"; {currency}{seconds / 3600 * gpu_hour_price:.4f} at the GPU price"
    return text + "."


def step_advice(*, model_name: str, architecture: str, recommended_steps: tuple[int, int],
                scheduler: SchedulerSpec | None, task_type: str, steps: int,
                strength: float | None) -> list[Advice]:
    """The one tip of the document that matters most for this request (a list: empty or one item).

    1. No step runs at all (image tasks): an error.
    2. A distilled model: its 4-8 steps, and nothing about schedulers converging.
    3. Outpainting below strength 0.7: the new area stays flat whatever the steps.
    4. Low strength: how few steps run, and how many reach the scheduler's convergence; or that the
       count already does (then "go higher only if..." would contradict it, so the range is not judged).
    5. Below the model's range: a warning, or, for a fast-converging scheduler that already converged,
       the document's "great for prototyping".
    6. In the range: the sweet spot, with what the scheduler's class means past it.
    7. Above the range: stochastic schedulers do not converge; detail-oriented ones refine up to 40-50;
       otherwise go higher only if you see a visible improvement.
    """
    image_task = task_type in IMAGE_TASKS
    strength = strength if image_task and strength is not None else 1.0
    plan = effective_steps(architecture=architecture, task_type=task_type, steps=steps, strength=strength,
                           scheduler_order=scheduler.order if scheduler else 1)
    convergence = scheduler.convergence if scheduler else FAST
    converges_at = CONVERGENCE[convergence]["converges_at"]
    low, high = recommended_steps
    # 1. Nothing runs
    if image_task and plan.steps < 1:
        return [Advice("error", "no-steps", f"{steps} steps × strength {strength:g} runs no denoising step at all: "
                                            "raise strength or steps.")]
    # 2. Distilled models
    if ARCHITECTURES[architecture].distilled:
        if plan.requested > high:
            return [Advice("warn", "distilled", f"This distilled model is meant for {low}-{high} steps; "
                                                f"{plan.requested} wastes compute.")]
        return [Advice("ok", "distilled-ok", f"Distilled models (LCM, Lightning, Turbo, Schnell) are built for "
                                             f"{low}-{high} steps.")]
    # 3. Outpainting
    if task_type == OUTPAINTING and strength < OUTPAINT_MIN_STRENGTH:
        return [Advice("warn", "outpaint-strength", "Outpainting works best at strength 0.85-0.95; below 0.7 "
                                                    "the new area stays flat.")]
    # 4. Low strength
    if image_task and strength < LOW_STRENGTH:
        if plan.steps >= converges_at or plan.requested >= MAX_STEPS:
            return [Advice("ok", "low-strength-ok", f"At strength {strength:g}, {plan.requested} steps run "
                                                    f"{plan.steps}: enough refinement at low strength.")]
        better = steps_to_reach(converges_at, architecture=architecture, task_type=task_type,
                                strength=strength) or MAX_STEPS
        better_run = effective_steps(architecture=architecture, task_type=task_type, steps=better,
                                     strength=strength).steps
        return [Advice("warn", "low-strength", f"At strength {strength:g}, {plan.requested} steps run only "
                                               f"{plan.steps} — {better} would run {better_run}: raise steps at "
                                               "low strength.")]
    name = scheduler.name if scheduler else "This scheduler"
    # 5. Below the range
    if plan.requested < low:
        if convergence == FAST and plan.steps >= converges_at:
            return [Advice("info", "prototype", f"{name} reaches good quality at 15-25 steps: {plan.requested} is "
                                                f"great for prototyping; {low}-{high} for final renders.")]
        return [Advice("warn", "below-range", f"{model_name} is recommended at {low}-{high} steps; "
                                              f"{plan.requested} is below its range.")]
    # 6. The sweet spot
    if plan.requested <= high:
        text = f"{low}-{high} steps is {model_name}'s sweet spot."
        if convergence == DETAIL:
            text += f" {name} keeps refining up to 40-50 steps: go higher only if you see a visible improvement."
        elif convergence == STOCHASTIC:
            text += f" {name} is stochastic: more steps give different results, not better ones."
        return [Advice("ok", "sweet-spot", text)]
    # 7. Above the range
    if convergence == STOCHASTIC:
        return [Advice("info", "stochastic", f"{name} is stochastic: it does not converge, so more than {high} "
                                             "steps give different, not better, results.")]
    if convergence == DETAIL and plan.requested <= DETAIL_TOP:
        return [Advice("ok", "detail", f"{name} keeps refining up to 40-50 steps: worth it for final renders "
                                       "if you see the difference.")]
    return [Advice("info", "above-range", f"{low}-{high} steps is {model_name}'s sweet spot: go higher only if "
                                          "you see a visible improvement.")]
