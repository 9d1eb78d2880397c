"""The trace writer: ``TraceWriter``, with the seed trackers' API.

An experiment that already calls ``tracker.write(name, size)`` and
``tracker.read(name, size)`` emits a memtrace trace by swapping its tracker
for a :class:`TraceWriter`::

    tracker = TraceWriter("run.zst")    # was: tracker = MemTracker()
    tracker.write("W1", 20000)          # whole buffer, elements [0, 20000)
    tracker.read("W1")                  # size defaults to the last written size
    tracker.read("W1", 250, offset=500) # a range
    tracker.step()                      # the next training step
    print(tracker.summary())            # writes the trace, returns `analyze ard`'s figures

The file follows ``docs/trace-format.md`` (format version 1) byte for byte.
A path ending in ``.zst`` (any case) is compressed with the ``zstandard``
package when it is installed (otherwise the file is written raw, which every
reader accepts whatever the name, and a warning says so). Memory stays
bounded: events are spooled to a temporary file next to the output, which is
renamed into place only when the trace is complete. Every limit of the format
is checked by the call that would break it, not at the end of the run.
"""

import functools
import itertools
import operator
import os
import stat
import struct
import sys
import tempfile
import warnings
import weakref
import zlib

__all__ = ["TraceWriter", "ROLES", "FORMAT_VERSION", "guess_role"]

FORMAT_VERSION = 1
MAGIC = b"MEMTRACE"
FOOTER_MAGIC = b"MTFOOTER"
EVENT = struct.Struct("<QIIIB3x")  # offset, length, buffer id, step, op
_EVENT_PACK = EVENT.pack
ROLES = ("parameter", "input", "activation", "gradient", "accumulator", "other")
MAX_NAME_LEN = 4096
MAX_VALUE_LEN = 1 << 20
MAX_BUFFERS = 1 << 20
MAX_METADATA = 1 << 16
MAX_HEADER_LEN = 64 << 20
_U32 = (1 << 32) - 1
_SPOOL_EVENTS = 1 << 12
_OTHER_COMPRESSIONS = ("gz", "gzip", "tgz", "bz2", "xz", "lz4", "lzma", "zip", "7z", "br")


class UnclosedTraceWarning(UserWarning):
    """A trace writer or tracer was collected without ``close()``: its trace
    was not written. Shown by default, at the line that created it."""


def guess_role(name):
    """The role of a buffer from its name, as ``analyze import`` guesses it.

    ``W1``, ``b2`` parameters; ``x``, ``y`` inputs; ``acc_*`` accumulators;
    other ``d*`` names gradients; the rest activations. Suffixes ``_tileN``
    and ``_N`` (per-sample copies) are ignored.
    """
    base = name
    i = base.find("_tile")
    if i >= 0:
        base = base[:i]
    head, sep, tail = base.rpartition("_")
    if sep and tail and tail.isdigit() and tail.isascii():
        base = head
    if base.startswith("acc_"):
        return "accumulator"
    if len(base) > 1 and base[0] in "Wb" and base[1:].isdigit() and base[1:].isascii():
        return "parameter"
    if base in ("x", "y"):
        return "input"
    if len(base) > 1 and base.startswith("d") and base != "data":
        return "gradient"
    return "activation"


def as_count(value, what, minimum=0):
    """``value`` as a Python int if it is an integer (``int``, numpy integers,
    anything with ``__index__``) of at least ``minimum``; ``bool`` is refused
    (``write("W1", True)`` is a mistake, not a size of 1)."""
    if type(value) is int and value >= minimum:
        return value
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        raise ValueError("%s must be an integer, not a bool (%r)" % (what, value))
    try:
        n = operator.index(value)
    except TypeError:
        raise ValueError("%s must be an integer, got %r" % (what, value)) from None
    if n < minimum:
        raise ValueError("%s must be at least %d, got %d" % (what, minimum, n))
    return n


def _str16_len(s, what):
    n = len(s.encode("utf-8"))
    if n > MAX_NAME_LEN:
        raise ValueError("%s is %d bytes long; at most %d" % (what, n, MAX_NAME_LEN))
    return n


