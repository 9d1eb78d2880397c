"""Automatic tracing of plain Python functions: ``trace_function``.

Every ``int``, ``float`` and ``complex`` inside the arguments is wrapped as a
:class:`Traced` scalar; arithmetic on traced scalars records its loads, takes
a tick for the operation and records the store of a fresh result, exactly as
the researchers' tracer does (``../shared/reference/dmd/README.md``,
"Files"). The rules, including what escapes tracing, are in
``docs/python-tracing.md``.
"""

import inspect
import math
import numbers
import operator
import os

from .writer import _EVENT_PACK, _U32, TraceWriter, _caller_line

__all__ = ["trace_function", "Traced", "PyTape"]

_PLAIN = (int, float, complex)
# Events are handed to the writer's sink in blocks of this many events.
_BLOCK = 1 << 12


class PyTape(object):
    """The clock and events of a traced run: each method records what one
    kind of operation does (loads, a tick for the operation, stores of
    fresh elements of buffer ``vbuf``) and returns the offset of the first
    fresh element. ``memtrace._native.Tape`` does the same in Rust; this is
    its reference, and the fallback where the extension is not built."""

    def __init__(self, sink, vbuf):
        self.sink = sink
        self.vbuf = vbuf
        self.tick = 0
        self.next = 0
        self._events = []

    def _load(self, offset, buffer):
        if self.tick > _U32:
            raise OverflowError("the traced run exceeds 2^32 ticks: the format's step field is 32 bits")
        self._events.append(_EVENT_PACK(offset, 1, buffer, self.tick, 0))
        self.tick += 1

    def _store(self):
        if self.tick > _U32:
            raise OverflowError("the traced run exceeds 2^32 ticks: the format's step field is 32 bits")
        n = self.next
        self._events.append(_EVENT_PACK(n, 1, self.vbuf, self.tick, 1))
        self.tick += 1
        self.next = n + 1
        if len(self._events) >= _BLOCK:
            self.flush()
        return n

    def binary(self, a_offset, a_buffer, b_offset, b_buffer):
        """``a op b``, both traced: load a, load b, tick, store."""
        self._load(a_offset, a_buffer)
        self._load(b_offset, b_buffer)
        self.tick += 1
        return self._store()

    def unary(self, offset, buffer):
        """An operation with one traced operand: load, tick, store."""
        self._load(offset, buffer)
        self.tick += 1
        return self._store()

    def compare(self, a_offset, a_buffer, b_offset, b_buffer):
        """A comparison of two traced operands: load, load, tick."""
        self._load(a_offset, a_buffer)
        self._load(b_offset, b_buffer)
        self.tick += 1

    def compare1(self, offset, buffer):
        """A comparison with a constant: load, tick."""
        self._load(offset, buffer)
        self.tick += 1

    def load(self, offset, buffer):
        """One load (returning a result): load, tick."""
        self._load(offset, buffer)
        if len(self._events) >= _BLOCK:
            self.flush()

    def general(self, loads, stores):
        """Loads of ``loads`` (offset, buffer, offset, buffer, ...), one
        tick, ``stores`` stores; returns the first stored offset."""
        for i in range(0, len(loads), 2):
            self._load(loads[i], loads[i + 1])
        self.tick += 1
        first = self.next
        for _ in range(stores):
            self._store()
        return first

    def flush(self):
        if self._events:
            if self.sink is not None:
                self.sink.extend_raw(b"".join(self._events))
            self._events = []


def _tape_class():
    """The Rust tape when the extension is built (and MEMTRACE_PURE_PYTHON
    is not set), else the Python one."""
    if os.environ.get("MEMTRACE_PURE_PYTHON"):
        return PyTape
    try:
        from ._native import Tape
    except ImportError:
        return PyTape
    return Tape


# Outside trace_function, traced values still compute but record nothing.
_IDLE = PyTape(None, 0)
_tape = _IDLE


class Traced(object):
    """A scalar whose loads and stores are recorded: ``value`` is the plain
    number, ``buffer`` and ``offset`` the element holding it."""

    __slots__ = ("value", "buffer", "offset")

    def __init__(self, value, buffer, offset):
        self.value = value
        self.buffer = buffer
        self.offset = offset

    # Escapes: conversions and truth tests give the plain value, record nothing.
    def __float__(self):
        return float(self.value)

    def __int__(self):
        return int(self.value)

    def __complex__(self):
        return complex(self.value)

    def __index__(self):
        return operator.index(self.value)

    def __bool__(self):
        return bool(self.value)

    def __hash__(self):
        return hash(self.value)

    def __repr__(self):
        return "Traced(%r)" % (self.value,)

    def __str__(self):
        return str(self.value)

    def __format__(self, spec):
        return format(self.value, spec)


