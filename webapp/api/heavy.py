"""A bounded pool for heavy request work, off the event loop and apart from the database thread.

Under ASGI, `database_sync_to_async` runs every socket's database work on one shared thread: a task
that decodes a 14 MB image there stalls every other socket's authentication. Parsing large JSON,
decoding and storing images and fetching URLs run here instead, STEPWISE_HEAVY_THREADS at a time;
more wait their turn rather than taking more memory.
"""

import functools
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connections

# Task types whose handling decodes images, stores uploads or fetches URLs.
HEAVY_TASK_TYPES = ("imageInference", "imageUpload")


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=settings.STEPWISE_HEAVY_THREADS, thread_name_prefix="heavy")


def _call(func, args, kwargs):
    # A fresh connection per call: the work is heavy enough that connecting is noise, and no idle
    # connection is left behind in a pool thread.
    close_old_connections()
    try:
        return func(*args, **kwargs)
    finally:
        connections.close_all()


async def run(func, *args, **kwargs):
    """Run `func(*args, **kwargs)` in the heavy pool and return its result.

    STEPWISE_HEAVY_THREADS = 0 runs it on the shared database thread instead, as before the pool:
    the test settings do, since tests that roll back their transaction keep their rows invisible to
    any other thread's connection.
    """
    if settings.STEPWISE_HEAVY_THREADS <= 0:
        return await sync_to_async(func, thread_sensitive=True)(*args, **kwargs)
    return await sync_to_async(_call, thread_sensitive=False, executor=_pool())(func, args, kwargs)
