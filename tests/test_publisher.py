"""The progress publisher keeps I/O off the denoising thread and never loses a step count."""

import threading
import time

import numpy as np

from generation.publisher import ProgressPublisher


def preview(value=128):
    return np.full((8, 8, 3), value, dtype=np.uint8)


def test_every_step_is_delivered_in_order_and_the_newest_preview_wins():
    batches, delivering, release = [], threading.Event(), threading.Event()

    def slow_deliver(batch):
        delivering.set()
        release.wait(5)  # the database is slow: steps pile up meanwhile
        batches.append(batch)

    publisher = ProgressPublisher(deliver=slow_deliver).start()
    publisher.submit(1, 20, 0, preview(1))
    assert delivering.wait(5)  # step 1 is on its way...
    for step in range(2, 21):
        publisher.submit(step, 20, 0, preview(step))  # ...while the next 19 steps pile up
    release.set()
    publisher.close()
    assert [[e.step for e in batch] for batch in batches] == [[1], list(range(2, 21))]  # two batches
    delivered = [event for batch in batches for event in batch]
    # Older previews were dropped while delivery lagged; the newest one of each batch is sent.
    assert [e.step for e in delivered if e.preview_jpeg] == [1, 20]
    assert delivered[-1].preview_jpeg.startswith(b"\xff\xd8")  # a JPEG


def test_submit_never_blocks_even_when_delivery_hangs():
    hang = threading.Event()
    publisher = ProgressPublisher(deliver=lambda batch: hang.wait(10)).start()
    started = time.perf_counter()
    for step in range(1, 1001):
        publisher.submit(step, 1000, 0, preview())
    assert time.perf_counter() - started < 0.5
    hang.set()
    publisher.close()


def test_a_failing_delivery_does_not_stop_later_ones():
    calls, failed = [], threading.Event()

    def flaky(batch):
        calls.append([e.step for e in batch])
        if len(calls) == 1:
            failed.set()
            raise ConnectionError("channel layer hiccup")

    publisher = ProgressPublisher(deliver=flaky).start()
    publisher.submit(1, 3, 0)
    assert failed.wait(5)  # the first batch failed...
    publisher.submit(2, 3, 0)
    publisher.submit(3, 3, 0)
    publisher.close()
    assert calls[0] == [1] and sum(calls[1:], []) == [2, 3]  # ...and later ones were still delivered


def test_it_polls_for_cancellation_off_the_denoising_thread():
    flag = threading.Event()
    publisher = ProgressPublisher(deliver=lambda batch: None, check_cancel=flag.is_set, poll_seconds=0.05).start()
    assert not publisher.cancelled.wait(0.2)
    flag.set()
    assert publisher.cancelled.wait(2)
    publisher.close()
