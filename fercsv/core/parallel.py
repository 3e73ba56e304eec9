"""Bounded, ordered parallel map: results come back in input order, few in flight.

Threads suit work that releases the GIL (OpenCV decoding, most numpy). Work with much
Python per item (reading thousands of small files, ``bytes.translate``) scales better in
worker processes: ``processes=True`` forks them on Linux and falls back to threads elsewhere.
"""
import collections
import itertools
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from .errors import FercsvError


def default_workers():
    """Number of usable CPU cores (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def ordered_map(func, items, *, workers=None, ahead=4, processes=False):
    """Yield ``func(item)`` for each item, in order, computing up to ``workers * ahead`` at once.

    At most ``workers * ahead`` items are outstanding (submitted, or yielded and not yet
    consumed): item ``k`` is submitted only after result ``k - workers * ahead`` was consumed,
    so ``workers * ahead`` reusable buffers (:func:`shared_buffers`) can carry the results.

    ``processes=True`` runs ``func`` in forked worker processes where that is cheap and safe
    (Linux); the items and results must pickle, ``func`` need not (the workers inherit it).
    Elsewhere (macOS, Windows: spawning would re-run the caller's script) threads are used.

    >>> list(ordered_map(lambda x: x * x, range(5), workers=2))
    [0, 1, 4, 9, 16]
    >>> list(ordered_map(lambda x: -x, range(3), workers=2, processes=True))
    [0, -1, -2]
    """
    workers = workers or default_workers()
    if workers == 1:
        for item in items:
            yield func(item)
        return
    pool = _fork_pool(func, workers) if processes else None
    if pool is None:
        pool, call = ThreadPoolExecutor(max_workers=workers), func
    else:
        pool, call = pool
    pending = collections.deque()
    try:
        for item in items:
            pending.append(pool.submit(call, item))
            if len(pending) >= workers * ahead:
                yield _result(pending.popleft())
        while pending:
            yield _result(pending.popleft())
    finally:
        # An early exit (an error, a generator closed half-way) must not wait for queued work.
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        if isinstance(call, _Forked):
            _FORKED.pop(call.key, None)


def forks_workers():
    """True where ``ordered_map(..., processes=True)`` forks worker processes (Linux)."""
    return sys.platform.startswith("linux")


def shared_buffers(count, size):
    """``count`` writable buffers of ``size`` bytes in one anonymous shared mapping: what forked
    workers write there the parent reads in place, with no copy through a pipe.

    Pages are only committed when written, so generous sizes cost nothing until used.

    >>> bufs = shared_buffers(2, 8); bufs[1][:3] = b"abc"; bytes(bufs[1][:3]), len(bufs)
    (b'abc', 2)
    """
    import mmap

    whole = memoryview(mmap.mmap(-1, max(1, count * size)))
    return [whole[i * size:(i + 1) * size] for i in range(count)]


def _result(future):
    try:
        return future.result()
    except BrokenProcessPool:
        raise FercsvError("a worker process died (out of memory?); run again with fewer workers "
                          "(workers=1, CLI --workers 1)") from None


#: Functions the forked workers inherit, by key: a closure cannot be pickled, but it is copied by fork.
_FORKED = {}
_keys = itertools.count()


class _Forked:
    """A picklable stand-in for a function registered in :data:`_FORKED` before the fork."""

    def __init__(self, key):
        self.key = key

    def __call__(self, item):
        return _FORKED[self.key](item)


def _fork_pool(func, workers):
    """``(executor, callable)`` running ``func`` in ``workers`` forked processes, or None."""
    if not forks_workers():
        return None
    import multiprocessing

    key = next(_keys)
    _FORKED[key] = func
    try:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                   initializer=_worker_start)
    except (OSError, ValueError, ImportError, AssertionError):  # no semaphores, daemonic caller, ...
        _FORKED.pop(key, None)
        return None
    return pool, _Forked(key)


def _worker_start():
    # Ctrl-C reaches the whole process group: the parent stops the pool, workers stay quiet.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
