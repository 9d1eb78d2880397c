"""trace_function against the researchers' tracer (reference/dmd) and its rules."""
import csv
import json
import os
import unittest
import warnings

from helpers import REFERENCE_DMD, TempDirTest, read_trace

import memtrace
from memtrace import trace_function


def naive_matmul(A, B):
    """naive_matmul_n16 as reference/dmd/README.md describes it: C = A B^T."""
    n = len(A)
    C = [[None] * n for _ in range(n)]
    for i in range(n):
        for j in range(n):
            s = A[i][0] * B[j][0]
            for k in range(1, n):
                s = s + A[i][k] * B[j][k]
            C[i][j] = s
    return C


def reference_events(name):
    with open(os.path.join(REFERENCE_DMD, name + ".events.csv"), newline="") as f:
        return [(r["op"], r["buffer"], int(r["offset"]), int(r["size"]), int(r["step"])) for r in csv.DictReader(f)]


class NaiveMatmulReproduction(TempDirTest):
    """The acceptance test of issue 15: event for event, and the summary through analyze dmd."""

    def setUp(self):
        super().setUp()
        self.trace = self.path("naive.trace")
        ones = [[1.0] * 16 for _ in range(16)]
        self.result = trace_function(naive_matmul, ones, ones, path=self.trace)

    def test_result_is_plain(self):
        self.assertEqual(self.result, [[16.0] * 16 for _ in range(16)])
        self.assertIs(type(self.result[3][5]), float)

    def test_events_equal_the_reference_event_for_event(self):
        metadata, buffers, events = read_trace(self.trace)
        self.assertEqual([(b[0], b[1], b[3]) for b in buffers], [("A", "input", 256), ("B", "input", 256), ("values", "other", 7936)])
        # Buffer names aside: the reference flattens both arguments into `arg`, A first.
        first = {"A": 0, "B": 256}
        ours = [(op, "arg" if name in first else "v", off + first.get(name, 0), n, step) for op, name, off, n, step in events]
        self.assertEqual(ours, reference_events("naive_matmul_n16"))
        self.assertEqual(metadata["function"], "naive_matmul")

    def test_summary_through_analyze_dmd(self):
        with open(os.path.join(REFERENCE_DMD, "naive_matmul_n16.summary.json")) as f:
            expected = json.load(f)["events"]
        for bpe in (1, 4):
            want = expected["bpe%d" % bpe]
            got = memtrace.analyze(self.trace, "dmd", bytes_per_element=bpe)
            steps = memtrace.analyze(self.trace, "dmd", bytes_per_element=bpe, clock="steps")
            for key in ("loads", "stores", "cold_loads", "bytedmd_classic", "bytedmd_live", "space_dmd"):
                self.assertEqual(got[key], want[key], (bpe, key))
            self.assertEqual(steps["space_dmd"], want["space_dmd_clock_steps"], bpe)


