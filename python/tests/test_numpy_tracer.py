"""NumpyTracer: every slice and view case against hand-written ranges, and a
sparse-parity training step (forward, hinge loss, backward, update)."""
import inspect
import os
import unittest
import warnings

from helpers import TempDirTest, read_trace

try:
    import numpy as np
except ImportError:  # numpy is optional; CI installs it
    np = None

import memtrace


@unittest.skipIf(np is None, "numpy not installed")
class Ranges(TempDirTest):
    """Each case: what one operation records, as (op, buffer, offset, length)."""

    def record(self, body, *arrays):
        p = self.path("t%d.trace" % len(os.listdir(self.dir.name)))
        with memtrace.NumpyTracer(p) as tr:
            tracked = [tr.array(a, name) for name, a in arrays]
            body(tr, *tracked)
        return [(op, name, off, n) for op, name, off, n, _step in read_trace(p)[2]]

    def grid(self):
        return ("M", np.arange(12.0).reshape(3, 4))  # offsets: row r, column c at 4r + c

    def test_contiguous_slice_is_one_range(self):
        ev = self.record(lambda tr, x: -x[2:5], ("x", np.arange(8.0)))
        self.assertEqual(ev, [("R", "x", 2, 3), ("W", "negative_1", 0, 3)])

    def test_a_view_alone_records_nothing(self):
        ev = self.record(lambda tr, M: (M[1:, ::2], M.T, M.reshape(4, 3), M.ravel(), M[None, 1]), self.grid())
        self.assertEqual(ev, [])

    def test_column_is_one_range_per_element(self):
        ev = self.record(lambda tr, M: M[:, 1] * 2, self.grid())
        self.assertEqual(ev, [("R", "M", 1, 1), ("R", "M", 5, 1), ("R", "M", 9, 1), ("W", "multiply_1", 0, 3)])

    def test_block_is_one_range_per_row(self):
        ev = self.record(lambda tr, M: M[1:3, 1:3] + 1, self.grid())
        self.assertEqual(ev, [("R", "M", 5, 2), ("R", "M", 9, 2), ("W", "add_1", 0, 4)])

    def test_full_rows_merge_into_one_range(self):
        ev = self.record(lambda tr, M: M[1:, :] + 1, self.grid())
        self.assertEqual(ev, [("R", "M", 4, 8), ("W", "add_1", 0, 8)])

    def test_reversed_view_reads_in_view_order(self):
        ev = self.record(lambda tr, x: x[3:0:-1] + 0, ("x", np.arange(5.0)))
        self.assertEqual(ev, [("R", "x", 3, 1), ("R", "x", 2, 1), ("R", "x", 1, 1), ("W", "add_1", 0, 3)])

    def test_transpose_is_read_in_its_own_order(self):
        ev = self.record(lambda tr, M: M[:2, :2].T.copy(), self.grid())
        self.assertEqual(ev, [("R", "M", 0, 1), ("R", "M", 4, 1), ("R", "M", 1, 1), ("R", "M", 5, 1),
                              ("W", "copy_1", 0, 4)])

    def test_reshape_that_must_copy_reads_and_writes(self):
        ev = self.record(lambda tr, M: M[:, :2].reshape(6), self.grid())
        self.assertEqual(ev, [("R", "M", 0, 2), ("R", "M", 4, 2), ("R", "M", 8, 2), ("W", "reshape_1", 0, 6)])

    def test_scalar_element_is_one_read(self):
        out = []
        ev = self.record(lambda tr, M: out.append(M[2, 1]), self.grid())
        self.assertEqual((out, ev), ([9.0], [("R", "M", 9, 1)]))
        ev = self.record(lambda tr, M: out.append(M[-1, -1]), self.grid())
        self.assertEqual(ev, [("R", "M", 11, 1)])

    def test_fancy_index_reads_each_selected_element(self):
        ev = self.record(lambda tr, x: x[[4, 1, 2]], ("x", np.arange(6.0)))
        self.assertEqual(ev, [("R", "x", 4, 1), ("R", "x", 1, 2), ("W", "getitem_1", 0, 3)])

    def test_boolean_mask_reads_the_mask_then_the_selected(self):
        def body(tr, x):
            return x[x > 2]
        ev = self.record(body, ("x", np.array([3.0, 1.0, 5.0, 6.0])))
        self.assertEqual(ev, [("R", "x", 0, 4), ("W", "greater_1", 0, 4), ("R", "greater_1", 0, 4),
                              ("R", "x", 0, 1), ("R", "x", 2, 2), ("W", "getitem_2", 0, 3)])

    def test_assignment_into_a_slice_writes_its_ranges(self):
        def body(tr, M, v):
            M[1:, 2:] = v
        ev = self.record(body, self.grid(), ("v", np.ones(2)))
        self.assertEqual(ev, [("R", "v", 0, 2), ("W", "M", 6, 2), ("W", "M", 10, 2)])

    def test_fancy_assignment_writes_each_target(self):
        def body(tr, x):
            x[[5, 0, 1]] = 7.0
        ev = self.record(body, ("x", np.zeros(6)))
        self.assertEqual(ev, [("W", "x", 5, 1), ("W", "x", 0, 2)])

    def test_in_place_and_out_reads_then_writes_the_target(self):
        def body(tr, x, y):
            x += y
            np.multiply(x[:2], 2.0, out=y[1:3])
        ev = self.record(body, ("x", np.ones(4)), ("y", np.ones(4)))
        self.assertEqual(ev, [("R", "x", 0, 4), ("R", "y", 0, 4), ("W", "x", 0, 4),
                              ("R", "x", 0, 2), ("W", "y", 1, 2)])

    def test_matmul_dot_where_and_reductions_read_operands_whole(self):
        def body(tr, M, v):
            a = M @ v
            b = np.dot(v, v)
            c = np.where(v > 1, v, 0.0)
            d = M.sum(axis=0)
            e = np.sum(M)
            return a, b, c, d, e
        ev = self.record(body, self.grid(), ("v", np.arange(4.0)))
        self.assertEqual(ev, [
            ("R", "M", 0, 12), ("R", "v", 0, 4), ("W", "matmul_1", 0, 3),
            ("R", "v", 0, 4), ("R", "v", 0, 4), ("W", "dot_2", 0, 1),
            ("R", "v", 0, 4), ("W", "greater_3", 0, 4),
            ("R", "greater_3", 0, 4), ("R", "v", 0, 4), ("W", "where_4", 0, 4),
            ("R", "M", 0, 12), ("W", "add_reduce_5", 0, 4),
            ("R", "M", 0, 12), ("W", "sum_6", 0, 1),
        ])

    def test_copy_astype_and_elements_sizes(self):
        def body(tr, x):
            return x.copy(), x.astype(np.float32)
        p = self.path("sizes.trace")
        with memtrace.NumpyTracer(p) as tr:
            body(tr, tr.array(np.arange(3.0), "x"))
        _, buffers, events = read_trace(p)
        self.assertEqual([(b[0], b[2]) for b in buffers], [("x", 8), ("copy_1", 8), ("astype_2", 4)])
        self.assertEqual([e[:4] for e in events], [("R", "x", 0, 3), ("W", "copy_1", 0, 3),
                                                   ("R", "x", 0, 3), ("W", "astype_2", 0, 3)])

    def test_named_results_join_one_buffer_across_steps(self):
        p = self.path("steps.trace")
        with memtrace.NumpyTracer(p) as tr:
            W = tr.array(np.ones((2, 2)), "W", role="parameter")
            x = tr.array(np.ones(2), "x")
            for _ in range(2):
                tr.name(W @ x, "h", role="activation")
                tr.step()
        _, buffers, events = read_trace(p)
        self.assertEqual([b[:2] for b in buffers], [("W", "parameter"), ("x", "input"), ("h", "activation")])
        self.assertEqual(events, [("R", "W", 0, 4, 0), ("R", "x", 0, 2, 0), ("W", "h", 0, 2, 0),
                                  ("R", "W", 0, 4, 1), ("R", "x", 0, 2, 1), ("W", "h", 0, 2, 1)])

    def test_unsupported_functions_warn_once_by_name(self):
        p = self.path("fallback.trace")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with memtrace.NumpyTracer(p) as tr:
                x = tr.array(np.arange(4.0), "x")
                for _ in range(3):
                    r = np.convolve(x, x)
        messages = [str(w.message) for w in caught if "numpy.convolve" in str(w.message)]
        self.assertEqual(len(messages), 1, [str(w.message) for w in caught])
        self.assertEqual(caught[0].filename, __file__)
        self.assertIs(type(r), np.ndarray)
        self.assertEqual(read_trace(p)[2], [])

    def test_naming_late_is_refused(self):
        with memtrace.NumpyTracer(self.path("late.trace")) as tr:
            x = tr.array(np.ones(2), "x")
            h = x + 1
            h * 2
            with self.assertRaises(ValueError):
                tr.name(h, "h")

    def test_results_compute_what_numpy_computes(self):
        rng = np.random.default_rng(1)
        A, B = rng.standard_normal((5, 4)), rng.standard_normal((4, 3))
        with memtrace.NumpyTracer(self.path("v.trace")) as tr:
            tA, tB = tr.array(A, "A"), tr.array(B, "B")
            got = np.maximum(tA @ tB, 0).sum(axis=1) / 2
            got2 = tA[::2, 1:].T @ tA[::2, 1:]
        np.testing.assert_array_equal(np.asarray(got), np.maximum(A @ B, 0).sum(axis=1) / 2)
        np.testing.assert_array_equal(np.asarray(got2), A[::2, 1:].T @ A[::2, 1:])


