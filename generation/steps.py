"""How many denoising steps really run. The one function the forms, the API and the worker share.

`static/js/steps.js` mirrors it line for line, and `tests/vectors/effective_steps.json` is checked
against both; engine tests prove it by counting the real pipelines' step callbacks.
"""

from dataclasses import dataclass

from generation.architectures import ARCHITECTURES
from generation.task_types import IMAGE_TASKS


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