def _binary(op, reflected=False):
    """The method for ``op``: loads the traced operands left to right (one
    tick each), one tick for the operation, stores a fresh result."""

    if reflected:

        def method(self, other):
            # Only reached when ``other`` is not traced (a constant on the left).
            if not isinstance(other, _PLAIN) and not isinstance(other, numbers.Number):
                return NotImplemented
            value = op(other, self.value)
            tape = _tape
            return Traced(value, tape.vbuf, tape.unary(self.offset, self.buffer))

    else:

        def method(self, other):
            if type(other) is Traced:
                value = op(self.value, other.value)
                tape = _tape
                return Traced(value, tape.vbuf, tape.binary(self.offset, self.buffer, other.offset, other.buffer))
            if isinstance(other, _PLAIN) or isinstance(other, numbers.Number):
                value = op(self.value, other)
                tape = _tape
                return Traced(value, tape.vbuf, tape.unary(self.offset, self.buffer))
            return NotImplemented

    method.__name__ = op.__name__
    return method


def _unary(op):
    def method(self, *constants):
        value = op(self.value, *constants)
        tape = _tape
        return Traced(value, tape.vbuf, tape.unary(self.offset, self.buffer))

    method.__name__ = op.__name__
    return method


def _compare(op):
    """Loads the traced operands, one tick for the comparison, stores
    nothing: the result is a plain ``bool``."""

    def method(self, other):
        if type(other) is Traced:
            result = op(self.value, other.value)
            _tape.compare(self.offset, self.buffer, other.offset, other.buffer)
            return result
        if isinstance(other, _PLAIN) or isinstance(other, numbers.Number):
            result = op(self.value, other)
            _tape.compare1(self.offset, self.buffer)
            return result
        return NotImplemented

    return method


def _divmod_method(reflected):
    def method(self, other):
        if type(other) is Traced:
            pair = (self, other)
        elif isinstance(other, _PLAIN) or isinstance(other, numbers.Number):
            pair = (other, self) if reflected else (self, other)
        else:
            return NotImplemented
        q, r = divmod(*[p.value if type(p) is Traced else p for p in pair])
        loads = []
        for p in pair:
            if type(p) is Traced:
                loads += (p.offset, p.buffer)
        tape = _tape
        n = tape.general(tuple(loads), 2)
        return Traced(q, tape.vbuf, n), Traced(r, tape.vbuf, n + 1)

    return method


for _name, _op in (
    ("add", operator.add), ("sub", operator.sub), ("mul", operator.mul),
    ("truediv", operator.truediv), ("floordiv", operator.floordiv), ("mod", operator.mod),
    ("pow", operator.pow), ("and", operator.and_), ("or", operator.or_), ("xor", operator.xor),
    ("lshift", operator.lshift), ("rshift", operator.rshift),
):
    setattr(Traced, "__%s__" % _name, _binary(_op))
    setattr(Traced, "__r%s__" % _name, _binary(_op, reflected=True))
for _name, _op in (
    ("neg", operator.neg), ("pos", operator.pos), ("abs", operator.abs), ("invert", operator.invert),
    ("round", round), ("trunc", math.trunc), ("floor", math.floor), ("ceil", math.ceil),
):
    setattr(Traced, "__%s__" % _name, _unary(_op))
for _name, _op in (
    ("lt", operator.lt), ("le", operator.le), ("gt", operator.gt),
    ("ge", operator.ge), ("eq", operator.eq), ("ne", operator.ne),
):
    setattr(Traced, "__%s__" % _name, _compare(_op))
Traced.__divmod__ = _divmod_method(False)
Traced.__rdivmod__ = _divmod_method(True)
# Defining __eq__ would otherwise drop the hash.
Traced.__hash__ = lambda self: hash(self.value)


def _is_number(x):
    return (isinstance(x, _PLAIN) or isinstance(x, numbers.Number)) and not _is_bool(x)


def _is_bool(x):
    return isinstance(x, bool) or type(x).__name__ == "bool_"