def sparse_parity_step(tr, W1, b1, W2, b2, x, y, lr):
    """One SGD step of the seeds' network, in numpy: hinge loss, ReLU hidden layer."""
    h_pre = tr.name(W1 @ x, "h_pre")
    h_pre += b1
    h = tr.name(np.maximum(h_pre, 0.0), "h")
    out = tr.name(W2 @ h, "out")
    out += b2
    margin = tr.name(out * y, "margin")
    if margin < 1.0:
        dout = tr.name(-y, "dout", role="gradient")
        dW2 = tr.name(dout * h, "dW2", role="gradient")
        dh = tr.name(W2 * dout, "dh", role="gradient")
        dh_pre = tr.name(dh * (h_pre > 0), "dh_pre", role="gradient")
        dW1 = tr.name(np.outer(dh_pre, x), "dW1", role="gradient")
        W1 -= lr * dW1
        b1 -= lr * dh_pre
        W2 -= lr * dW2
        b2 -= lr * dout


@unittest.skipIf(np is None, "numpy not installed")
class SparseParityStep(TempDirTest):
    def test_one_training_step(self):
        hidden, bits = 3, 4
        rng = np.random.default_rng(0)
        W1 = rng.standard_normal((hidden, bits)) * 0.1
        b1, W2, b2 = np.zeros(hidden) + 0.1, rng.standard_normal(hidden) * 0.1, np.zeros(())
        x, y = np.array([1.0, -1.0, 1.0, 1.0]), np.array(1.0)
        # the same step on plain arrays, for the values
        h_pre = W1 @ x + b1
        h = np.maximum(h_pre, 0.0)
        dh_pre = (W2 * -y) * (h_pre > 0)
        want = (W1 - 0.5 * np.outer(dh_pre, x), b1 - 0.5 * dh_pre, W2 - 0.5 * (-y * h), b2 - 0.5 * -y)
        p = self.path("step.trace")
        with memtrace.NumpyTracer(p) as tr:
            tW1 = tr.array(W1, "W1", role="parameter")
            tb1 = tr.array(b1, "b1", role="parameter")
            tW2 = tr.array(W2, "W2", role="parameter")
            tb2 = tr.array(b2, "b2", role="parameter")
            tx, ty = tr.array(x, "x"), tr.array(y, "y")
            sparse_parity_step(tr, tW1, tb1, tW2, tb2, tx, ty, 0.5)
        _, buffers, events = read_trace(p)
        H, B = hidden, bits
        self.assertEqual([e[:4] for e in events], [
            # forward
            ("R", "W1", 0, H * B), ("R", "x", 0, B), ("W", "h_pre", 0, H),
            ("R", "h_pre", 0, H), ("R", "b1", 0, H), ("W", "h_pre", 0, H),
            ("R", "h_pre", 0, H), ("W", "h", 0, H),
            ("R", "W2", 0, H), ("R", "h", 0, H), ("W", "out", 0, 1),
            ("R", "out", 0, 1), ("R", "b2", 0, 1), ("W", "out", 0, 1),
            # hinge loss
            ("R", "out", 0, 1), ("R", "y", 0, 1), ("W", "margin", 0, 1),
            ("R", "margin", 0, 1), ("W", "less_1", 0, 1),
            # backward
            ("R", "y", 0, 1), ("W", "dout", 0, 1),
            ("R", "dout", 0, 1), ("R", "h", 0, H), ("W", "dW2", 0, H),
            ("R", "W2", 0, H), ("R", "dout", 0, 1), ("W", "dh", 0, H),
            ("R", "h_pre", 0, H), ("W", "greater_2", 0, H),
            ("R", "dh", 0, H), ("R", "greater_2", 0, H), ("W", "dh_pre", 0, H),
            ("R", "dh_pre", 0, H), ("R", "x", 0, B), ("W", "dW1", 0, H * B),
            # update
            ("R", "dW1", 0, H * B), ("W", "multiply_3", 0, H * B),
            ("R", "W1", 0, H * B), ("R", "multiply_3", 0, H * B), ("W", "W1", 0, H * B),
            ("R", "dh_pre", 0, H), ("W", "multiply_4", 0, H),
            ("R", "b1", 0, H), ("R", "multiply_4", 0, H), ("W", "b1", 0, H),
            ("R", "dW2", 0, H), ("W", "multiply_5", 0, H),
            ("R", "W2", 0, H), ("R", "multiply_5", 0, H), ("W", "W2", 0, H),
            ("R", "dout", 0, 1), ("W", "multiply_6", 0, 1),
            ("R", "b2", 0, 1), ("R", "multiply_6", 0, 1), ("W", "b2", 0, 1),
        ])
        roles = {b[0]: b[1] for b in buffers}
        self.assertEqual((roles["W1"], roles["x"], roles["dW1"], roles["h"]), ("parameter", "input", "gradient", "activation"))
        # the traced step updated the registered arrays in place, as numpy does
        for got, expected in zip((W1, b1, W2, b2), want):
            np.testing.assert_array_equal(got, expected)


