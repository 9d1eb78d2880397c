"""memtrace.analyze and to_frame, through the `analyze` tool (found as find_tool says)."""
import os
import unittest

from helpers import ROOT, TempDirTest

import memtrace
from memtrace import AnalyzeError, analyze

GOLDEN = os.path.join(ROOT, "traces", "golden")
A = os.path.join(GOLDEN, "expa_h500_standard.trace")
B = os.path.join(GOLDEN, "expb_h1000_batch4.trace")


def golden(name):
    import json
    with open(os.path.join(GOLDEN, name)) as f:
        return json.load(f)


class Analyze(TempDirTest):
    def test_results_are_the_tools_documented_json(self):
        # The golden files hold the tool's JSON for these traces, with the path as given there.
        for trace, kind, kw in ((A, "ard", {}), (A, "cache", {"size": "32KiB,256KiB"}), (B, "hist", {})):
            want = golden(os.path.basename(trace) + ".%s.json" % kind)
            got = analyze(trace, kind, **kw)
            strip = (lambda d: {k: v for k, v in d.items() if k != "trace"})
            if kind == "cache":
                self.assertEqual([strip(r) for r in got["results"]], [strip(r) for r in want["results"]])
            else:
                self.assertEqual(strip(got), strip(want))

    def test_options_in_python_spelling(self):
        one = analyze(A, "cache", size=["32KiB", "256KiB"])
        two = analyze(A, "cache", size="32KiB,256KiB")
        self.assertEqual(one, two)
        line = analyze(A, "cache", size="32KiB", granularity="line", policy="lru,fifo")
        self.assertEqual(len(line["results"]), 2)
        dmd1 = analyze(A, "dmd", bytes_per_element=1, clock="steps")
        self.assertEqual((dmd1["bytes_per_element"], dmd1["clock"]), (1, "steps"))

    def test_several_traces_give_a_list_in_order(self):
        got = analyze([A, B], "ard")
        self.assertEqual([g["trace"] for g in got], [A, B])
        self.assertIsInstance(analyze([A], "info"), list)

    def test_failures_raise_with_the_tools_message(self):
        cases = (
            ((self.path("missing.trace"), "ard"), {}, "missing.trace"),
            ((A, "frob"), {}, "unknown analysis 'frob'"),
            ((A, "ard"), {"bogus": 1}, "unknown option bogus"),
            ((A, "cache"), {"size": "40", "granularity": "line"}, "40"),
            ((A, "dmd"), {"clock": "sundial"}, "sundial"),
        )
        for args, kw, words in cases:
            with self.assertRaises(AnalyzeError) as cm:
                analyze(*args, **kw)
            message = str(cm.exception)
            self.assertIn(words, message)
            self.assertNotIn("\n", message)
        with open(self.path("junk.trace"), "wb") as f:
            f.write(b"not a trace at all")
        with self.assertRaises(AnalyzeError) as cm:
            analyze(self.path("junk.trace"), "info")
        self.assertIn("junk.trace", str(cm.exception))


class Frames(unittest.TestCase):
    def setUp(self):
        try:
            import pandas  # noqa: F401
        except ImportError:
            self.skipTest("pandas not installed")

    def test_one_row_per_trace_or_configuration(self):
        df = memtrace.to_frame(analyze([A, B], "ard"))
        self.assertEqual(list(df["trace"]), [A, B])
        self.assertEqual(list(df["weighted_ard"]), [r["weighted_ard"] for r in analyze([A, B], "ard")])
        self.assertIn("per_buffer.W1.read_count", df.columns)
        cache = memtrace.to_frame(analyze([A, B], "cache", size="32KiB,256KiB"))
        self.assertEqual(len(cache), 4)

    def test_rows_explode_a_key(self):
        r = analyze(A, "dmd")
        df = memtrace.to_frame(r, rows="per_buffer")
        self.assertEqual(sorted(df["name"]), sorted(r["per_buffer"]))
        w1 = df[df["name"] == "W1"].iloc[0]
        self.assertEqual(w1["bytedmd_live"], r["per_buffer"]["W1"]["bytedmd_live"])
        self.assertEqual(w1["trace"], A)
        points = memtrace.to_frame({"a": analyze(A, "mrc"), "b": analyze(B, "mrc")}, rows="points")
        self.assertEqual(set(points["label"]), {"a", "b"})
        self.assertIn("miss_ratio", points.columns)


class Install(unittest.TestCase):
    """With MEMTRACE_EXPECT_INSTALLED=1 (CI, after `pip install ./python` into a
    fresh venv), the package and both tools must come from that install."""

    @unittest.skipUnless(os.environ.get("MEMTRACE_EXPECT_INSTALLED"), "not testing an install")
    def test_package_and_tools_come_from_the_install(self):
        import sys
        self.assertFalse(os.path.abspath(memtrace.__file__).startswith(os.path.join(ROOT, "python")), memtrace.__file__)
        for tool in ("analyze", "record"):
            self.assertTrue(memtrace.find_tool(tool).startswith(sys.prefix), memtrace.find_tool(tool))
        from memtrace._native import EventSink
        self.assertIs(memtrace.writer._sink_class(), EventSink)



class ReadmeMatmulTable(TempDirTest):
    """README's naive vs tiled table is what python/examples/matmul.py prints."""

    def test_readme_table_is_reproduced(self):
        import importlib.util
        import io
        import contextlib
        spec = importlib.util.spec_from_file_location("matmul_example", os.path.join(ROOT, "python", "examples", "matmul.py"))
        example = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(example)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            example.main(["matmul.py"])
        with open(os.path.join(ROOT, "README.md")) as f:
            readme = f.read()
        start = readme.index("| 16x16, tile 4 | naive | tiled |")
        table = readme[start:readme.index("\n\n", start)].strip()
        self.assertEqual(printed.getvalue().strip(), table)


if __name__ == "__main__":
    unittest.main()
