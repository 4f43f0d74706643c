"""Reference pages: the steps guide (from the product document) and the API documentation."""

import json

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from generation import schedulers
from generation.architectures import ARCHITECTURES, FAMILIES, FLOW_MATCHING_FAMILIES, phase_ranges
from generation.vocabulary import for_browser
from webapp.studio import access
from webapp.studio.views.presenters import model_json

GUIDE_REQUEST_EXAMPLE = json.dumps([{
    "taskType": "imageInference",
    "model": "civitai:101055@128078",
    "positivePrompt": "A giant jellyfish floating through a sunlit canyon",
    "steps": 30,
    "width": 1024,
    "height": 1024,
}], indent=2)


@login_required
def guide(request):
    catalog = schedulers.catalog()
    # One family of each kind stands for its schedulers: every denoising family shares one list, every
    # flow-matching family the other.
    denoising = next(f for f in FAMILIES if f not in FLOW_MATCHING_FAMILIES)
    flow = FLOW_MATCHING_FAMILIES[0]
    by_class = []
    for key, info in schedulers.CONVERGENCE.items():
        names = [s["name"] for s in catalog[denoising] if s["convergence"] == key]
        flow_names = [s["name"] for s in catalog[flow] if s["convergence"] == key]
        order2 = [s["name"] for s in catalog[denoising] if s["convergence"] == key and s["order"] == 2]
        by_class.append({"key": key, **info, "names": names, "flow": flow_names, "order2": order2})
    return render(request, "studio/guide.html", {
        # A 30-step run, the document's reference; 8 steps, a distilled model's, for comparison.
        "phases": [{"low": low, "high": high, "count": high - low + 1, "name": name, "description": description}
                   for low, high, name, description in phase_ranges(30)],
        "phases_8": [{"low": low, "high": high, "name": name} for low, high, name, _ in phase_ranges(8)],
        "architectures": ARCHITECTURES.values(),
        "scheduler_classes": by_class,
        "request_example": GUIDE_REQUEST_EXAMPLE,
        "models": [model_json(m) for m in access.checkpoints_for(request.user) if m.enabled],
        "schedulers_json": catalog,
        "vocabulary_json": for_browser(),
    })


@login_required
def api_docs(request):
    return render(request, "studio/api_docs.html", {})
