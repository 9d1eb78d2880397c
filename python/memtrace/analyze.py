"""Analyze from Python: ``analyze`` runs the ``analyze`` tool with ``--json``
and returns its documented JSON (``docs/analyzers.md``) as Python objects;
``to_frame`` turns results into a pandas DataFrame.

The tool is found, in order: ``$MEMTRACE_BIN`` (a folder), the folder of
this Python's scripts (where ``pip install ./python`` puts it), ``PATH``,
and a source checkout's ``target/release``.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig

__all__ = ["analyze", "to_frame", "find_tool", "AnalyzeError", "ANALYSES"]

ANALYSES = ("ard", "cache", "dmd", "mrc", "hist", "energy", "info")


class AnalyzeError(Exception):
    """An analysis failed: the message is the tool's own one-line error."""


def find_tool(name="analyze"):
    """The path of the ``analyze`` (or ``record``) executable."""
    exe = name + (".exe" if os.name == "nt" else "")
    folders = []
    if os.environ.get("MEMTRACE_BIN"):
        folders.append(os.environ["MEMTRACE_BIN"])
    folders.append(sysconfig.get_path("scripts"))
    folders.append(os.path.dirname(sys.executable))
    for folder in folders:
        candidate = os.path.join(folder, exe)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(exe)
    if found:
        return found
    checkout = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "target", "release", exe)
    if os.path.isfile(checkout):
        return os.path.normpath(checkout)
    raise AnalyzeError(
        "the `%s` tool was not found: `pip install ./python` installs it with the package; "
        "or set MEMTRACE_BIN to the folder that holds it" % name
    )


def _flag(key, value):
    flag = "--" + key.replace("_", "-")
    if value is True:
        return [flag]
    if value is False or value is None:
        return []
    if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
    return [flag + "=" + str(value)]


def analyze(paths, command, **options):
    """Runs ``analyze COMMAND --json [options] PATHS`` and returns the JSON.

    ``paths`` is one trace or a list of traces; one trace gives one object,
    several a list in the same order (``cache`` gives ``{"results": [...]}``
    per trace). Options are the tool's flags in Python spelling:
    ``bytes_per_element=1``, ``clock="steps"``, ``size="32KiB,256KiB"``
    (or a list), ``granularity="line"``; ``True`` passes a bare flag.
    Raises :class:`AnalyzeError` with the tool's message on any failure.
    """
    if command not in ANALYSES:
        raise AnalyzeError("unknown analysis %r; one of %s" % (command, ", ".join(ANALYSES)))
    single = isinstance(paths, (str, bytes, os.PathLike))
    traces = [os.fspath(paths)] if single else [os.fspath(p) for p in paths]
    if not traces:
        raise AnalyzeError("analyze %s: no trace given" % command)
    for p in traces:
        if p == "-":
            raise AnalyzeError("analyze %s: standard input is not supported from Python; give a path" % command)
    argv = [find_tool("analyze"), command, "--json"]
    for key, value in options.items():
        argv += _flag(key, value)
    argv.append("--")
    argv += traces
    run = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    if run.returncode != 0:
        raise AnalyzeError(_message(run.stderr, command, options))
    try:
        out = json.loads(run.stdout)
    except ValueError:
        raise AnalyzeError("analyze %s: the tool printed no JSON" % command) from None
    if not single and isinstance(out, dict) and command != "cache":
        out = [out]
    return out


def _message(stderr, command, options):
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    for line in lines:
        if line.startswith("error: unexpected argument"):
            flag = line.split("'")[1] if "'" in line else line
            name = flag.lstrip("-").split("=")[0].replace("-", "_")
            return "analyze %s: unknown option %s=%r" % (command, name, options.get(name))
    for line in lines:
        if line.startswith("error:"):
            return "analyze %s: %s" % (command, line[len("error:"):].strip())
    return lines[0] if lines else "analyze %s failed" % command


def _flatten(obj, prefix, row):
    for key, value in obj.items():
        name = prefix + key
        if isinstance(value, dict):
            _flatten(value, name + ".", row)
        else:
            row[name] = value
    return row


def to_frame(results, rows=None):
    """A pandas DataFrame of analysis results.

    By default one row per trace (per trace and configuration for
    ``cache``), nested objects flattened into dotted columns
    (``per_buffer.W1.loads``), lists kept as cells. ``rows="per_buffer"``
    (or any key holding an object or a list of objects, such as mrc's
    ``"points"``) gives one row per entry instead, with the trace's own
    scalar fields repeated and an object's keys in the ``name`` column.

    ``results`` is what :func:`analyze` returned (one object or a list), or
    a dict of such results (its keys become the ``label`` column).
    """
    try:
        import pandas
    except ImportError:
        raise ImportError("to_frame needs pandas: pip install pandas") from None
    table = []

    def add(result, label):
        if isinstance(result, list):
            for r in result:
                add(r, label)
        elif isinstance(result, dict) and isinstance(result.get("results"), list) and len(result) == 1:
            for r in result["results"]:
                add(r, label)
        elif isinstance(result, dict):
            base = {} if label is None else {"label": label}
            if rows is None:
                table.append(_flatten(result, "", base))
                return
            if rows not in result:
                raise KeyError("to_frame(rows=%r): the result has no %r; it has %s" % (rows, rows, ", ".join(sorted(result))))
            scalars = {k: v for k, v in result.items() if not isinstance(v, (dict, list))}
            entries = result[rows]
            if isinstance(entries, dict):
                entries = [dict({"name": k}, **(v if isinstance(v, dict) else {"value": v})) for k, v in entries.items()]
            for entry in entries:
                row = dict(base, **scalars)
                table.append(_flatten(entry if isinstance(entry, dict) else {"value": entry}, "", row))
        else:
            raise TypeError("to_frame takes analysis results (dicts or lists of them), not %s" % type(result).__name__)

    labelled = isinstance(results, dict) and "results" not in results and "trace" not in results
    if labelled and all(isinstance(v, (dict, list)) for v in results.values()):
        for label, r in results.items():
            add(r, label)
    else:
        add(results, None)
    return pandas.DataFrame(table)
