"""Tracing numpy programs: ``NumpyTracer``.

``tr.array(a, "W1", role="parameter")`` registers an array and returns a
tracked view of it; from then on every numpy operation on tracked arrays
records the elements it reads and the elements it writes, as ranges of the
underlying buffer at their true offsets (a strided view is one range per
contiguous run). Results are new buffers, named by the operation and a
counter (``matmul_3``) unless named with ``tr.name(result, "h")``. The rules
(what an operation reads, what escapes) are in ``docs/python-tracing.md``.
"""

import warnings

import numpy as np

from .writer import ROLES, TraceWriter, _caller_line, _warn_unclosed

__all__ = ["NumpyTracer", "TrackedArray"]


class _Root(object):
    """One buffer of the trace: the memory of a registered or result array."""

    __slots__ = ("tracer", "buffer", "ptr", "nbytes", "itemsize", "named", "op", "pending")

    def __init__(self, tracer, buffer, array, named):
        self.tracer = tracer
        self.buffer = buffer
        self.ptr = array.__array_interface__["data"][0]
        self.nbytes = array.nbytes
        self.itemsize = array.itemsize
        self.named = named

    def holds(self, array):
        ptr = array.__array_interface__["data"][0]
        return self.ptr <= ptr < self.ptr + max(self.nbytes, 1)


def _root(x):
    """The buffer a tracked array lives in, or None for anything else."""
    if isinstance(x, TrackedArray):
        root = x._mt
        if root is not None and root.tracer._open:
            return root
    return None


def _arrays_in(result, found):
    if isinstance(result, (tuple, list)):
        for r in result:
            _arrays_in(r, found)
    elif isinstance(result, (np.ndarray, np.generic)):
        found.append(np.asarray(result))
    return found


def _plain(x):
    """``x`` with tracked arrays replaced by plain views of the same memory."""
    if isinstance(x, TrackedArray):
        return x.view(np.ndarray)
    if isinstance(x, (list, tuple)) and any(isinstance(y, (TrackedArray, list, tuple)) for y in x):
        return type(x)(_plain(y) for y in x)
    return x


def _tracked_in(values, found):
    """Appends the tracked arrays in ``values`` (nested lists, tuples, dicts), in order."""
    for v in values:
        if isinstance(v, TrackedArray):
            if _root(v) is not None:
                found.append(v)
        elif isinstance(v, (list, tuple)):
            _tracked_in(v, found)
        elif isinstance(v, dict):
            _tracked_in(v.values(), found)
    return found


