"""Write memtrace traces from Python, with the seed trackers' API.

An experiment that already calls ``tracker.write(name, size)`` and
``tracker.read(name, size)`` emits a memtrace trace by swapping its tracker
for a :class:`TraceWriter`::

    from memtrace import TraceWriter

    with TraceWriter("run.zst", metadata={"variant": "standard"}) as tracker:
        tracker.write("W1", 20000)          # whole buffer, elements [0, 20000)
        tracker.read("W1")                  # size defaults to the last written size
        tracker.read("W1", 250, offset=500) # a range
        tracker.step()                      # the next training step

Then ``analyze ard run.zst``, ``analyze cache --size 32KiB run.zst``, ...

The file follows ``docs/trace-format.md`` (format version 1) byte for byte.
Standard library only; a path ending in ``.zst`` is compressed with the
``zstandard`` package when it is installed (otherwise the file is written
raw, which every reader accepts whatever the name, and a warning says so).
Memory stays bounded: events are spooled to a temporary file next to the
output, which is renamed into place only when the trace is complete.
"""

import os
import struct
import tempfile
import warnings
import zlib

__all__ = ["TraceWriter", "ROLES", "FORMAT_VERSION"]
__version__ = "0.1.0"

FORMAT_VERSION = 1
MAGIC = b"MEMTRACE"
FOOTER_MAGIC = b"MTFOOTER"
EVENT = struct.Struct("<QIIIB3x")  # offset, length, buffer id, step, op
ROLES = ("parameter", "input", "activation", "gradient", "accumulator", "other")
MAX_NAME_LEN = 4096
MAX_VALUE_LEN = 1 << 20
MAX_BUFFERS = 1 << 20
MAX_METADATA = 1 << 16
MAX_HEADER_LEN = 64 << 20
_U32 = (1 << 32) - 1
_SPOOL_BYTES = 1 << 16


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


def _str16(s, what):
    b = s.encode("utf-8")
    if len(b) > MAX_NAME_LEN:
        raise ValueError("%s is %d bytes long; at most %d" % (what, len(b), MAX_NAME_LEN))
    return struct.pack("<H", len(b)) + b


class _Buffer(object):
    __slots__ = ("id", "name", "end", "role", "elem_size", "last_size")

    def __init__(self, id_, name, role, elem_size):
        self.id = id_
        self.name = name
        self.end = 0
        self.role = role
        self.elem_size = elem_size
        self.last_size = None


