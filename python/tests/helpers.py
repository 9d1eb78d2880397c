"""Shared by the Python tests: a small, independent reader of trace files
(written from docs/trace-format.md, not from the writer's code) and paths."""
import os
import struct
import sys
import tempfile
import unittest

# The installed package when there is one (CI tests what `pip install
# ./python` installed), else the source tree.
try:
    import memtrace  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
REFERENCE_DMD = os.path.join(ROOT, "tests", "data", "reference", "dmd")
ROLES = ("parameter", "input", "activation", "gradient", "accumulator", "other")


def raw_bytes(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] == b"\x28\xb5\x2f\xfd":
        import zstandard
        data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


def read_trace(path):
    """(metadata dict, buffers [(name, role, elem_size, length)], events
    [(op 'R'/'W', buffer name, offset, length, step)])."""
    data = raw_bytes(path)
    assert data[:8] == b"MEMTRACE", "not a trace"
    version, hlen, rlen, flags = struct.unpack_from("<IIII", data, 8)
    assert (version, rlen, flags) == (1, 24, 0)
    pos = 24

    def s16(pos):
        (n,) = struct.unpack_from("<H", data, pos)
        return data[pos + 2:pos + 2 + n].decode("utf-8"), pos + 2 + n

    _producer, pos = s16(pos)
    _version, pos = s16(pos)
    (m,) = struct.unpack_from("<I", data, pos)
    pos += 4
    metadata = {}
    for _ in range(m):
        k, pos = s16(pos)
        (n,) = struct.unpack_from("<I", data, pos)
        metadata[k] = data[pos + 4:pos + 4 + n].decode("utf-8")
        pos += 4 + n
    (b,) = struct.unpack_from("<I", data, pos)
    pos += 4
    buffers = []
    for _ in range(b):
        _id, elem, length, role = struct.unpack_from("<IIQB", data, pos)
        name, pos = s16(pos + 17)
        buffers.append((name, ROLES[role], elem, length))
    (count,) = struct.unpack_from("<Q", data, len(data) - 16)
    events = []
    for i in range(count):
        off, length, buf, step, op = struct.unpack_from("<QIIIB", data, hlen + 24 * i)
        events.append(("RW"[op], buffers[buf][0], off, length, step))
    return metadata, buffers, events


class TempDirTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def path(self, name):
        return os.path.join(self.dir.name, name)
