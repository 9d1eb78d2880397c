"""memtrace from Python: write traces, trace your own code, analyze.

Three ways in, all writing memtrace traces (``docs/trace-format.md``):

- :class:`TraceWriter`: the seed trackers' ``write(name, size)`` /
  ``read(name, size)`` API, one call per range;
- :func:`trace_function`: runs a plain Python function on traced scalars and
  records every load, operation and store (``docs/python-tracing.md``);
- :class:`NumpyTracer`: records what numpy operations on registered arrays
  read and write, as ranges at their true offsets (needs numpy).

and one way out: :func:`analyze` runs the ``analyze`` tool on traces and
returns its documented JSON as Python objects; :func:`to_frame` turns the
results of several traces into a pandas DataFrame.
"""

__version__ = "0.2.0"

from .writer import (  # noqa: E402
    FORMAT_VERSION,
    ROLES,
    TraceWriter,
    UnclosedTraceWarning,
    guess_role,
)
from .scalar import Traced, trace_function  # noqa: E402
from .analyze import AnalyzeError, analyze, find_tool, to_frame  # noqa: E402

__all__ = [
    "TraceWriter",
    "trace_function",
    "Traced",
    "NumpyTracer",
    "analyze",
    "to_frame",
    "find_tool",
    "AnalyzeError",
    "UnclosedTraceWarning",
    "ROLES",
    "FORMAT_VERSION",
    "guess_role",
]


def __getattr__(name):
    # numpy stays optional: it is imported only when NumpyTracer is used.
    if name == "NumpyTracer":
        from .numpy_tracer import NumpyTracer

        return NumpyTracer
    raise AttributeError("module 'memtrace' has no attribute %r" % name)