def _offsets(x, root):
    """The element offset, in ``root``'s buffer, of every element of ``x``."""
    base = (x.__array_interface__["data"][0] - root.ptr) // root.itemsize
    offsets = np.full(x.shape, base, dtype=np.int64)
    for axis, (n, stride) in enumerate(zip(x.shape, x.strides)):
        if n > 1 and stride:
            shape = [1] * x.ndim
            shape[axis] = n
            offsets += (np.arange(n, dtype=np.int64) * (stride // root.itemsize)).reshape(shape)
    return offsets


def _runs(offsets):
    """(start, length) of each run of consecutive offsets, in order."""
    flat = np.asarray(offsets, dtype=np.int64).reshape(-1)
    if flat.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(flat) != 1) + 1
    starts = np.concatenate(([0], breaks))
    ends = np.concatenate((breaks, [flat.size]))
    return list(zip(flat[starts].tolist(), (ends - starts).tolist()))


def _view_runs(x, root):
    """The runs of a view: one run when it is contiguous, else computed."""
    if x.flags.c_contiguous and x.itemsize == root.itemsize:
        base = (x.__array_interface__["data"][0] - root.ptr) // root.itemsize
        return [(base, x.size)] if x.size else []
    return _runs(_offsets(x, root))


class TrackedArray(np.ndarray):
    """A numpy array whose reads and writes a :class:`NumpyTracer` records.

    It is an ``ndarray`` (views, dtypes and ``out=`` work as usual); its
    memory belongs to one buffer of the trace."""

    _mt = None

    def __array_finalize__(self, obj):
        # Views of a tracked array stay in its buffer; anything else numpy
        # makes from one is new memory, tracked only when an operation says so.
        root = getattr(obj, "_mt", None)
        self._mt = root if root is not None and root.holds(self) else None

    # -- operations ---------------------------------------------------------

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = kwargs.get("out")
        outs = out if isinstance(out, tuple) else ((out,) if out is not None else ())
        tracer = _tracer(inputs, outs, kwargs.values())
        if tracer is None:
            return _call_plain(getattr(ufunc, method), inputs, kwargs)
        name = ufunc.__name__ if method == "__call__" else "%s_%s" % (ufunc.__name__, method)
        if method not in ("__call__", "reduce", "accumulate", "outer"):
            return tracer._fallback("numpy.%s.%s" % (ufunc.__name__, method), getattr(ufunc, method), inputs, kwargs)
        reads = _tracked_in(inputs, [])
        _tracked_in([v for k, v in kwargs.items() if k != "out"], reads)
        for x in reads:
            tracer._read(x)
        result = _call_plain(getattr(ufunc, method), inputs, kwargs)
        if outs:
            for o in outs:
                if _root(o) is not None:
                    tracer._write(o)
            return out[0] if isinstance(out, tuple) and len(out) == 1 else out
        return tracer._produce(result, [], name)

    def __array_function__(self, func, types, args, kwargs):
        tracer = _tracer(args, (), kwargs.values())
        name = func.__name__
        if tracer is None or name in _QUERIES:
            return func(*_plain(list(args)), **{k: _plain(v) for k, v in kwargs.items()})
        if name not in _VIEWS and name not in _READS_ALL and name not in _WRITES_ONLY:
            return tracer._fallback("numpy.%s" % name, func, args, kwargs)
        result = func(*_plain(list(args)), **{k: _plain(v) for k, v in kwargs.items()})
        if name in _WRITES_ONLY:
            return tracer._produce(result, [], name)
        out = kwargs.get("out")
        inputs = _tracked_in(list(args) + [v for k, v in kwargs.items() if k != "out"], [])
        if _root(out) is not None:
            tracer._produce(None, inputs, name)
            tracer._write(out)
            return out
        return tracer._produce(result, inputs, name)

    def __getitem__(self, key):
        root = _root(self)
        if root is None:
            return super().__getitem__(key)
        plain = self.view(np.ndarray)
        result = plain[_plain(key)]
        tracer = root.tracer
        for x in _tracked_in(key if isinstance(key, tuple) else (key,), []):
            tracer._read(x)
        if not isinstance(result, np.ndarray):
            tracer._read_offsets(root, _offsets(plain, root)[_plain(key)])
            return result
        if root.holds(result):
            return _tracked_view(result, root)
        tracer._read_offsets(root, _offsets(plain, root)[_plain(key)])
        return tracer._produce(result, [], "getitem")

    def __setitem__(self, key, value):
        root = _root(self)
        if root is None:
            return super().__setitem__(key, value)
        tracer = root.tracer
        for x in _tracked_in((value,), _tracked_in(key if isinstance(key, tuple) else (key,), [])):
            tracer._read(x)
        plain = self.view(np.ndarray)
        plain[_plain(key)] = _plain(value)
        tracer._write_offsets(root, _offsets(plain, root)[_plain(key)])

    # Methods that copy (numpy implements them in C, without dispatch).
    def copy(self, order="C"):
        return self._copying("copy", lambda a: a.copy(order))

    def astype(self, dtype, *args, **kwargs):
        return self._copying("astype", lambda a: a.astype(dtype, *args, **kwargs))

    def flatten(self, order="C"):
        return self._copying("flatten", lambda a: a.flatten(order))

    def ravel(self, order="C"):
        return self._maybe_view("ravel", lambda a: a.ravel(order))

    def reshape(self, *shape, **kwargs):
        return self._maybe_view("reshape", lambda a: a.reshape(*shape, **kwargs))

    def dot(self, other, out=None):
        return np.dot(self, other, out=out) if out is not None else np.dot(self, other)

    def fill(self, value):
        root = _root(self)
        self.view(np.ndarray).fill(value)
        if root is not None:
            root.tracer._write(self)

    def _copying(self, name, fn):
        root = _root(self)
        if root is None:
            return fn(self.view(np.ndarray))
        return root.tracer._produce(fn(self.view(np.ndarray)), [self], name, copy=True)

    def _maybe_view(self, name, fn):
        root = _root(self)
        result = fn(self.view(np.ndarray))
        if root is None:
            return result
        return root.tracer._produce(result, [self], name)

    # Printing and conversions read values without recording (they escape).
    def __repr__(self):
        return "Tracked" + repr(self.view(np.ndarray))

    def __str__(self):
        return str(self.view(np.ndarray))

    def __reduce__(self):
        return self.view(np.ndarray).__reduce__()


def _tracked_view(a, root):
    view = a.view(TrackedArray)
    view._mt = root
    return view


def _tracer(*groups):
    for group in groups:
        for x in _tracked_in(group, []):
            return x._mt.tracer
    return None


def _call_plain(fn, inputs, kwargs):
    kw = {k: (_plain(v) if k != "out" else _plain(v)) for k, v in kwargs.items()}
    return fn(*[_plain(x) for x in inputs], **kw)


# What numpy functions read and write, for __array_function__.
_VIEWS = frozenset(
    """reshape transpose ravel squeeze expand_dims swapaxes moveaxis rollaxis atleast_1d
    atleast_2d atleast_3d broadcast_to broadcast_arrays diagonal real imag""".split()
)
_QUERIES = frozenset(
    """shape ndim size result_type may_share_memory shares_memory iscomplexobj isrealobj
    can_cast min_scalar_type""".split()
)
_WRITES_ONLY = frozenset("zeros_like ones_like empty_like full_like".split())
_READS_ALL = frozenset(
    """dot vdot inner outer tensordot einsum matmul kron cross where sum nansum prod mean
    average std var max min amax amin nanmax nanmin argmax argmin any all clip around round
    concatenate stack vstack hstack dstack column_stack copy cumsum cumprod diff sort argsort
    tile repeat flip fliplr flipud roll count_nonzero nonzero flatnonzero argwhere unique
    allclose isclose array_equal array_equiv trace tril triu pad select
    maximum minimum abs absolute median percentile quantile nanmean searchsorted take
    take_along_axis append insert delete norm
    ascontiguousarray asfortranarray""".split()
)


class NumpyTracer(object):
    """A trace of a numpy program; use it as a context manager.

    ``NumpyTracer(path, metadata=None, force=False)``; ``array(a, name,
    role="input")`` registers an array and returns its tracked view;
    ``name(x, name, role=None)`` names a result's buffer (a name used before
    means the same buffer, as the seed trackers reuse ``h`` every step);
    ``step()`` starts the next step.
    """

    def __init__(self, path, metadata=None, force=False):
        meta = {"tracer": "memtrace.NumpyTracer", "numpy": np.__version__}
        meta.update(metadata or {})
        self._writer = TraceWriter(path, metadata=meta, producer="memtrace-python NumpyTracer", force=force)
        self._writer._finalizer.detach()
        self.path = self._writer.path
        self._open = True
        self._counter = 0
        self._warned = set()
        self._held = []  # (root, size) of results not yet recorded, so name() can still name them
        filename, lineno = _caller_line(1)
        import weakref

        self._finalizer = weakref.finalize(
            self, _warn_unclosed, (self.path, filename, lineno, self._writer._spool, "NumpyTracer")
        )

    # -- the user's API -------------------------------------------------------

    def array(self, a, name, role="input"):
        """Registers ``a`` (no event) as buffer ``name``; returns its tracked view."""
        self._check_open()
        self._settle()
        a = np.asarray(a)
        if isinstance(a, TrackedArray):
            a = a.view(np.ndarray)
        if not a.flags.c_contiguous:
            a = np.ascontiguousarray(a)
        return self._adopt(a, name, role, named=True)

    def name(self, x, name, role=None):
        """Gives result ``x`` the buffer ``name`` (and ``role``), right after
        the operation that made it; a name used before means the same
        buffer, as the seed trackers write ``h`` every step. Returns ``x``."""
        root = _root(x)
        if root is None:
            raise ValueError("name(): not a tracked array of this trace")
        if root.buffer is not None:
            raise ValueError(
                "name(%r): name a result right after the operation that made it, before any other operation"
                % (name,)
            )
        if role is not None and role not in ROLES:
            raise ValueError("role %r is not one of %s" % (role, ", ".join(ROLES)))
        existing = self._writer._buffers.get(name)
        if existing is not None:
            if existing.elem_size != root.itemsize:
                raise ValueError("buffer %r holds %d-byte elements, not %d" % (name, existing.elem_size, root.itemsize))
            if role is not None and role != existing.role:
                raise ValueError("buffer %r has role %r, not %r" % (name, existing.role, role))
            root.buffer = existing
        else:
            root.pending = (name, role if role is not None else "activation")
        root.named = True
        return x

    def step(self):
        """Starts the next training step."""
        self._settle()
        self._writer.step()

    def close(self):
        """Writes the trace. Idempotent."""
        if self._open:
            self._settle()
            self._open = False
            self._finalizer.detach()
            self._writer.close()

    def abort(self):
        """Discards the trace: no file is written."""
        if self._open:
            self._open = False
            self._finalizer.detach()
            self._writer.abort()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False

    # -- recording ------------------------------------------------------------

    def _check_open(self):
        if not self._open:
            raise ValueError("%s: the trace is closed" % self.path)

    def _adopt(self, a, name, role, named):
        """``a`` as a tracked array of buffer ``name`` (created if new)."""
        writer = self._writer
        buf = writer._buffers.get(name)
        if buf is not None:
            if buf.elem_size != a.itemsize:
                raise ValueError("buffer %r holds %d-byte elements, not %d" % (name, buf.elem_size, a.itemsize))
            if role is not None and role != buf.role:
                raise ValueError("buffer %r has role %r, not %r" % (name, buf.role, role))
        else:
            buf = writer._buffer(name, role, a.itemsize)
        writer._sink.declare(buf.id, a.size)
        view = a.view(TrackedArray)
        view._mt = _Root(self, buf, a, named)
        return view

    def _settle(self):
        """Registers the results held back for ``name()`` and records their writes."""
        held, self._held = self._held, []
        for root, size in held:
            if root.buffer is None:
                name, role = root.pending
                if name is None:
                    self._counter += 1
                    name = "%s_%d" % (root.op, self._counter)
                root.buffer = self._writer._buffer(name, role, root.itemsize)
            self._writer._sink.declare(root.buffer.id, size)
            if size:
                self._writer._sink.record(root.buffer.id, 1, 0, size)

    def _record_runs(self, root, op, runs):
        if self._held:
            self._settle()
        self._check_open()
        record = self._writer._sink.record
        buffer = root.buffer.id
        for start, length in runs:
            record(buffer, op, start, length)

    def _read(self, x):
        root = x._mt
        self._record_runs(root, 0, _view_runs(x, root))

    def _write(self, x):
        root = x._mt
        self._record_runs(root, 1, _view_runs(x, root))

    def _read_offsets(self, root, offsets):
        self._record_runs(root, 0, _runs(offsets))

    def _write_offsets(self, root, offsets):
        self._record_runs(root, 1, _runs(offsets))

    def _produce(self, result, inputs, name, copy=False):
        """The value of an operation that read ``inputs``: arrays of
        ``result`` that are views of a tracked buffer stay in it (an
        operation that only makes views records nothing); the others are new
        buffers, written whole after the inputs are read."""
        arrays = _arrays_in(result, [])
        fresh = copy or any(self._root_holding(a, inputs) is None for a in arrays) or not arrays
        if fresh:
            for x in inputs:
                self._read(x)
        return self._wrap_result(result, inputs, name, copy)

    def _root_holding(self, a, inputs):
        for x in inputs:
            root = x._mt
            if root is not None and root.holds(a):
                return root
        return None

    def _wrap_result(self, result, inputs, name, copy):
        if isinstance(result, (tuple, list)):
            return type(result)(self._wrap_result(r, inputs, name, copy) for r in result)
        if not isinstance(result, (np.ndarray, np.generic)):
            return result
        a = np.asarray(result)
        if a.dtype == object:
            return result
        root = None if copy else self._root_holding(a, inputs)
        if root is not None:
            return _tracked_view(a, root)
        if not a.flags.c_contiguous:
            a = np.ascontiguousarray(a)
        if self._held:
            self._settle()
        view = a.view(TrackedArray)
        root = _Root(self, None, a, named=False)
        root.op = name
        root.pending = (None, "activation")
        view._mt = root
        self._held.append((root, a.size))
        return view

    def _fallback(self, name, fn, args, kwargs):
        if name not in self._warned:
            self._warned.add(name)
            filename, lineno = _caller_line(2)
            warnings.warn_explicit(
                "memtrace: %s is not traced: it ran on plain arrays, recorded nothing, "
                "and its result is not tracked" % name,
                UserWarning,
                filename,
                lineno,
            )
        return fn(*_plain(list(args)), **{k: _plain(v) for k, v in kwargs.items()})