class TraceWriter(object):
    """A memtrace trace being written; use it as a context manager.

    ``TraceWriter(path, metadata=None, producer="memtrace-python")``.
    ``metadata`` is a mapping of strings (values are converted with ``str``).
    """

    def __init__(self, path, metadata=None, producer="memtrace-python", producer_version=__version__):
        self.path = os.fspath(path)
        self.metadata = [(str(k), str(v)) for k, v in (metadata or {}).items()]
        self.producer = producer
        self.producer_version = producer_version
        self._buffers = {}
        self._order = []
        self._step = 0
        self._events = 0
        self._closed = False
        directory = os.path.dirname(os.path.abspath(self.path))
        self._spool = tempfile.TemporaryFile(dir=directory, prefix=".memtrace-events-")
        self._pending = bytearray()

    # -- the tracker API ---------------------------------------------------

    def write(self, name, size, offset=0, role=None, elem_size=4):
        """Records a write of elements ``[offset, offset + size)`` of ``name``."""
        buf = self._buffer(name, role, elem_size)
        self._record(buf, 1, offset, size)
        buf.last_size = size

    def read(self, name, size=None, offset=0):
        """Records a read; ``size`` defaults to the last size written to ``name``."""
        buf = self._buffers.get(name)
        if size is None:
            if buf is None or buf.last_size is None:
                raise ValueError("read(%r) without a size, but %r was never written" % (name, name))
            size = buf.last_size
        if buf is None:
            buf = self._buffer(name, None, 4)
        self._record(buf, 0, offset, size)

    def step(self):
        """Starts the next training step."""
        self._check_open()
        if self._step >= _U32:
            raise ValueError("more than 2^32 - 1 steps")
        self._step += 1

    def set_metadata(self, key, value):
        key, value = str(key), str(value)
        self.metadata = [(k, v) for k, v in self.metadata if k != key] + [(key, value)]

    # -- lifecycle ---------------------------------------------------------

    def close(self):
        """Writes the trace and renames it into place. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._flush_spool()
            self._finish()
        finally:
            self._spool.close()

    def abort(self):
        """Discards everything: no file is created under the output name."""
        if not self._closed:
            self._closed = True
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
            raise ValueError("the trace is closed")

    def _buffer(self, name, role, elem_size):
        self._check_open()
        buf = self._buffers.get(name)
        if buf is None:
            if not isinstance(name, str) or not name:
                raise ValueError("a buffer name must be a non-empty string")
            if len(self._order) >= MAX_BUFFERS:
                raise ValueError("a trace holds at most %d buffers" % MAX_BUFFERS)
            if len(name.encode("utf-8")) > MAX_NAME_LEN:
                raise ValueError("buffer name is longer than %d bytes" % MAX_NAME_LEN)
            role = role if role is not None else guess_role(name)
            if role not in ROLES:
                raise ValueError("role %r is not one of %s" % (role, ", ".join(ROLES)))
            if not (isinstance(elem_size, int) and 1 <= elem_size <= _U32):
                raise ValueError("element size must be a positive integer")
            buf = _Buffer(len(self._order), name, role, elem_size)
            self._buffers[name] = buf
            self._order.append(buf)
        elif role is not None and role != buf.role:
            raise ValueError("buffer %r has role %r, not %r" % (name, buf.role, role))
        return buf

    def _record(self, buf, op, offset, size):
        if not (isinstance(size, int) and size >= 1):
            raise ValueError("size must be a positive integer, got %r" % (size,))
        if not (isinstance(offset, int) and offset >= 0):
            raise ValueError("offset must be a non-negative integer, got %r" % (offset,))
        end = offset + size
        if end >= 1 << 64:
            raise ValueError("offset + size exceeds 2^64")
        buf.end = max(buf.end, end)
        while size > 0:
            n = min(size, _U32)
            self._pending += EVENT.pack(offset, n, buf.id, self._step, op)
            self._events += 1
            offset += n
            size -= n
        if len(self._pending) >= _SPOOL_BYTES:
            self._flush_spool()

    def _flush_spool(self):
        if self._pending:
            self._spool.write(self._pending)
            self._pending = bytearray()

    def _header(self):
        if len(self.metadata) > MAX_METADATA:
            raise ValueError("at most %d metadata entries" % MAX_METADATA)
        keys = [k for k, _ in self.metadata]
        if len(set(keys)) != len(keys):
            raise ValueError("a metadata key appears twice")
        body = bytearray()
        body += _str16(self.producer, "producer name")
        body += _str16(self.producer_version, "producer version")
        body += struct.pack("<I", len(self.metadata))
        for k, v in self.metadata:
            vb = v.encode("utf-8")
            if len(vb) > MAX_VALUE_LEN:
                raise ValueError("metadata value of %r is longer than %d bytes" % (k, MAX_VALUE_LEN))
            body += _str16(k, "metadata key") + struct.pack("<I", len(vb)) + vb
        body += struct.pack("<I", len(self._order))
        for b in self._order:
            body += struct.pack("<IIQB", b.id, b.elem_size, b.end, ROLES.index(b.role))
            body += _str16(b.name, "buffer name")
        length = 24 + len(body)
        length += -length % 8
        if length > MAX_HEADER_LEN:
            raise ValueError("the header would take %d bytes; the format allows %d" % (length, MAX_HEADER_LEN))
        prefix = MAGIC + struct.pack("<IIII", FORMAT_VERSION, length, EVENT.size, 0)
        return bytes(prefix + body + b"\0" * (length - 24 - len(body)))

    def _finish(self):
        header = self._header()
        directory = os.path.dirname(os.path.abspath(self.path))
        base = os.path.basename(self.path)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + base + ".", suffix=".partial")
        try:
            with os.fdopen(fd, "wb") as raw_file:
                out, finish = self._sink(raw_file)
                crc = zlib.crc32(header)
                out.write(header)
                self._spool.seek(0)
                while True:
                    chunk = self._spool.read(1 << 20)
                    if not chunk:
                        break
                    crc = zlib.crc32(chunk, crc)
                    out.write(chunk)
                out.write(FOOTER_MAGIC + struct.pack("<QI4x", self._events, crc & 0xFFFFFFFF))
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

    def _sink(self, raw_file):
        """The stream to write raw trace bytes to, and how to end it."""
        if self.path.endswith(".zst"):
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
