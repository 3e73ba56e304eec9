"""Deprecated: the demo's stages now live in :mod:`fercsv.demo` (this alias goes in a later release)."""
import warnings

from .demo import STAGES, stage_export, stage_predict, stage_train  # noqa: F401

warnings.warn("fercsv.demo_stages is deprecated; use fercsv.demo.STAGES", DeprecationWarning, stacklevel=2)
