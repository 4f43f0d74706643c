"""Carries per-step events off the denoising thread.

The step callback only drops a tuple into a queue: it never waits for the database, the channel
layer or an image encoder. A background thread encodes previews and delivers. When delivery falls
behind (or steps come faster than `min_interval_seconds`), every step count is still delivered, but
only the newest preview of each batch is encoded and sent.
The same thread polls for cancellation, so a slow step never delays noticing a cancel either.

It also asks whether anybody watches (`check_watchers`, at start and with every cancel poll). While
nobody does, it encodes no preview, wakes only every `quiet_seconds` instead of after every step (a
wake-up takes the GIL from the denoising thread), and `watched` stays clear so that the engine skips
the preview projection too. Every step count is still delivered (the job row needs the step).
"""

import io
import logging
import queue
import threading
import time
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger("stepwise.publisher")
_WAKE_UP = object()


@dataclass
class StepEvent:
    step: int
    total: int
    image_index: int
    preview_jpeg: bytes | None = None


def encode_preview(preview, size: int = 256) -> bytes:
    """A small JPEG of the latent-resolution RGB preview (a uint8 HxWx3 array, or anything
    `np.asarray` makes one of: the engine's `PendingPreview` is projected here)."""
    from PIL import Image

    image = Image.fromarray(np.asarray(preview))
    if max(image.size) < size:
        scale = size / max(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=70)
    return out.getvalue()


# Replay: each job keeps at most this many per-step previews (small WebP), shared among its images.
REPLAY_LIMIT = 100
# The largest side a kept preview is stored at. Smaller previews (the latents of a 256 or 512 px
# image are 32 or 64 px) keep their own size: an upscale adds no detail, and encoding it cost the
# publisher thread 20 times the CPU, taken from the denoising threads. The browser scales them up.
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
    """A small WebP of one step's latent-resolution RGB preview, for the replay scrubber: at its own
    size, or shrunk to `size` on its longer side."""
    from PIL import Image

    image = Image.fromarray(np.asarray(preview))
    if max(image.size) > size:
        scale = size / max(image.size)
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                             Image.Resampling.BILINEAR)
    out = io.BytesIO()
    image.save(out, format="WEBP", quality=60)
    return out.getvalue()


class ProgressPublisher:
    def __init__(self, *, deliver, check_cancel=None, check_watchers=None, poll_seconds: float = 0.5,
                 quiet_seconds: float = 0.25, min_interval_seconds: float = 0.1, on_thread_exit=None, keep=None):
        self._deliver = deliver  # called with a list[StepEvent], oldest first
        # Called on this thread with (step, image_index, preview) for EVERY step's preview, even when
        # delivery falls behind and only the newest is sent: the replay keeps them.
        self._keep = keep
        self._check_cancel = check_cancel
        self._check_watchers = check_watchers  # None: always watched (previews for every batch)
        self._poll_seconds = poll_seconds
        self._quiet_seconds = quiet_seconds
        # At most ~10 deliveries a second while watched: on a fast GPU a wake-up per step would take
        # the GIL from the thread launching the kernels (and a CPU core from torch's threads).
        self._min_interval_seconds = min_interval_seconds
        self._on_thread_exit = on_thread_exit
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self.cancelled = threading.Event()
        # Set while somebody watches; read by the denoising thread (is a preview wanted?) and by deliver.
        self.watched = threading.Event()
        self.watched.set()
        self._thread = threading.Thread(target=self._run, name="progress-publisher", daemon=True)

    def start(self):
        """Check once for watchers and cancellation (on the caller's thread, before any step), then
        start the thread."""
        self._poll()
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

    def _poll(self) -> None:
        """Is anybody watching? Was the job cancelled? (Both off the denoising thread.)"""
        if self._check_watchers:
            try:
                if self._check_watchers():
                    self.watched.set()
                else:
                    self.watched.clear()
            except Exception:
                logger.warning("Watcher check failed; publishing previews meanwhile", exc_info=True)
                self.watched.set()
        if self._check_cancel:
            try:
                if self._check_cancel():
                    self.cancelled.set()
            except Exception:
                logger.warning("Cancel check failed; will retry", exc_info=True)

    def _next(self):
        """The next queued item (or None): as soon as it comes while somebody watches; otherwise
        after a quiet interval, so that the steps come in batches and don't each wake this thread."""
        try:
            if self.watched.is_set():
                return self._queue.get(timeout=self._poll_seconds)
            self._stop.wait(self._quiet_seconds)
            return self._queue.get_nowait()
        except queue.Empty:
            return None

    def _run(self):
        try:
            last_poll = time.monotonic()  # start() has just polled
            while True:
                first = self._next()
                if first is not None:
                    items = self._drain(first)
                    if items:
                        self._publish(items)
                        self._stop.wait(self._min_interval_seconds)  # let steps gather meanwhile
                if self._stop.is_set() and self._queue.empty():
                    return  # all delivered; a last poll would only delay the runner's close()
                now = time.monotonic()
                if now - last_poll >= self._poll_seconds:
                    last_poll = now
                    self._poll()
        finally:
            if self._on_thread_exit:
                self._on_thread_exit()

    def _publish(self, items: list) -> None:
        newest_preview_at = None
        if self.watched.is_set():  # nobody watching: no preview is worth encoding
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