def _str16(s):
    b = s.encode("utf-8")
    return struct.pack("<H", len(b)) + b


def check_output(path, force):
    """Refuses, before any work, an output the run could not write or should
    not replace; every message names ``path``. Returns the folder."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        what = "not a directory" if os.path.exists(directory) else "no such directory"
        raise FileNotFoundError("%s: cannot write into %s: %s" % (path, os.path.dirname(path) or ".", what))
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError("%s: cannot write into %s: permission denied" % (path, os.path.dirname(path) or "."))
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return directory
    if not stat.S_ISREG(st.st_mode):
        raise FileExistsError("%s exists and is not a regular file; a trace is written as a new file" % path)
    if not force:
        raise FileExistsError("%s already exists; pass force=True to replace it" % path)
    return directory


class _Buffer(object):
    """A buffer's header entry; its end and last size live in the sink."""

    __slots__ = ("id", "name", "role", "elem_size")

    def __init__(self, id_, name, role, elem_size):
        self.id = id_
        self.name = name
        self.role = role
        self.elem_size = elem_size


def _warn_unclosed(state):
    """Called when a writer is collected (or the interpreter exits) open."""
    path, filename, lineno, spool, kind = state
    try:
        spool.close()
    except Exception:
        pass
    warnings.warn_explicit(
        "%s: %s collected without close(): the trace was NOT written "
        "(call close() or summary(), or use `with`)" % (path, kind),
        UnclosedTraceWarning,
        filename,
        lineno,
    )


def _caller_line(depth):
    """File and line of the user code ``depth`` frames up (for warnings)."""
    try:
        frame = sys._getframe(depth + 1)
        while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] in ("memtrace", "numpy"):
            frame = frame.f_back
        if frame is not None:
            return frame.f_code.co_filename, frame.f_lineno
    except (AttributeError, ValueError):
        pass
    return "<unknown>", 0


class PySink(object):
    """The events of a trace being written: the fast paths of ``read`` and
    ``write``, each buffer's end and last written size, and the spool of
    packed events. ``memtrace._native.EventSink`` does the same in Rust
    (several times faster per call); this is its reference, and the
    fallback where the extension is not built.

    Anything the fast path does not take (a new buffer, a role, a numpy
    integer, a closed trace, a value out of range) goes to ``slow(op, name,
    size, offset, role, elem_size)``, which checks it, registers buffers and
    calls ``record``.
    """

    def __init__(self, slow, spool):
        self._slow = slow
        self._spool = spool
        self._ids = {}
        self._end = []
        self._last = []
        self._pending = []  # (offset, length, buffer id, step, op), packed in blocks
        self.step = 0
        self.count = 0
        self.closed = False

    def read(self, name, size=None, offset=0):
        buf = self._ids.get(name)
        if buf is not None and not self.closed:
            if size is None:
                size = self._last[buf]
            if size.__class__ is int and offset.__class__ is int and 0 < size <= 4294967295 and offset >= 0:
                end = offset + size
                if end < 18446744073709551616:
                    if end > self._end[buf]:
                        self._end[buf] = end
                    pending = self._pending
                    pending.append((offset, size, buf, self.step, 0))
                    if len(pending) >= _SPOOL_EVENTS:
                        self.flush()
                    return
        self._slow(0, name, size, offset, None, None)

    def write(self, name, size, offset=0, role=None, elem_size=None):
        buf = self._ids.get(name)
        if buf is not None and role is None and not self.closed:
            if size.__class__ is int and offset.__class__ is int and 0 < size <= 4294967295 and offset >= 0:
                end = offset + size
                if end < 18446744073709551616:
                    if end > self._end[buf]:
                        self._end[buf] = end
                    self._last[buf] = size
                    pending = self._pending
                    pending.append((offset, size, buf, self.step, 1))
                    if len(pending) >= _SPOOL_EVENTS:
                        self.flush()
                    return
        self._slow(1, name, size, offset, role, elem_size)

    def register(self, name):
        """Adds buffer ``name``; returns its id (the order of registration)."""
        self._ids[name] = len(self._end)
        self._end.append(0)
        self._last.append(None)
        return len(self._end) - 1

    def record(self, buf, op, offset, size):
        """Records elements [offset, offset + size) of buffer id ``buf``
        (checked by the caller), as events of at most 2^32 - 1 elements."""
        end = offset + size
        if end > self._end[buf]:
            self._end[buf] = end
        if op == 1:
            self._last[buf] = size
        while size > 0:
            n = min(size, _U32)
            self._pending.append((offset, n, buf, self.step, op))
            offset += n
            size -= n
        if len(self._pending) >= _SPOOL_EVENTS:
            self.flush()

    def declare(self, buf, end):
        """Buffer ``buf`` holds at least ``end`` elements (touched or not)."""
        if end > self._end[buf]:
            self._end[buf] = end

    def end(self, buf):
        return self._end[buf]

    def last_size(self, buf):
        return self._last[buf]

    def extend_raw(self, data):
        """Appends packed events (24 bytes each, little-endian)."""
        self.flush()
        self._spool.write(data)
        self.count += len(data) // 24

    def flush(self):
        if self._pending:
            self._spool.write(b"".join(itertools.starmap(_EVENT_PACK, self._pending)))
            self.count += len(self._pending)
            self._pending = []


