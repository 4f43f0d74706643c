"""The tables the browser's step counter (static/js/steps.js) needs, as JSON-safe data.

Pages embed `for_browser()` with `json_script`; the Node tests read the same data from
`python -m generation.vocabulary`. JavaScript keeps the arithmetic (it must answer while a slider
moves), never its own copy of these tables.
"""

import json

from generation.architectures import ARCHITECTURES, FAMILIES, FLOW_MATCHING_FAMILIES, PHASES
from generation.schedulers import CONVERGENCE
from generation.task_types import IMAGE_TASKS, TASK_TYPES


def for_browser() -> dict:
    return {
        "taskTypes": [{"key": t.key, "slug": t.slug, "label": t.label} for t in TASK_TYPES.values()],
        "imageTasks": list(IMAGE_TASKS),
        "families": list(FAMILIES),
        "flowMatchingFamilies": list(FLOW_MATCHING_FAMILIES),
        "architectures": {key: {"family": a.family, "label": a.label} for key, a in ARCHITECTURES.items()},
        # Each phase ends at a fraction of the schedule (generation/architectures.py::phase_index).
        "phases": [{"name": name, "description": description, "num": num, "den": den}
                   for name, description, (num, den) in PHASES],
        # The scheduler picker's groups, in the document's order.
        "convergenceOrder": list(CONVERGENCE),
    }


if __name__ == "__main__":
    print(json.dumps(for_browser()))
