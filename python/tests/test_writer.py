"""Unit tests of the Python writer: python3 -m unittest discover -s python/tests"""
import os
import struct
import subprocess
import sys
import tempfile
import unittest
import warnings
import zlib

from helpers import ROOT, TempDirTest  # noqa: E402  (puts the package on the path)

import memtrace  # noqa: E402
import memtrace.writer  # noqa: E402

try:
    import zstandard  # noqa: F401  (a dependency of the package; absent only when testing from source)

    HAVE_ZSTANDARD = True
except ImportError:
    HAVE_ZSTANDARD = False
from memtrace import TraceWriter, guess_role  # noqa: E402


def parse(path):
    with open(path, "rb") as f:
        data = f.read()
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
        with open(p, "rb") as f:
            head = f.read(4)
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


def native_sink():
    try:
        from memtrace._native import EventSink
    except ImportError:
        return None
    return EventSink


@unittest.skipIf(native_sink() is None, "the Rust extension is not built (pip install ./python builds it)")
class NativeSinkAgainstPythonSink(TempDirTest):
    """memtrace._native.EventSink against its reference memtrace.writer.PySink:
    the same calls give the same bytes and the same errors."""

    def run_calls(self, sink_class, calls, path):
        old = memtrace.writer._sink_class
        memtrace.writer._sink_class = lambda: sink_class
        outcomes = []
        try:
            with TraceWriter(path) as t:
                for name, args, kwargs in calls:
                    try:
                        getattr(t, name)(*args, **kwargs)
                        outcomes.append(None)
                    except (ValueError, TypeError) as e:
                        outcomes.append((type(e).__name__, str(e)))
        finally:
            memtrace.writer._sink_class = old
        with open(path, "rb") as f:
            return f.read(), outcomes

    def random_calls(self, rng):
        names = ["W1", "h", "x", "dW1", "acc_dW1"]
        sizes = [1, 7, 500, 20000, (1 << 32) - 1, 1 << 32, 0, -3, True, 2.5, None, "3", 1 << 70]
        offsets = [0, 3, 1 << 40, (1 << 64) - 2, -1, False, None]
        try:
            import numpy as np
            sizes += [np.int64(12), np.uint8(3), np.bool_(True)]
            offsets += [np.int32(5)]
        except ImportError:
            pass
        calls = []
        for _ in range(rng.randrange(1, 60)):
            kind = rng.choice(["read", "read", "write", "write", "step"])
            if kind == "step":
                calls.append(("step", (), {}))
                continue
            kwargs = {}
            size = rng.choice(sizes)
            if rng.random() < 0.5:
                offset = rng.choice(offsets)
                if offset is not None:
                    kwargs["offset"] = offset
            if kind == "write" and rng.random() < 0.2:
                kwargs["role"] = rng.choice(["activation", "gradient", "bogus"])
            if kind == "read" and size is None:
                calls.append((kind, (rng.choice(names),), kwargs))
            else:
                calls.append((kind, (rng.choice(names), size), kwargs))
        return calls

    def test_same_calls_same_bytes_same_errors(self):
        import random
        from memtrace.writer import PySink
        rng = random.Random(15)
        for case in range(300):
            calls = self.random_calls(rng)
            ours = self.run_calls(native_sink(), calls, self.path("native%d.trace" % case))
            reference = self.run_calls(PySink, calls, self.path("python%d.trace" % case))
            self.assertEqual(ours[1], reference[1], calls)
            self.assertEqual(ours[0], reference[0], calls)

    def test_the_comparison_sees_a_difference(self):
        from memtrace.writer import PySink

        class OffByOne(PySink):
            def record(self, buf, op, offset, size):
                PySink.record(self, buf, op, offset + 1, size)

        calls = [("write", ("W1", 10), {"role": "parameter"}), ("read", ("W1", 5), {"offset": 2})]
        self.assertNotEqual(self.run_calls(OffByOne, calls, self.path("a.trace"))[0],
                            self.run_calls(PySink, calls, self.path("b.trace"))[0])


