"""Shards: a deterministic 1/N of a job's inputs, so any scheduler can run the pieces.

``--shard K/N`` (K counted from 1, as coreutils ``split -n K/N`` does) keeps the K-th of N
contiguous blocks of the inputs in their usual order; running shards 1..N and joining their
outputs in shard order (``fercsv concat``) gives the rows of a single run, in the same order.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence, TypeVar

from ..core.errors import BadInputError

T = TypeVar("T")

@dataclass(frozen=True)
class Shard:
    """The ``index``-th (1-based) of ``count`` contiguous blocks.

    >>> Shard(2, 3).bounds(10)
    (3, 6)
    >>> str(Shard(2, 3))
    '2/3'
    """

    index: int
    count: int

    def bounds(self, n_items: int) -> tuple[int, int]:
        """Start and stop of this shard's block among ``n_items`` items (sizes differ by at most one)."""
        return (self.index - 1) * n_items // self.count, self.index * n_items // self.count

    def take(self, items: Sequence[T]) -> list[T]:
        """This shard's items, in their original order.

        >>> [Shard(k, 3).take(list("abcdefg")) for k in (1, 2, 3)]
        [['a', 'b'], ['c', 'd'], ['e', 'f', 'g']]
        """
        start, stop = self.bounds(len(items))
        return list(items[start:stop])

    def __str__(self):
        return f"{self.index}/{self.count}"


def parse_shard(spec, *, func: str, name: str = "shard") -> Shard | None:
    """Read ``"K/N"`` (or a ``(K, N)`` pair, a :class:`Shard`, or None for the whole job).

    >>> parse_shard("1/4", func="convert")
    Shard(index=1, count=4)
    >>> parse_shard(None, func="convert") is None
    True
    >>> parse_shard("0/4", func="convert")
    Traceback (most recent call last):
    ...
    fercsv.BadInputError: convert: shard (CLI --shard) must be K/N with 1 <= K <= N, e.g. 1/4 for the first of four; got '0/4'
    """
    if spec is None or isinstance(spec, Shard):
        return spec
    if isinstance(spec, (tuple, list)) and len(spec) == 2:
        text = f"{spec[0]}/{spec[1]}"
    else:
        text = str(spec)
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if match:
        index, count = int(match[1]), int(match[2])
        if 1 <= index <= count:
            return Shard(index, count)
    raise BadInputError(f"{func}: {name} (CLI --{name.replace('_', '-')}) must be K/N with 1 <= K <= N, "
                        f"e.g. 1/4 for the first of four; got {spec!r}")

