"""Bounded, ordered parallel map: results come back in input order, few in flight.

Threads suffice because the heavy work (OpenCV decoding, numpy) releases the GIL.
"""
import collections
import os
from concurrent.futures import ThreadPoolExecutor


def default_workers():
    """Number of usable CPU cores (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def ordered_map(func, items, *, workers=None, ahead=4):
    """Yield ``func(item)`` for each item, in order, computing up to ``workers * ahead`` at once.

    >>> list(ordered_map(lambda x: x * x, range(5), workers=2))
    [0, 1, 4, 9, 16]
    """
    workers = workers or default_workers()
    if workers == 1:
        for item in items:
            yield func(item)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = collections.deque()
        for item in items:
            pending.append(pool.submit(func, item))
            if len(pending) >= workers * ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
