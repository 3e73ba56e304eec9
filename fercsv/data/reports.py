"""What a conversion did, as data: :class:`ConvertReport` (rows per Usage and label, files
skipped or ignored, rows dropped on purpose), shared by folder, archive and FER+ conversions.
"""
from dataclasses import dataclass, field

from . import labels as L


@dataclass
class ConvertReport:
    """What a conversion did: rows written per Usage and label, files skipped or ignored.

    Every conversion returns one (``folder_to_csv``, ``csv_to_folder``, ``convert``, ``ferplus_csv``):

    >>> import fercsv, tempfile
    >>> d = tempfile.mkdtemp(); _ = fercsv.synth(f"{d}/faces", per_class=1)
    >>> report = fercsv.folder_to_csv(f"{d}/faces", f"{d}/faces.csv")
    >>> report.rows, report.counts["Training"]["happy"], report.skipped
    (35, 1, [])
    >>> print(report)                                                      # doctest: +ELLIPSIS
    wrote 35 images from /.../faces to /.../faces.csv in ... s (... images/s)
      Training: 7 (angry 1, disgust 1, fear 1, happy 1, sad 1, surprise 1, neutral 1)
      PublicTest: 14 (angry 2, disgust 2, fear 2, happy 2, sad 2, surprise 2, neutral 2)
      PrivateTest: 14 (angry 2, disgust 2, fear 2, happy 2, sad 2, surprise 2, neutral 2)
    """

    source: str
    destination: str
    rows: int = 0
    counts: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)
    ignored: list = field(default_factory=list)
    label_names: list = field(default_factory=list)
    seconds: float = 0.0
    shard: str = ""  # "K/N" when only that part of the run was done
    dropped: dict = field(default_factory=dict)  # rows left out on purpose, by reason (FER+ relabelling)

    def add(self, usage, label, n=1):
        per = self.counts.setdefault(usage, {})
        per[label] = per.get(label, 0) + n
        self.rows += n

    def to_dict(self):
        """Plain-data form for JSON."""
        return {"source": self.source, "destination": self.destination, "rows": self.rows,
                "counts": self.counts, "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
                "ignored": len(self.ignored), "seconds": round(self.seconds, 3),
                "label_names": self.label_names, "shard": self.shard or None, "dropped": self.dropped}

    def __str__(self):
        rate = self.rows / self.seconds if self.seconds else 0.0
        part = f" (shard {self.shard})" if self.shard else ""
        lines = [f"wrote {self.rows} images{part} from {self.source} to {self.destination} "
                 f"in {self.seconds:.1f} s ({rate:,.0f} images/s)"]
        for usage in [u for u in L.USAGES if u in self.counts]:
            per = self.counts[usage]
            lines.append(f"  {usage}: {sum(per.values())} (" +
                         ", ".join(f"{k} {v}" for k, v in per.items()) + ")")
        if self.ignored:
            lines.append(f"ignored {len(self.ignored)} files that are not images "
                         f"(e.g. {self.ignored[0]})")
        if self.dropped:
            lines.append(f"dropped {sum(self.dropped.values())} rows: " +
                         ", ".join(f"{n} {r}" for r, n in self.dropped.items()))
        if self.skipped:
            reasons = {}
            for _, r in self.skipped:
                reasons[r] = reasons.get(r, 0) + 1
            lines.append(f"skipped {len(self.skipped)} bad files: " +
                         ", ".join(f"{n} {r}" for r, n in reasons.items()))
            lines += [f"  {p}: {r}" for p, r in self.skipped[:10]]
            if len(self.skipped) > 10:
                lines.append(f"  ... and {len(self.skipped) - 10} more")
        return "\n".join(lines)
