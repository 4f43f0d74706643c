"""Carries per-step events off the denoising thread.

The step callback only drops a tuple into a queue: it never waits for the database, the channel
layer or an image encoder. A background thread encodes previews and delivers. When delivery falls
behind, every step count is still delivered, but only the newest preview is encoded and sent.
The same thread polls for cancellation, so a slow step never delays noticing a cancel either.
"""

import io
import logging
import queue
import threading
import time
from dataclasses import dataclass

logger = logging.getLogger("stepwise.publisher")
_WAKE_UP = object()


@dataclass
class StepEvent:
    step: int
    total: int
    image_index: int
    preview_jpeg: bytes | None = None


def encode_preview(preview, size: int = 256) -> bytes:
    """A small JPEG of the latent-resolution RGB preview (a uint8 HxWx3 array)."""
    from PIL import Image

    image = Image.fromarray(preview)
    if max(image.size) < size:
        scale = size / max(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=70)
    return out.getvalue()


# Replay: each job keeps at most this many per-step previews (small WebP), shared among its images.
REPLAY_LIMIT = 100
REPLAY_SIZE = 128


def replay_steps(*, total_steps: int, number_results: int, limit: int = REPLAY_LIMIT) -> list[int]:
    """Which steps (1-based) of each image keep a preview for the replay: every step when the job's
    budget allows, otherwise evenly spaced ones that always include the first and the last."""
    per_image = max(1, limit // max(number_results, 1))
    if total_steps <= per_image:
        return list(range(1, total_steps + 1))
    if per_image == 1:
        return [total_steps]
    return sorted({1 + round(i * (total_steps - 1) / (per_image - 1)) for i in range(per_image)})


def encode_replay_preview(preview, size: int = REPLAY_SIZE) -> bytes:
    """A small WebP of one step's latent-resolution RGB preview, for the replay scrubber."""
    from PIL import Image

    image = Image.fromarray(preview)
    if max(image.size) != size:
        scale = size / max(image.size)
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                             Image.Resampling.BILINEAR)
    out = io.BytesIO()
    image.save(out, format="WEBP", quality=60)
    return out.getvalue()


class ProgressPublisher:
    def __init__(self, *, deliver, check_cancel=None, poll_seconds: float = 0.5, on_thread_exit=None, keep=None):
        self._deliver = deliver  # called with a list[StepEvent], oldest first
        # Called on this thread with (step, image_index, preview) for EVERY step's preview, even when
        # delivery falls behind and only the newest is sent: the replay keeps them.
        self._keep = keep
        self._check_cancel = check_cancel
        self._poll_seconds = poll_seconds
        self._on_thread_exit = on_thread_exit
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self.cancelled = threading.Event()
        self._thread = threading.Thread(target=self._run, name="progress-publisher", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def submit(self, step: int, total: int, image_index: int, preview=None) -> None:
        """Called from the denoising loop: constant time, never blocks."""
        self._queue.put((step, total, image_index, preview))

    def close(self, timeout: float = 10) -> None:
        """Deliver what is still queued, then stop the thread."""
        self._stop.set()
        self._queue.put(_WAKE_UP)  # don't let the thread sit out its poll interval
        self._thread.join(timeout)

    def _drain(self, first) -> list:
        items = [first]
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                return [item for item in items if item is not _WAKE_UP]

    def _run(self):
        last_cancel_check = 0.0
        try:
            while True:
                try:
                    first = self._queue.get(timeout=self._poll_seconds)
                except queue.Empty:
                    first = None
                if first is not None:
                    items = self._drain(first)
                    if items:
                        self._publish(items)
                now = time.monotonic()
                if self._check_cancel and now - last_cancel_check >= self._poll_seconds:
                    last_cancel_check = now
                    try:
                        if self._check_cancel():
                            self.cancelled.set()
                    except Exception:
                        logger.warning("Cancel check failed; will retry", exc_info=True)
                if self._stop.is_set() and self._queue.empty():
                    return
        finally:
            if self._on_thread_exit:
                self._on_thread_exit()

    def _publish(self, items: list) -> None:
        newest_preview_at = max((i for i, item in enumerate(items) if item[3] is not None), default=None)
        events = []
        for i, (step, total, image_index, preview) in enumerate(items):
            if self._keep is not None and preview is not None:
                try:
                    self._keep(step, image_index, preview)
                except Exception:
                    logger.warning("Keeping the preview of step %s failed", step, exc_info=True)
            jpeg = None
            if i == newest_preview_at:
                try:
                    jpeg = encode_preview(preview)
                except Exception:
                    logger.warning("Preview encoding failed", exc_info=True)
            events.append(StepEvent(step, total, image_index, jpeg))
        try:
            self._deliver(events)
        except Exception:
            # A database or channel-layer hiccup must never kill a running generation.
            logger.warning("Progress delivery failed for steps %s", [e.step for e in events], exc_info=True)
