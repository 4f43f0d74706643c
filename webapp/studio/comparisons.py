"""What a "compare steps" grid shows, and the grid as one labelled PNG. Read-only.

Rows are schedulers, columns step counts. Each cell is an ordinary job with one image: the steps that
really ran (effective steps for image tasks), its time, and how far it is from the row's largest
count (the mean absolute difference of the pixels, 0% = identical).
"""

import io
from dataclasses import dataclass

from PIL import Image as PILImage
from PIL import ImageChops, ImageDraw, ImageFont, ImageStat

from generation.steps import effective_steps
from webapp.studio import access
from webapp.studio.models import Comparison, Image, Job

DIFF_SIZE = 128  # both images are compared at this size: a difference of look, not of pixels


@dataclass
class Cell:
    job: Job
    steps: int  # requested
    steps_run: int
    image: Image | None
    seconds: float | None
    difference: float | None  # percent, against the row's largest step count; None for that cell itself

    @property
    def label(self) -> str:
        return f"{self.steps_run} steps" if self.steps_run == self.steps else f"{self.steps_run} of {self.steps} steps"


@dataclass
class Row:
    scheduler: str
    cells: list[Cell]


def comparison_for(user, comparison_id) -> tuple[Comparison, list[Job]] | None:
    """The comparison and the jobs of it this user may see (None if none)."""
    comparison = Comparison.objects.filter(id=comparison_id).first()
    if comparison is None:
        return None
    jobs = list(access.jobs_visible_to(user).filter(comparison=comparison).select_related("model")
                .prefetch_related("images"))
    if not jobs:
        return None
    return comparison, jobs


def _open_small(image: Image) -> PILImage.Image:
    field = image.thumbnail or image.file
    with field.open("rb") as handle:
        return PILImage.open(io.BytesIO(handle.read())).convert("RGB").resize((DIFF_SIZE, DIFF_SIZE))


def difference(a: Image, b: Image) -> float:
    """Mean absolute pixel difference of two images, in percent of full scale."""
    diff = ImageChops.difference(_open_small(a), _open_small(b))
    return sum(ImageStat.Stat(diff).mean) / 3 / 255 * 100


def grid(comparison: Comparison, jobs: list[Job]) -> list[Row]:
    rows = []
    for scheduler in comparison.schedulers:
        cells = []
        for job in sorted((j for j in jobs if j.params.get("scheduler") == scheduler), key=lambda j: j.params["steps"]):
            images = list(job.images.all())
            image = images[0] if images else None
            plan = effective_steps(architecture=job.model.architecture, task_type=job.task_type,
                                   steps=job.params["steps"], strength=float(job.params.get("strength", 1.0)))
            cells.append(Cell(job=job, steps=job.params["steps"], steps_run=plan.steps, image=image,
                              seconds=image.seconds if image else None, difference=None))
        reference = cells[-1].image if cells else None
        if reference is not None:
            for cell in cells[:-1]:
                if cell.image is not None:
                    cell.difference = difference(cell.image, reference)
        rows.append(Row(scheduler=scheduler, cells=cells))
    return rows


def grid_png(comparison: Comparison, rows: list[Row], *, cell_size: int = 256) -> bytes:
    """The grid as one PNG: a column head per step count, a row label per scheduler, and under each
    image its steps, time and difference to the row's largest count."""
    columns = max((len(row.cells) for row in rows), default=0)
    label_w, head_h, foot_h, pad = 150, 34, 44, 8
    width = label_w + columns * (cell_size + pad) + pad
    height = head_h + len(rows) * (cell_size + foot_h + pad) + pad
    canvas = PILImage.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=15)
    small = ImageFont.load_default(size=13)
    largest = max(comparison.steps)
    for c, steps in enumerate(comparison.steps):
        draw.text((label_w + pad + c * (cell_size + pad), 9), f"{steps} steps", fill=(20, 20, 28), font=font)
    for r, row in enumerate(rows):
        top = head_h + r * (cell_size + foot_h + pad)
        draw.text((pad, top + cell_size // 2 - 8), row.scheduler, fill=(20, 20, 28), font=font)
        for c, cell in enumerate(row.cells):
            left = label_w + pad + c * (cell_size + pad)
            if cell.image is not None:
                with cell.image.file.open("rb") as handle:
                    picture = PILImage.open(io.BytesIO(handle.read())).convert("RGB")
                picture.thumbnail((cell_size, cell_size))
                offset = ((cell_size - picture.width) // 2, (cell_size - picture.height) // 2)
                canvas.paste(picture, (left + offset[0], top + offset[1]))
            else:
                draw.rectangle((left, top, left + cell_size - 1, top + cell_size - 1), outline=(200, 200, 210))
                draw.text((left + 10, top + 10), cell.job.get_status_display(), fill=(110, 110, 120), font=small)
            seconds = f" · {cell.seconds:.2f} s" if cell.seconds is not None else ""
            draw.text((left, top + cell_size + 4), f"{cell.label} ran{seconds}", fill=(20, 20, 28), font=small)
            diff = ("reference" if cell.steps == largest else
                    f"{cell.difference:.1f}% from {largest} steps" if cell.difference is not None else "")
            draw.text((left, top + cell_size + 22), diff, fill=(90, 90, 100), font=small)
    out = io.BytesIO()
    canvas.save(out, format="PNG")
    return out.getvalue()
