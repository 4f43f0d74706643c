"""The four task types: their API keys, the create page's URL slugs, labels and one-line blurbs.

Defined once here; the validator, the job model's choices, the pages and (as data) the browser use it.
"""

from dataclasses import dataclass

TEXT_TO_IMAGE = "textToImage"
IMAGE_TO_IMAGE = "imageToImage"
INPAINTING = "inpainting"
OUTPAINTING = "outpainting"


@dataclass(frozen=True)
class TaskType:
    key: str  # the API's `taskType` spelling, also stored on the job
    slug: str  # /create/<slug>/
    label: str
    blurb: str

    @property
    def needs_source(self) -> bool:
        """Image tasks start from a source image and run only part of the schedule (`strength`)."""
        return self.key in IMAGE_TASKS


TASK_TYPES: dict[str, TaskType] = {
    t.key: t
    for t in [
        TaskType(TEXT_TO_IMAGE, "text-to-image", "Text to image", "Describe an image and generate it from noise."),
        TaskType(IMAGE_TO_IMAGE, "image-to-image", "Image to image",
                 "Start from an image and change it; strength decides how far."),
        TaskType(INPAINTING, "inpainting", "Inpainting", "Paint a mask and repaint only that area."),
        TaskType(OUTPAINTING, "outpainting", "Outpainting", "Extend an image beyond its borders."),
    ]
}

# Tasks that start from a source image and run only the last `steps x strength` steps.
IMAGE_TASKS: tuple[str, ...] = (IMAGE_TO_IMAGE, INPAINTING, OUTPAINTING)

TASK_BY_SLUG: dict[str, TaskType] = {t.slug: t for t in TASK_TYPES.values()}
