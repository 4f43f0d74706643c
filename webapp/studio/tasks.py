"""Queue entry points (django-tasks). Arguments are ids only; the Job row holds everything else."""

from django_tasks import task


@task(queue_name="generation")
def generate_images(job_id: str) -> None:
    # Imported here so that web processes, which only enqueue, never import torch.
    from generation.service import run_job

    run_job(job_id)


@task(queue_name="generation")
def test_load_model(model_id: int) -> None:
    """The admin's "test load": a worker loads the model and records the time or the error."""
    from generation.service import test_load

    test_load(model_id)
