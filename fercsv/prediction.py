"""Moved to :mod:`fercsv.serve.predict`, :mod:`fercsv.serve.inputs` and :mod:`fercsv.serve.batch`;
this old path re-exports them while the move lands."""
from .serve.batch import *  # noqa: F401,F403
from .serve.batch import predict_files, predict_paths, write_rows  # noqa: F401
from .serve.inputs import *  # noqa: F401,F403
from .serve.inputs import VIDEO_EXTENSIONS, BatchReport, cli_names, expand_inputs, input_files  # noqa: F401
from .serve.predict import *  # noqa: F401,F403
from .serve.predict import FacePrediction, annotate, predict  # noqa: F401
from .serve.timeline import AGGREGATIONS  # noqa: F401
from .vision.images import read_color  # noqa: F401
