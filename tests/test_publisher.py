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


def test_nobody_watching_means_no_preview_is_encoded_but_every_step_is_delivered():
    batches: list[list] = []
    publisher = ProgressPublisher(deliver=batches.append, check_watchers=lambda: False, quiet_seconds=0.05).start()
    for step in range(1, 21):
        publisher.submit(step, 20, 0, preview(step))
    publisher.close()
    assert not publisher.watched.is_set()  # what the engine asks before projecting a preview
    delivered = [event for batch in batches for event in batch]
    assert [e.step for e in delivered] == list(range(1, 21))
    assert all(e.preview_jpeg is None for e in delivered)


def test_nobody_watching_the_publisher_wakes_per_interval_not_per_step():
    batches: list[list] = []
    publisher = ProgressPublisher(deliver=batches.append, check_watchers=lambda: False, quiet_seconds=0.3).start()
    for step in range(1, 11):  # ten steps, 20 ms apart: the first 0.3 s collects them all
        publisher.submit(step, 10, 0, preview(step))
        time.sleep(0.02)
    publisher.close()
    assert [e.step for batch in batches for e in batch] == list(range(1, 11))
    assert len(batches) <= 2  # one wake-up (plus the one close() causes), not one per step


def test_a_watcher_who_arrives_gets_previews_from_the_next_check_on():
    watching = threading.Event()
    batches: list[list] = []
    publisher = ProgressPublisher(deliver=batches.append, check_watchers=watching.is_set, poll_seconds=0.05,
                                  quiet_seconds=0.02).start()
    publisher.submit(1, 3, 0, preview(1))
    deadline = time.monotonic() + 5
    while not batches and time.monotonic() < deadline:
        time.sleep(0.01)
    watching.set()  # a job page connects
    assert publisher.watched.wait(2)
    publisher.submit(2, 3, 0, preview(2))
    publisher.submit(3, 3, 0, preview(3))
    publisher.close()
    delivered = [event for batch in batches for event in batch]
    assert [e.step for e in delivered] == [1, 2, 3]
    assert delivered[0].preview_jpeg is None
    assert delivered[-1].preview_jpeg.startswith(b"\xff\xd8")


def test_the_first_watcher_check_happens_before_the_first_step_is_published():
    batches: list[list] = []
    publisher = ProgressPublisher(deliver=batches.append, check_watchers=lambda: True).start()
    publisher.submit(1, 1, 0, preview())
    publisher.close()
    assert batches[0][0].preview_jpeg is not None


def test_a_failing_watcher_check_counts_as_watched():
    def broken():
        raise ConnectionError("channel layer down")

    batches: list[list] = []
    publisher = ProgressPublisher(deliver=batches.append, check_watchers=broken).start()
    publisher.submit(1, 1, 0, preview())
    publisher.close()
    assert publisher.watched.is_set() and batches[0][0].preview_jpeg is not None


def test_fast_steps_are_delivered_in_batches_each_with_its_newest_preview():
    batches: list[list] = []
    publisher = ProgressPublisher(deliver=batches.append, min_interval_seconds=0.2).start()
    for step in range(1, 31):  # 30 steps 10 ms apart, faster than a watcher needs pictures
        publisher.submit(step, 30, 0, preview(step))
        time.sleep(0.01)
    publisher.close()
    assert [e.step for batch in batches for e in batch] == list(range(1, 31))
    assert len(batches) <= 5  # about one wake-up per 0.2 s, not 30
    assert all(batch[-1].preview_jpeg is not None for batch in batches)
    assert all(e.preview_jpeg is None for batch in batches for e in batch[:-1])