def _sink_class():
    """The Rust event sink when the extension is built (and not switched
    off with MEMTRACE_PURE_PYTHON=1), else the Python one."""
    if os.environ.get("MEMTRACE_PURE_PYTHON"):
        return PySink
    try:
        from ._native import EventSink
    except ImportError:
        return PySink
    return EventSink


def _slow_path(writer_ref, op, name, size, offset, role, elem_size):
    writer = writer_ref()
    if writer is None:
        raise ValueError("the trace writer is gone")
    writer._slow(op, name, size, offset, role, elem_size)


class TraceWriter(object):
    """A memtrace trace being written. Use it as a context manager, or call
    ``close()`` (or ``summary()``) at the end.

    ``TraceWriter(path, metadata=None, producer="memtrace-python", force=False)``.
    ``metadata`` is a mapping of strings (values are converted with ``str``).
    An existing ``path`` is refused unless ``force=True``; a missing or
    unwritable folder is refused here, before the run.
    """

    _kind = "TraceWriter"

    def __init__(self, path, metadata=None, producer="memtrace-python", producer_version=None, force=False):
        from . import __version__

        self.path = os.fspath(path)
        directory = check_output(self.path, force)
        self._force = force
        self.producer = str(producer)
        self.producer_version = str(producer_version if producer_version is not None else __version__)
        self._header_len = 24 + 4 + 4 + 2 + _str16_len(self.producer, "producer name")
        self._header_len += 2 + _str16_len(self.producer_version, "producer version")
        self.metadata = []
        for k, v in (metadata or {}).items():
            self.set_metadata(k, v)
        self._buffers = {}
        self._order = []
        self._closed = False
        try:
            self._spool = tempfile.TemporaryFile(dir=directory, prefix=".memtrace-events-")
        except OSError as e:
            raise type(e)(e.errno, "%s: cannot write into %s: %s" % (self.path, directory, e.strerror)) from None
        self._sink = _sink_class()(functools.partial(_slow_path, weakref.ref(self)), self._spool)
        # The hot calls go straight to the sink (no Python frame with the Rust one).
        self.read = self._sink.read
        self.write = self._sink.write
        filename, lineno = _caller_line(1)
        self._finalizer = weakref.finalize(
            self, _warn_unclosed, (self.path, filename, lineno, self._spool, self._kind)
        )

    # -- the tracker API ---------------------------------------------------

    def write(self, name, size, offset=0, role=None, elem_size=4):
        """Records a write of elements ``[offset, offset + size)`` of ``name``.

        (An instance's ``write`` is its event sink's: this is its documentation.)"""
        self._sink.write(name, size, offset, role, elem_size)

    def read(self, name, size=None, offset=0):
        """Records a read; ``size`` defaults to the last size written to ``name``.

        (An instance's ``read`` is its event sink's: this is its documentation.)"""
        self._sink.read(name, size, offset)

    def _slow(self, op, name, size, offset, role, elem_size):
        """Every call the sink's fast path does not take: checked here."""
        self._check_open()
        buf = self._buffers.get(name)
        if op == 0 and size is None:
            if buf is None or self._sink.last_size(buf.id) is None:
                raise ValueError("read(%r) without a size, but %r was never written" % (name, name))
            size = self._sink.last_size(buf.id)
        if buf is None or role is not None:
            buf = self._buffer(name, role, 4 if elem_size is None else elem_size)
        self._record(buf, op, offset, size)

    def step(self):
        """Starts the next training step."""
        self._check_open()
        if self._sink.step >= _U32:
            raise ValueError("more than 2^32 - 1 steps: the format's step field is 32 bits")
        self._sink.step += 1

    def set_metadata(self, key, value):
        """Sets one metadata entry (replacing an entry of the same key)."""
        key, value = str(key), str(value)
        kept = [(k, v) for k, v in self.metadata if k != key]
        if len(kept) >= MAX_METADATA:
            raise ValueError("a trace holds at most %d metadata entries" % MAX_METADATA)
        n = len(value.encode("utf-8"))
        if n > MAX_VALUE_LEN:
            raise ValueError("metadata value of %r is %d bytes; at most %d" % (key, n, MAX_VALUE_LEN))
        grow = 2 + _str16_len(key, "metadata key") + 4 + n
        for k, v in self.metadata:
            if k == key:
                grow -= 6 + len(k.encode("utf-8")) + len(v.encode("utf-8"))
        self._grow_header(grow)
        self.metadata = kept + [(key, value)]

    def summary(self, **options):
        """Writes the trace (as ``close()``) and returns ``analyze ard``'s
        figures as a dict: the seed trackers' ``summary()``, from the file."""
        self.close()
        from .analyze import analyze

        return analyze(self.path, "ard", **options)

    # -- lifecycle ---------------------------------------------------------

    def close(self):
        """Writes the trace and renames it into place. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._sink.closed = True
        self._finalizer.detach()
        try:
            self._sink.flush()
            self._finish()
        finally:
            self._spool.close()

    def abort(self):
        """Discards everything: no file is created under the output name."""
        if not self._closed:
            self._closed = True
            self._sink.closed = True
            self._finalizer.detach()
            self._spool.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False

    # -- internals ---------------------------------------------------------

    def _check_open(self):
        if self._closed:
            raise ValueError("%s: the trace is closed" % self.path)

    def _grow_header(self, n):
        length = self._header_len + n
        if length + 7 > MAX_HEADER_LEN:
            raise ValueError(
                "the header would take more than %d bytes (the format's limit): too many or too long names"
                % MAX_HEADER_LEN
            )
        self._header_len = length

    def _buffer(self, name, role, elem_size):
        self._check_open()
        buf = self._buffers.get(name)
        if buf is None:
            if not isinstance(name, str) or not name:
                raise ValueError("a buffer name must be a non-empty string, got %r" % (name,))
            if len(self._order) >= MAX_BUFFERS:
                raise ValueError("a trace holds at most %d buffers" % MAX_BUFFERS)
            if any(ord(c) < 32 or ord(c) == 127 for c in name):
                raise ValueError("buffer name %r holds a control character" % (name,))
            n = _str16_len(name, "buffer name")
            role = role if role is not None else guess_role(name)
            if role not in ROLES:
                raise ValueError("role %r is not one of %s" % (role, ", ".join(ROLES)))
            elem_size = as_count(elem_size, "element size", 1)
            if elem_size > _U32:
                raise ValueError("element size %d does not fit in 32 bits" % elem_size)
            self._grow_header(19 + n)
            buf = _Buffer(self._sink.register(name), name, role, elem_size)
            self._buffers[name] = buf
            self._order.append(buf)
        elif role is not None and role != buf.role:
            raise ValueError("buffer %r has role %r, not %r" % (name, buf.role, role))
        return buf

    def _record(self, buf, op, offset, size):
        self._check_open()
        size = as_count(size, "size", 1)
        offset = as_count(offset, "offset", 0)
        if offset + size >= 1 << 64:
            raise ValueError("offset + size of %r exceeds 2^64" % buf.name)
        self._sink.record(buf.id, op, offset, size)

    def _header(self):
        body = bytearray()
        body += _str16(self.producer)
        body += _str16(self.producer_version)
        body += struct.pack("<I", len(self.metadata))
        for k, v in self.metadata:
            vb = v.encode("utf-8")
            body += _str16(k) + struct.pack("<I", len(vb)) + vb
        body += struct.pack("<I", len(self._order))
        for b in self._order:
            body += struct.pack("<IIQB", b.id, b.elem_size, self._sink.end(b.id), ROLES.index(b.role))
            body += _str16(b.name)
        length = 24 + len(body)
        length += -length % 8
        prefix = MAGIC + struct.pack("<IIII", FORMAT_VERSION, length, EVENT.size, 0)
        return bytes(prefix + body + b"\0" * (length - 24 - len(body)))

    def _finish(self):
        header = self._header()
        directory = os.path.dirname(os.path.abspath(self.path))
        base = os.path.basename(self.path)
        # Checked again: the file may have appeared during the run.
        check_output(self.path, self._force)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + base + ".", suffix=".partial")
        try:
            with os.fdopen(fd, "wb") as raw_file:
                out, finish = self._output(raw_file)
                crc = zlib.crc32(header)
                out.write(header)
                self._spool.seek(0)
                while True:
                    chunk = self._spool.read(1 << 20)
                    if not chunk:
                        break
                    crc = zlib.crc32(chunk, crc)
                    out.write(chunk)
                out.write(FOOTER_MAGIC + struct.pack("<QI4x", self._sink.count, crc & 0xFFFFFFFF))
                finish()
                raw_file.flush()
                os.fsync(raw_file.fileno())
            # Traces are for sharing: the usual 0666 less the umask, not mkstemp's private 0600.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def _output(self, raw_file):
        """The stream to write raw trace bytes to, and how to end it."""
        if os.path.splitext(self.path)[1].lower().lstrip(".") in _OTHER_COMPRESSIONS:
            warnings.warn(
                "%s: only names ending in .zst are compressed (zstd); this trace is written uncompressed "
                "(readers accept it whatever its name; name it .trace, or .zst to compress)" % self.path,
                RuntimeWarning,
                stacklevel=4,
            )
        if self.path.lower().endswith(".zst"):
            try:
                import zstandard
            except ImportError:
                warnings.warn(
                    "%s: the zstandard package is not installed; writing an uncompressed trace "
                    "(readers accept it under any name; `pip install zstandard` to compress)" % self.path,
                    RuntimeWarning,
                    stacklevel=4,
                )
                return raw_file, lambda: None
            sealed = _Sealing(raw_file)
            cctx = zstandard.ZstdCompressor(level=3, write_checksum=True)
            writer = cctx.stream_writer(sealed, closefd=False)

            def finish():
                writer.close()
                raw_file.write(sealed.trailer())

            return writer, finish
        return raw_file, lambda: None


class _Sealing(object):
    """Passes compressed bytes through, keeping their CRC-32 and length for
    the seal: a skippable zstd frame (magic 0x184D2A5E, size 16, ``MTZC``,
    crc32, length) that decoders skip and memtrace readers verify."""

    def __init__(self, raw):
        self.raw = raw
        self.crc = 0
        self.len = 0

    def write(self, data):
        self.crc = zlib.crc32(data, self.crc)
        self.len += len(data)
        return self.raw.write(data)

    def flush(self):
        self.raw.flush()

    def trailer(self):
        return struct.pack("<II4sIQ", 0x184D2A5E, 16, b"MTZC", self.crc & 0xFFFFFFFF, self.len)