class Rules(TempDirTest):
    """Each rule of docs/python-tracing.md, on a function small enough to write the events by hand."""

    def events(self, fn, *args, **kw):
        p = self.path("t%d.trace" % len(os.listdir(self.dir.name)))
        result = trace_function(fn, *args, path=p, **kw)
        return result, [(op, name, off, step) for op, name, off, _n, step in read_trace(p)[2]]

    def test_binary_operation_loads_ticks_stores(self):
        r, ev = self.events(lambda x, y: x * y, 3.0, 4.0)
        self.assertEqual(r, 12.0)
        self.assertEqual(ev, [("R", "x", 0, 0), ("R", "y", 0, 1), ("W", "values", 0, 3), ("R", "values", 0, 4)])

    def test_constants_cost_nothing_on_either_side(self):
        r, ev = self.events(lambda x: (2 - x, x / 4), 8)
        self.assertEqual(r, (-6, 2.0))
        self.assertEqual(ev, [("R", "x", 0, 0), ("W", "values", 0, 2),
                              ("R", "x", 0, 3), ("W", "values", 1, 5),
                              ("R", "values", 0, 6), ("R", "values", 1, 7)])

    def test_unary_operations_read_one_operand(self):
        r, ev = self.events(lambda x: abs(-x), 5)
        self.assertEqual(r, 5)
        self.assertEqual(ev, [("R", "x", 0, 0), ("W", "values", 0, 2),
                              ("R", "values", 0, 3), ("W", "values", 1, 5), ("R", "values", 1, 6)])

    def test_comparisons_read_and_write_nothing(self):
        def relu(x):
            return x if x > 0 else 0.0
        r, ev = self.events(relu, 2.0)
        self.assertEqual(r, 2.0)
        # the comparison loads x at 0 and ticks at 1; returning x loads it at 2
        self.assertEqual(ev, [("R", "x", 0, 0), ("R", "x", 0, 2)])

    def test_comparison_ticks(self):
        def f(x, y):
            return [x < y, x == 1]
        r, ev = self.events(f, 1, 2)
        self.assertEqual(r, [True, True])
        self.assertEqual(ev, [("R", "x", 0, 0), ("R", "y", 0, 1), ("R", "x", 0, 3)])

    def test_every_operator_and_its_reflection(self):
        import operator
        ops = [operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv,
               operator.mod, operator.pow]
        for op in ops:
            r, ev = self.events(lambda x: (op(x, 3), op(3, x)), 2)
            self.assertEqual(r, (op(2, 3), op(3, 2)), op)
            self.assertEqual([e[0] for e in ev], ["R", "W", "R", "W", "R", "R"], op)

    def test_divmod_stores_two_results(self):
        r, ev = self.events(lambda x, y: divmod(x, y), 7, 2)
        self.assertEqual(r, (3, 1))
        self.assertEqual(ev[:4], [("R", "x", 0, 0), ("R", "y", 0, 1), ("W", "values", 0, 3), ("W", "values", 1, 4)])

    def test_a_scalar_returned_twice_is_read_twice(self):
        r, ev = self.events(lambda x: [x, x], 1.5)
        self.assertEqual(r, [1.5, 1.5])
        self.assertEqual(ev, [("R", "x", 0, 0), ("R", "x", 0, 1)])

    def test_escapes_record_nothing(self):
        def f(xs, i):
            return float(xs[int(i)]) + len(xs) if xs[0] else 0
        r, ev = self.events(f, [1.0, 2.0], 1)
        self.assertEqual((r, ev), (4.0, []))

    def test_arguments_flatten_in_order_and_varargs_are_named(self):
        def f(a, *rest):
            return a[1][0] + rest[1]
        r, ev = self.events(f, ((1, 2), (3, 4)), 10, 20)
        self.assertEqual(r, 23)
        self.assertEqual(ev[:2], [("R", "a", 2, 0), ("R", "rest[1]", 0, 1)])

    def test_numpy_arrays_are_traced_element_by_element(self):
        try:
            import numpy as np
        except ImportError:
            self.skipTest("numpy not installed")
        A = np.arange(6, dtype=np.float64).reshape(2, 3)
        r, ev = self.events(lambda A, v: A @ v, A, np.ones(3))
        self.assertTrue(isinstance(r, np.ndarray) and r.dtype == np.float64)
        self.assertEqual(r.tolist(), [3.0, 12.0])
        # A[1] @ v: A[1,0]*v[0], A[1,1]*v[1], sum, ... A's offsets are row-major.
        loads_of_A = [off for op, name, off, _ in ev if name == "A"]
        self.assertEqual(loads_of_A, [0, 1, 2, 3, 4, 5])

    def test_numpy_integers_are_numbers(self):
        try:
            import numpy as np
        except ImportError:
            self.skipTest("numpy not installed")
        r, ev = self.events(lambda n: n * 2, np.int64(21))
        self.assertEqual((r, type(r)), (42, int))


