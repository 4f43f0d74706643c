"""Compare steps: the grid of one comparison, and the grid as one labelled PNG."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from webapp.studio import comparisons
from webapp.studio.views.presenters import model_label, task_label


def _comparison(request, comparison_id):
    found = comparisons.comparison_for(request.user, comparison_id)
    if found is None:
        raise Http404("No such comparison.")
    return found


@require_GET
@login_required
def comparison_detail(request, comparison_id):
    comparison, jobs = _comparison(request, comparison_id)
    rows = comparisons.grid(comparison, jobs)
    first = jobs[0]
    finished = all(job.is_finished for job in jobs)
    return render(request, "studio/comparison.html", {
        "comparison": comparison,
        "rows": rows,
        "params": first.params,
        "task_label": task_label(comparison.task_type),
        "model_label": model_label(first.model),
        "largest": max(comparison.steps),
        "finished": finished,
        "done": sum(1 for job in jobs if job.is_finished),
        "total": len(jobs),
    })


@require_GET
@login_required
def comparison_png(request, comparison_id):
    comparison, jobs = _comparison(request, comparison_id)
    png = comparisons.grid_png(comparison, comparisons.grid(comparison, jobs))
    response = HttpResponse(png, content_type="image/png")
    response["Content-Disposition"] = f'attachment; filename="stepwise-compare-{str(comparison.id)[:8]}.png"'
    return response