class Fixes(TempDirTest):
    """Issue 15's writer fixes: each check fails on the writer before them."""

    def test_numpy_integers_are_integers_and_bools_are_not(self):
        try:
            import numpy as np
        except ImportError:
            self.skipTest("numpy not installed")
        W = np.zeros((100, 200))
        p = self.path("t.trace")
        with TraceWriter(p) as t:
            t.write("W1", np.prod(W.shape), offset=np.int32(0))
            t.read("W1", W.shape[0], offset=np.uint64(7))
            for bad in (True, np.bool_(True), 2.0, "3"):
                with self.assertRaises(ValueError) as cm:
                    t.read("W1", bad)
                self.assertIn("integer", str(cm.exception))
        data, _, hlen, *_ = parse(p)
        self.assertEqual(struct.unpack_from("<QI", data, hlen), (0, 20000))
        self.assertEqual(struct.unpack_from("<QI", data, hlen + 24), (7, 100))

    def test_a_missing_folder_is_refused_at_construction_naming_the_output(self):
        for path, what in ((self.path("nosuch/t.trace"), "no such directory"),):
            with self.assertRaises(FileNotFoundError) as cm:
                TraceWriter(path)
            self.assertIn(path, str(cm.exception))
            self.assertIn(what, str(cm.exception))
            self.assertNotIn(".memtrace-events", str(cm.exception))
        open(self.path("file"), "w").close()
        with self.assertRaises(FileNotFoundError) as cm:
            TraceWriter(self.path("file/t.trace"))
        self.assertIn("not a directory", str(cm.exception))

    def test_an_existing_file_is_replaced_only_with_force(self):
        p = self.path("t.trace")
        with open(p, "w") as f:
            f.write("precious")
        with self.assertRaises(FileExistsError) as cm:
            TraceWriter(p)
        self.assertIn("force=True", str(cm.exception))
        with open(p) as f:
            self.assertEqual(f.read(), "precious")
        with TraceWriter(p, force=True) as t:
            t.write("W1", 1)
        self.assertEqual(parse(p)[5], 1)

    def test_a_device_is_never_replaced(self):
        with self.assertRaises(FileExistsError) as cm:
            TraceWriter(os.devnull, force=True)
        self.assertIn("not a regular file", str(cm.exception))

    def test_limits_are_checked_by_the_call_that_breaks_them(self):
        old = memtrace.writer.MAX_BUFFERS
        memtrace.writer.MAX_BUFFERS = 2
        try:
            t = TraceWriter(self.path("t.trace"))
            t.write("a", 1)
            t.write("b", 1)
            with self.assertRaises(ValueError) as cm:
                t.write("c", 1)
            self.assertIn("at most 2 buffers", str(cm.exception))
            t.abort()
        finally:
            memtrace.writer.MAX_BUFFERS = old
        with TraceWriter(self.path("u.trace")) as t:
            with self.assertRaises(ValueError):
                t.write("x" * 5000, 1)
            with self.assertRaises(ValueError):
                t.set_metadata("k", "v" * ((1 << 20) + 1))
            with self.assertRaises(ValueError):
                t.read("y", 1, offset=(1 << 64) - 1)
        with self.assertRaises(ValueError):
            TraceWriter(self.path("v.trace"), metadata={"k" * 5000: "v"})

    def test_the_header_limit_is_checked_when_a_name_would_break_it(self):
        old = memtrace.writer.MAX_HEADER_LEN
        memtrace.writer.MAX_HEADER_LEN = 200
        try:
            t = TraceWriter(self.path("t.trace"))
            with self.assertRaises(ValueError) as cm:
                for i in range(100):
                    t.write("buffer_number_%d" % i, 1)
            self.assertLess(i, 10)
            self.assertIn("header", str(cm.exception))
            t.abort()
        finally:
            memtrace.writer.MAX_HEADER_LEN = old

    def test_a_name_of_another_compression_warns(self):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with TraceWriter(self.path("t.gz")) as t:
                t.write("W1", 1)
        self.assertTrue(any("only names ending in .zst are compressed" in str(w.message) for w in caught))
        self.assertEqual(parse(self.path("t.gz"))[1], 1)

    def test_control_characters_in_names_are_refused(self):
        with TraceWriter(self.path("t.trace")) as t:
            for bad in ("a\nb", "a,\x00", "\x1b[31m"):
                with self.assertRaises(ValueError):
                    t.write(bad, 1)

    def test_forgetting_close_warns_at_the_line_that_made_the_writer(self):
        script = self.path("forgot.py")
        with open(script, "w") as f:
            f.write("import sys\nsys.path[:0] = %r\nimport memtrace\n" % (sys.path[:3],))
            f.write("tracker = memtrace.TraceWriter(%r)\n" % self.path("run.trace"))
            f.write("tracker.write('W1', 10)\n")
        run = subprocess.run([sys.executable, script], stderr=subprocess.PIPE, cwd=self.dir.name)
        err = run.stderr.decode()
        self.assertEqual(run.returncode, 0, err)
        self.assertIn("forgot.py:4: UnclosedTraceWarning", err)
        self.assertIn("was NOT written", err)
        self.assertFalse(os.path.exists(self.path("run.trace")))
        self.assertEqual(sorted(os.listdir(self.dir.name)), ["forgot.py"])

    @unittest.skipUnless(HAVE_ZSTANDARD, "the README writes run.zst; without zstandard that warns (tested elsewhere)")
    def test_the_readme_one_line_change_works_as_written(self):
        with open(os.path.join(ROOT, "README.md")) as f:
            readme = f.read()
        section = readme[readme.index("### From Python: a one-line change"):]
        code = section[section.index("```python") + len("```python"):]
        code = code[:code.index("```")]
        namespace = {}
        cwd = os.getcwd()
        os.chdir(self.dir.name)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # not even a warning
                exec(compile(code, "README.md", "exec"), namespace)
        finally:
            os.chdir(cwd)
        self.assertTrue(os.path.exists(self.path("run.zst")))
        self.assertIsInstance(namespace.get("figures"), dict)
        self.assertIn("weighted_ard", namespace["figures"])


if __name__ == "__main__":
    unittest.main()