class Refusals(TempDirTest):
    def test_arguments_that_are_not_numbers(self):
        for bad, word in (("text", "str"), ({"a": 1}, "dict"), ([1, None], "NoneType"), (True, "bool")):
            with self.assertRaises(TypeError) as cm:
                trace_function(lambda x: x, bad, path=self.path("t.trace"))
            self.assertIn(word, str(cm.exception))
            self.assertIn("'x'", str(cm.exception))
        self.assertEqual(os.listdir(self.dir.name), [])

    def test_a_missing_folder_is_reported_before_the_run(self):
        ran = []
        with self.assertRaises(FileNotFoundError) as cm:
            trace_function(lambda x: ran.append(x), 1, path=self.path("nosuch/t.trace"))
        self.assertIn("nosuch", str(cm.exception))
        self.assertEqual(ran, [])

    def test_an_exception_in_the_function_leaves_no_file(self):
        def crash(x):
            x + 1
            raise RuntimeError("boom")
        with self.assertRaises(RuntimeError):
            trace_function(crash, 1, path=self.path("t.trace"))
        self.assertEqual(os.listdir(self.dir.name), [])
        # and the tracer is usable again afterwards
        self.assertEqual(trace_function(lambda x: x + 1, 1, path=self.path("u.trace")), 2)

    def test_an_existing_file_needs_force(self):
        p = self.path("t.trace")
        trace_function(lambda x: x, 1, path=p)
        with self.assertRaises(FileExistsError):
            trace_function(lambda x: x, 1, path=p)
        self.assertEqual(trace_function(lambda x: x + 1, 1, path=p, force=True), 2)

    def test_nested_traces_are_refused(self):
        def outer(x):
            return trace_function(lambda y: y, 1, path=self.path("inner.trace"))
        with self.assertRaises(RuntimeError):
            trace_function(outer, 1, path=self.path("outer.trace"))



def native_tape():
    try:
        from memtrace._native import Tape
    except ImportError:
        return None
    return Tape


def mixed_program(xs, ys, k):
    """Every kind of operation the tape records, with constants and returns."""
    import math
    acc = xs[0] * 0.5
    out = []
    for x, y in zip(xs, ys):
        acc = acc + x * y - abs(-x) / 3
        q, r = divmod(k, 3)
        if acc > y or acc == 2 or 1 < x:
            acc = acc ** 2 % 7
        out.append(math.floor(acc) + round(x, 1) + q - r)
    return out, acc, [acc, acc]


@unittest.skipIf(native_tape() is None, "the Rust extension is not built (pip install ./python builds it)")
class NativeTapeAgainstPythonTape(TempDirTest):
    """memtrace._native.Tape against its reference memtrace.scalar.PyTape: the same bytes."""

    def trace(self, tape_class, fn, args, name):
        import memtrace.scalar
        old = memtrace.scalar._tape_class
        memtrace.scalar._tape_class = lambda: tape_class
        try:
            result = trace_function(fn, *args, path=self.path(name))
        finally:
            memtrace.scalar._tape_class = old
        with open(self.path(name), "rb") as f:
            return result, f.read()

    def test_same_programs_same_bytes(self):
        from memtrace.scalar import PyTape
        import random
        rng = random.Random(7)
        programs = [(naive_matmul, ([[1.0] * 5 for _ in range(5)], [[2.0] * 5 for _ in range(5)]))]
        for _ in range(20):
            n = rng.randrange(1, 40)
            programs.append((mixed_program, ([rng.uniform(-3, 3) for _ in range(n)], [rng.uniform(-3, 3) for _ in range(n)], rng.randrange(0, 100))))
        for i, (fn, args) in enumerate(programs):
            ours = self.trace(native_tape(), fn, args, "native%d.trace" % i)
            reference = self.trace(PyTape, fn, args, "python%d.trace" % i)
            self.assertEqual(ours, reference, i)

    def test_the_comparison_sees_a_difference(self):
        from memtrace.scalar import PyTape

        class LateStore(PyTape):
            def unary(self, offset, buffer):
                self.tick += 1
                return PyTape.unary(self, offset, buffer)

        args = ([1.0, 2.0], [3.0, 4.0], 5)
        self.assertNotEqual(self.trace(LateStore, mixed_program, args, "a.trace"), self.trace(PyTape, mixed_program, args, "b.trace"))


if __name__ == "__main__":
    unittest.main()
