"""Unit tests of the Python writer: python3 -m unittest discover -s python/tests"""
import os
import struct
import sys
import tempfile
import unittest
import warnings
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from memtrace import TraceWriter, guess_role  # noqa: E402


def parse(path):
    data = open(path, "rb").read()
    if data[:4] == b"\x28\xb5\x2f\xfd":
        import zstandard
        data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    assert data[:8] == b"MEMTRACE"
    version, hlen, rlen, flags = struct.unpack_from("<IIII", data, 8)
    count, crc = struct.unpack_from("<QI", data, len(data) - 16)
    return data, version, hlen, rlen, flags, count, crc


class WriterTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def test_layout_follows_the_specification(self):
        p = self.path("t.trace")
        with TraceWriter(p, metadata={"variant": "standard"}) as t:
            t.write("W1", 100)
            t.read("W1")
            t.step()
            t.read("W1", 10, offset=90)
        data, version, hlen, rlen, flags, count, crc = parse(p)
        self.assertEqual((version, rlen, flags, count), (1, 24, 0, 3))
        self.assertEqual(hlen % 8, 0)
        self.assertEqual(len(data), hlen + 3 * 24 + 24)
        self.assertEqual(crc, zlib.crc32(data[: hlen + 72]))
        third = struct.unpack_from("<QIIIB", data, hlen + 48)
        self.assertEqual(third, (90, 10, 0, 1, 0))

    def test_read_size_defaults_to_the_last_written_size(self):
        p = self.path("t.trace")
        with TraceWriter(p) as t:
            t.write("h", 500)
            t.read("h")
        data, _, hlen, *_ = parse(p)
        self.assertEqual(struct.unpack_from("<QI", data, hlen + 24), (0, 500))

    def test_a_read_of_an_unwritten_buffer_needs_a_size(self):
        with TraceWriter(self.path("t.trace")) as t:
            with self.assertRaises(ValueError):
                t.read("never")

    def test_an_exception_leaves_no_file(self):
        p = self.path("t.trace")
        with self.assertRaises(RuntimeError):
            with TraceWriter(p) as t:
                t.write("W1", 10)
                raise RuntimeError("crash mid-run")
        self.assertEqual(os.listdir(self.dir.name), [])

    def test_bad_arguments_are_refused(self):
        with TraceWriter(self.path("t.trace")) as t:
            for bad in (lambda: t.write("x", 0), lambda: t.write("x", -1), lambda: t.write("", 3),
                        lambda: t.write("x", 3, offset=-1), lambda: t.write("y", 3, role="weights")):
                with self.assertRaises(ValueError):
                    bad()

    def test_zst_compresses_when_zstandard_is_installed(self):
        p = self.path("t.zst")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with TraceWriter(p) as t:
                t.write("W1", 10)
        head = open(p, "rb").read(4)
        try:
            import zstandard  # noqa: F401
            self.assertEqual(head, b"\x28\xb5\x2f\xfd")
        except ImportError:
            self.assertEqual(head, b"MEMT")
            self.assertTrue(any("zstandard" in str(w.message) for w in caught))

    def test_roles_follow_the_seed_names(self):
        self.assertEqual(guess_role("W1_tile3"), "parameter")
        self.assertEqual(guess_role("x_12"), "input")
        self.assertEqual(guess_role("acc_dW1"), "accumulator")
        self.assertEqual(guess_role("dh_pre_3"), "gradient")
        self.assertEqual(guess_role("h_pre"), "activation")


if __name__ == "__main__":
    unittest.main()