def _wrap(obj, buffer, counter, where):
    """``obj`` with every scalar replaced by a traced element of ``buffer``,
    numbered in flattened order; ``counter`` is a one-item list."""
    kind = type(obj)
    if kind is list or kind is tuple:
        # The common case, a list of plain numbers, without a call per element.
        n = counter[0]
        out = []
        for x in obj:
            k = type(x)
            if k is float or k is int:
                out.append(Traced(x, buffer, n))
                n += 1
            else:
                counter[0] = n
                out.append(_wrap(x, buffer, counter, where))
                n = counter[0]
        counter[0] = n
        return out if kind is list else tuple(out)
    if _is_number(obj):
        n = counter[0]
        counter[0] = n + 1
        value = obj.item() if hasattr(obj, "item") and not isinstance(obj, _PLAIN) else obj
        return Traced(value, buffer, n)
    if type(obj) is Traced:
        raise TypeError("%s: already a traced value (nested trace_function calls are not supported)" % where)
    if isinstance(obj, (list, tuple)):
        # subclasses (a namedtuple, ...) become plain lists and tuples
        return _wrap(list(obj) if isinstance(obj, list) else tuple(obj), buffer, counter, where)
    if type(obj).__module__ == "numpy" and type(obj).__name__ == "ndarray":
        import numpy

        if obj.dtype.kind not in "iufc":
            raise TypeError("%s: a numpy array of dtype %s, not of numbers" % (where, obj.dtype))
        out = numpy.empty(obj.shape, dtype=object)
        flat = out.reshape(-1)
        for i, x in enumerate(obj.reshape(-1).tolist()):
            flat[i] = Traced(x, buffer, counter[0] + i)
        counter[0] += obj.size
        return out
    if _is_bool(obj):
        raise TypeError("%s is a bool: only numbers (int, float, complex) are traced" % where)
    raise TypeError(
        "%s is a %s: trace_function takes numbers, and lists, tuples or numpy arrays of them"
        % (where, type(obj).__name__)
    )


def _unwrap(obj, tape):
    """``obj`` with plain values, loading each traced scalar once, in order."""
    if type(obj) is Traced:
        tape.load(obj.offset, obj.buffer)
        return obj.value
    if isinstance(obj, list):
        return [_unwrap(x, tape) for x in obj]
    if isinstance(obj, tuple):
        return tuple(_unwrap(x, tape) for x in obj)
    if isinstance(obj, dict):
        return {k: _unwrap(v, tape) for k, v in obj.items()}
    if type(obj).__module__ == "numpy" and type(obj).__name__ == "ndarray" and obj.dtype == object:
        import numpy

        plain = [_unwrap(x, tape) for x in obj.reshape(-1).tolist()]
        return numpy.array(plain).reshape(obj.shape) if plain else numpy.empty(obj.shape)
    return obj


def _argument_names(fn, args):
    try:
        bound = inspect.signature(fn).bind(*args)
    except (TypeError, ValueError) as e:
        if isinstance(e, TypeError) and "argument" in str(e):
            raise TypeError("%s%s: %s" % (getattr(fn, "__name__", "fn"), "()", e)) from None
        return [("arg%d" % i, a) for i, a in enumerate(args)]
    names = []
    for name, value in bound.arguments.items():
        kind = inspect.signature(fn).parameters[name].kind
        if kind == inspect.Parameter.VAR_POSITIONAL:
            names.extend(("%s[%d]" % (name, i), v) for i, v in enumerate(value))
        else:
            names.append((name, value))
    return names


def trace_function(fn, *args, path, metadata=None, elem_size=8, values="values", force=False):
    """Runs ``fn(*args)`` on traced scalars, writes the trace to ``path`` and
    returns ``fn``'s result with plain values.

    Each argument is an input buffer named after its parameter (``args[i]``
    for ``*args``), holding its scalars in flattened order (nested lists and
    tuples, numpy arrays in C order). Every result of an operation is a fresh
    element of the buffer ``values`` (role ``other``). Every element is
    ``elem_size`` bytes. The step field of each event is the tracer's tick
    clock. When ``fn`` returns, every traced scalar of its result is loaded
    once more, in order. ``path`` follows :class:`TraceWriter` (``.zst``
    compresses, an existing file needs ``force=True``).
    """
    global _tape
    if _tape is not _IDLE:
        raise RuntimeError("trace_function is already running: nested traces are not supported")
    if not callable(fn):
        raise TypeError("trace_function: %r is not callable" % (fn,))
    named = _argument_names(fn, args)
    meta = {"tracer": "memtrace.trace_function", "function": getattr(fn, "__qualname__", repr(fn))}
    meta.update(metadata or {})
    writer = TraceWriter(path, metadata=meta, producer="memtrace-python trace_function", force=force)
    filename, lineno = _caller_line(1)
    writer._finalizer.detach()
    try:
        wrapped = []
        buffers = []
        for position, (name, value) in enumerate(named):
            buf = writer._buffer(name, "input", elem_size)
            counter = [0]
            where = "argument %r (position %d)" % (name, position + 1)
            wrapped.append(_wrap(value, buf.id, counter, where))
            writer._sink.declare(buf.id, counter[0])
            buffers.append(buf)
        if values in writer._buffers:
            raise ValueError("values=%r is also the name of an argument" % (values,))
        vbuf = writer._buffer(values, "other", elem_size)
        tape = _tape_class()(writer._sink, vbuf.id)
        _tape = tape
        try:
            result = fn(*wrapped)
            plain = _unwrap(result, tape)
            tape.flush()
        finally:
            _tape = _IDLE
        writer._sink.declare(vbuf.id, tape.next)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    del filename, lineno
    return plain