@unittest.skipIf(np is None, "numpy not installed")
class Lifecycle(TempDirTest):
    def test_an_exception_leaves_no_file(self):
        with self.assertRaises(RuntimeError):
            with memtrace.NumpyTracer(self.path("t.trace")) as tr:
                tr.array(np.ones(3), "x") + 1
                raise RuntimeError("boom")
        self.assertEqual(os.listdir(self.dir.name), [])

    def test_after_close_arrays_compute_and_record_nothing(self):
        p = self.path("t.trace")
        with memtrace.NumpyTracer(p) as tr:
            x = tr.array(np.ones(3), "x")
        y = x * 2
        self.assertEqual(np.asarray(y).tolist(), [2.0, 2.0, 2.0])
        self.assertEqual(read_trace(p)[2], [])



@unittest.skipIf(np is None, "numpy not installed")
class Unclosed(TempDirTest):
    def test_a_tracer_dropped_without_close_warns_and_writes_nothing(self):
        import gc
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            line = inspect.currentframe().f_lineno + 1
            tr = memtrace.NumpyTracer(self.path("t.trace"))
            tr.array(np.ones(2), "x") * 2
            del tr
            gc.collect()
        unclosed = [w for w in caught if issubclass(w.category, memtrace.UnclosedTraceWarning)]
        self.assertEqual(len(unclosed), 1, [str(w.message) for w in caught])
        self.assertIn("NumpyTracer", str(unclosed[0].message))
        self.assertEqual((unclosed[0].filename, unclosed[0].lineno), (__file__, line))
        self.assertEqual(os.listdir(self.dir.name), [])


if __name__ == "__main__":
    unittest.main()
