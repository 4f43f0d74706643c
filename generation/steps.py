"""How many denoising steps really run. The one function the forms, the API and the worker share.

`static/js/steps.js` mirrors it line for line, and `tests/vectors/effective_steps.json` is checked
against both; engine tests prove it by counting the real pipelines' step callbacks.
"""

from dataclasses import dataclass

from generation.architectures import ARCHITECTURES
from generation.task_types import IMAGE_TASKS, IMAGE_TO_IMAGE


@dataclass(frozen=True)
class StepPlan:
    requested: int  # the `steps` the user asked for: the length of the full schedule
    steps: int  # denoising steps that really run
    evaluations: int  # model evaluations: 2N-1 for order-2 schedulers
    first_step: int  # 1-based position in the full schedule where the run starts


def effective_steps(*, architecture: str, task_type: str, steps: int, strength: float, scheduler_order: int = 1):
    """Mirror of diffusers' `get_timesteps` for each pipeline family.

    - Text-to-image runs every step.
    - SD 1.5 / SDXL image tasks: `int(steps * strength)` steps (the float trap included:
      int(50 * 0.58) == 28).
    - FLUX / Z-Image image tasks: `steps - int(steps - steps * strength)`, about ceil(steps x strength).
    - Order-2 schedulers (Heun, KDPM2, DPM++ SDE) evaluate the model 2N-1 times for N steps.
    """
    if task_type not in IMAGE_TASKS:
        run = steps
    elif ARCHITECTURES[architecture].flow_matching:
        init_timestep = min(steps * strength, steps)
        t_start = int(max(steps - init_timestep, 0))
        run = steps - t_start
    else:
        init_timestep = min(int(steps * strength), steps)
        run = init_timestep
    evaluations = 2 * run - 1 if (scheduler_order == 2 and run > 0) else run
    return StepPlan(requested=steps, steps=run, evaluations=evaluations, first_step=steps - run + 1)


# Jobs of more than one pass ------------------------------------------------------------------------
# A job may run a second pass after the first: the SDXL refiner takes over the same schedule where
# the base stops (`refiner`), or the hires fix upscales the result and runs image-to-image on it
# (`hiresFix`). The job counts one step counter 1..total across its passes; each pass keeps its own
# place in its own schedule (for the phase of each step).

HIRES_UPSCALES = (1.5, 2.0)  # the hires fix and the upscale action: Lanczos by this factor, then img2img


@dataclass(frozen=True)
class Pass:
    name: str  # "base", "refiner" or "hires"
    plan: StepPlan  # the pass's own schedule and the part of it that runs
    offset: int  # steps of the passes before it: this pass's step k is the job's step offset + k


@dataclass(frozen=True)
class JobPlan:
    passes: tuple[Pass, ...]
    image_task: bool = False  # the first pass starts from a source image (part of the schedule)

    @property
    def steps(self) -> int:
        """Denoising steps the job runs per image, all passes together: the progress total."""
        return sum(p.plan.steps for p in self.passes)

    @property
    def evaluations(self) -> int:
        return sum(p.plan.evaluations for p in self.passes)

    @property
    def first(self) -> StepPlan:
        return self.passes[0].plan

    def locate(self, step: int) -> tuple[Pass, int]:
        """The pass the job's step `step` (1-based) is in, and that step's place in the pass's schedule."""
        step = max(step, 1)
        for item in self.passes:
            if step <= item.offset + item.plan.steps or item is self.passes[-1]:
                return item, item.plan.first_step + step - item.offset - 1
        raise AssertionError("a plan has at least one pass")

    def label(self) -> str:
        """What the form's counter says: "30 steps will run", "20 of 40 steps will run",
        "30 steps: 24 base + 6 refiner", "40 steps: 30 base + 10 hires"."""
        if len(self.passes) == 1:
            plan = self.first
            if not self.image_task:
                return f"{plan.steps} steps will run"
            return f"{plan.steps} of {plan.requested} steps will run"
        parts = " + ".join(f"{p.plan.steps} {p.name}" for p in self.passes)
        return f"{self.steps} steps: {parts}"


def refiner_start(*, steps: int, start_step: int | None = None, start_percentage: float | None = None) -> int:
    """How many steps of the schedule the base runs before the refiner takes over (Runware's
    `startStep`, or `startStepPercentage` of `steps`, rounded down). Not clamped: the validator
    refuses a start that leaves either model no step."""
    if start_step is not None:
        return start_step
    if start_percentage is not None:
        return int(steps * start_percentage / 100)
    raise ValueError("refiner_start needs start_step or start_percentage.")


def job_plan(*, architecture: str, task_type: str, steps: int, strength: float, scheduler_order: int = 1,
             refiner_start_step: int | None = None, hires_steps: int | None = None,
             hires_strength: float | None = None) -> JobPlan:
    """Every pass of a job and the steps each really runs; `static/js/steps.js::jobPlan` mirrors it.

    - One pass: `effective_steps`.
    - Refiner (text-to-image): the base runs steps 1..start of the one schedule, the refiner
      start+1..steps of the same schedule (diffusers' denoising_end / denoising_start).
    - Hires fix (text-to-image): the whole schedule, then image-to-image on the upscaled result:
      `effective_steps` of `hires_steps` at `hires_strength`.
    """
    first = effective_steps(architecture=architecture, task_type=task_type, steps=steps, strength=strength,
                            scheduler_order=scheduler_order)
    image_task = task_type in IMAGE_TASKS
    if refiner_start_step is not None:
        base_run = min(max(refiner_start_step, 0), steps)
        base = StepPlan(requested=steps, steps=base_run, evaluations=_evaluations(base_run, scheduler_order),
                        first_step=1)
        rest = steps - base_run
        refiner = StepPlan(requested=steps, steps=rest, evaluations=_evaluations(rest, scheduler_order),
                           first_step=base_run + 1)
        return JobPlan((Pass("base", base, 0), Pass("refiner", refiner, base_run)), image_task)
    if hires_steps is not None and hires_strength is not None:
        hires = effective_steps(architecture=architecture, task_type=IMAGE_TO_IMAGE, steps=hires_steps,
                                strength=hires_strength, scheduler_order=scheduler_order)
        return JobPlan((Pass("base", first, 0), Pass("hires", hires, first.steps)), image_task)
    return JobPlan((Pass("base", first, 0),), image_task)


def _evaluations(run: int, scheduler_order: int) -> int:
    return 2 * run - 1 if (scheduler_order == 2 and run > 0) else run


def upscaled_size(width: int, height: int, *, upscale: float, multiple: int) -> tuple[int, int]:
    """The size the hires fix (and the upscale action) resizes to: each side x `upscale`, rounded down
    to the architecture's size multiple."""
    def side(value: int) -> int:
        scaled = int(value * upscale)
        return max(multiple, scaled - scaled % multiple)
    return side(width), side(height)
