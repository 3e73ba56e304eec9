"""Follow faces from frame to frame, so each person in a video keeps one id.

A plain IoU tracker: each new box joins the live track whose last box overlaps
it most (greedy, best overlaps first); boxes left over start new tracks.
"""
from dataclasses import dataclass, field


def iou(a, b) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes.

    >>> iou((0, 0, 10, 10), (5, 0, 10, 10))
    0.3333333333333333
    """
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


@dataclass
class IoUTracker:
    """Give each box of each frame a track id (0, 1, 2...) that persists while the face moves.

    ``min_iou``: least overlap with a track's last box to continue it.
    ``max_missed``: frames a track may go unseen (a blink of the detector) before it ends.

    >>> t = IoUTracker()
    >>> t.update([(10, 10, 50, 50), (200, 10, 50, 50)])
    [0, 1]
    >>> t.update([(205, 12, 50, 50), (12, 11, 50, 50)])
    [1, 0]
    """

    min_iou: float = 0.3
    max_missed: int = 5
    _last: dict = field(default_factory=dict, repr=False)    # id -> last box
    _missed: dict = field(default_factory=dict, repr=False)  # id -> frames unseen
    _next_id: int = field(default=0, repr=False)

    def update(self, boxes) -> list:
        """Track ids for ``boxes`` (one frame's boxes, any order), in the same order."""
        pairs = sorted(((iou(tuple(b), last), k, tid) for k, b in enumerate(boxes)
                        for tid, last in self._last.items()), reverse=True)
        ids = [None] * len(boxes)
        used = set()
        for overlap, k, tid in pairs:
            if overlap < self.min_iou:
                break
            if ids[k] is None and tid not in used:
                ids[k] = tid
                used.add(tid)
        for k, b in enumerate(boxes):
            if ids[k] is None:
                ids[k] = self._next_id
                self._next_id += 1
            self._last[ids[k]] = tuple(b)
            self._missed[ids[k]] = 0
        for tid in list(self._last):
            if tid not in ids:
                self._missed[tid] += 1
                if self._missed[tid] > self.max_missed:
                    del self._last[tid], self._missed[tid]
        return ids
