"""Jobs: a job's page (live through its websocket), the user's job list, and cancelling."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from generation import schedulers
from generation.steps import upscaled_size
from generation.vocabulary import for_browser
from webapp.jobs import queue
from webapp.studio import access, events
from webapp.studio.models import Image, Job, Visibility
from webapp.studio.schema import stored_job_plan
from webapp.studio.views.common import safe_next
from webapp.studio.views.presenters import (
    advice_items,
    job_plan,
    model_advice,
    model_label,
    ordinal,
    phase_strip,
    replay_frames,
    task_label,
    task_slug,
)

JOBS_PAGE_SIZE = 20
JOB_FILTERS = {
    "": ("All", None),
    "active": ("In progress", [Job.Status.QUEUED, Job.Status.RUNNING]),
    "succeeded": ("Succeeded", [Job.Status.SUCCEEDED]),
    "problems": ("Failed or cancelled", [Job.Status.FAILED, Job.Status.CANCELLED]),
}


def _final_size(job) -> tuple[int, int] | None:
    """The size the hires fix makes, when it differs from the size asked for."""
    hires = job.params.get("hiresFix")
    if not hires:
        return None
    return upscaled_size(job.params["width"], job.params["height"], upscale=hires["upscale"],
                         multiple=job.model.arch.size_multiple)


def _get_job(request, job_id):
    job = get_object_or_404(access.jobs_visible_to(request.user).select_related("model", "owner", "team"), id=job_id)
    if not access.can_view_job(request.user, job):
        raise Http404("No such job.")
    return job


@login_required
def job_detail(request, job_id):
    job = _get_job(request, job_id)
    plan, spec = job_plan(job)
    passes, _spec = stored_job_plan(job)
    advice = []
    if plan is not None and plan.steps >= 1:
        # The cautions among the document's tips: the form showed the reassuring ones before submit.
        advice = [item for item in model_advice(job.model, scheduler=spec, task_type=job.task_type,
                                                 steps=plan.requested, strength=job.params.get("strength"))
                  if item.level == "warn"]
    images = list(access.images_visible_to(request.user).filter(job=job).order_by("index"))
    snapshot = events.job_snapshot(job)
    if job.owner_id != request.user.id:
        snapshot["images"] = [i for i in snapshot["images"] if i["visibility"] == Visibility.TEAM]
    seed = job.params.get("seed")
    return render(request, "studio/job_detail.html", {
        "job": job,
        "params": job.params,
        "plan": plan,
        # A job of two passes (hires fix, refiner): "12 steps: 6 base + 6 hires", and the upscaled size.
        "passes_label": passes.label() if passes and len(passes.passes) > 1 else "",
        "final_size": _final_size(job),
        "spec": spec,
        "convergence": schedulers.CONVERGENCE.get(spec.convergence) if spec else None,
        "advice": advice_items(advice),
        "images": images,
        "snapshot": snapshot,
        "queue_text": f"{ordinal(snapshot['queuePosition'])} in queue" if snapshot["queuePosition"] else "Waiting",
        "phases": phase_strip(plan.requested, plan.first_step) if plan else [],
        "replay": replay_frames(job, 0, plan) if images and images[0].index == 0 else [],
        "replay_caption": "How the first image formed, step by step." if job.number_results > 1
        else "How the image formed, step by step.",
        # Image k uses seed + k, or with variations the seed and variationSeed + k (schema.result_seeds).
        "seed_last": seed + job.number_results - 1 if isinstance(seed, int) and not job.params.get("variationStrength")
        else None,
        "variation_last": job.params["variationSeed"] + job.number_results - 1 if job.params.get("variationStrength")
        else None,
        "timings": snapshot["timings"],
        "is_owner": job.owner_id == request.user.id,
        # Webhook POSTs and uploadEndpoint PUTs, with their attempts: only the owner sees the URLs.
        "deliveries": list(job.deliveries.all()) if job.owner_id == request.user.id else [],
        "task_slug": task_slug(job.task_type),
        "task_label": task_label(job.task_type),
        "model_label": model_label(job.model),
        "vocabulary_json": for_browser(),
    })


@require_POST
@login_required
def job_cancel(request, job_id):
    job = _get_job(request, job_id)
    if job.owner_id != request.user.id:
        # Teammates may watch a job, but only its owner stops it.
        raise PermissionDenied("Only the owner can cancel this job.")
    if job.is_finished:
        messages.info(request, f"This job had already {job.status}.")
    else:
        job = queue.job_cancel(job=job)
        if job.status == Job.Status.CANCELLED:
            messages.success(request, "Cancelled: the job left the queue.")
        else:
            messages.success(request, "Cancelling: the job stops after its current step.")
    return redirect(safe_next(request, reverse("job_detail", args=[job.id])))


def _queue_positions(jobs):
    """Queue positions of the queued jobs on a page, from one query over the whole queue."""
    if not any(job.status == Job.Status.QUEUED for job in jobs):
        return {}
    order = Job.objects.filter(status=Job.Status.QUEUED).order_by("-priority", "queued_at").values_list("id", flat=True)
    return {job_id: position for position, job_id in enumerate(order[:5000], start=1)}


@login_required
def job_list(request):
    status_filter = request.GET.get("status", "")
    if status_filter not in JOB_FILTERS:
        status_filter = ""
    jobs = (
        access.jobs_visible_to(request.user).filter(owner=request.user).select_related("model")
        .prefetch_related(Prefetch("images", queryset=Image.objects.order_by("index")))
        .order_by("-queued_at")
    )
    statuses = JOB_FILTERS[status_filter][1]
    if statuses:
        jobs = jobs.filter(status__in=statuses)
    page = Paginator(jobs, JOBS_PAGE_SIZE).get_page(request.GET.get("page"))
    positions = _queue_positions(page.object_list)
    for job in page.object_list:
        job.queue_text = f"{ordinal(positions[job.id])} in queue" if job.id in positions else ""
        if job.status == Job.Status.RUNNING:
            job.queue_text = f"step {job.step} of {job.total_steps}"
        job.task_label = task_label(job.task_type)
    return render(request, "studio/job_list.html", {
        "page": page,
        "filters": [(key, label, key == status_filter) for key, (label, _) in JOB_FILTERS.items()],
        "status_filter": status_filter,
    })
