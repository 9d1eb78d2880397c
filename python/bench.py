"""The Python package's speed, side by side in one run (`make bench` runs it
after the Rust bench, with $(PYTHON)):

- TraceWriter: range events per second through the Rust event sink and
  through the pure-Python one (its reference), on a seed-tracker-like call
  mix;
- trace_function: traced scalar events per second on a dot product, beside
  the same events written by hand-written TraceWriter calls;
- NumpyTracer: a sparse-parity training step traced, beside the same step
  on plain arrays.

Each figure is the best of 5 repetitions (the machine is shared; the best is
the least disturbed). Run from the repository root:
``python3 python/bench.py``.
"""
import os
import sys
import tempfile
import time

try:
    import memtrace  # the installed package, when there is one
except ImportError:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import memtrace
import memtrace.writer

REPEATS = 5


def best(fn):
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def writer_calls(path, n, sink):
    old = memtrace.writer._sink_class
    memtrace.writer._sink_class = lambda: sink
    try:
        with memtrace.TraceWriter(path, force=True) as t:
            t.write("W1", 20000)
            for _ in range(n // 4):
                t.write("h", 500)
                t.read("W1", 250, offset=500)
                t.read("h")
                t.write("acc_dW1", 20)
    finally:
        memtrace.writer._sink_class = old


def dot(a, b):
    s = a[0] * b[0]
    for i in range(1, len(a)):
        s = s + a[i] * b[i]
    return s


def dot_by_hand(path, n):
    """The events trace_function records for dot(), as TraceWriter calls."""
    with memtrace.TraceWriter(path, force=True) as t:
        read, write = t.read, t.write
        write("a", n, role="input")  # declares the buffers
        write("b", n, role="input")
        write("values", 1, role="other")
        for i in range(n):
            read("a", 1, offset=i)
            read("b", 1, offset=i)
            write("values", 1, offset=2 * i)
            if i:
                read("values", 1, offset=2 * i - 2)
                read("values", 1, offset=2 * i)
                write("values", 1, offset=2 * i + 1)
        read("values", 1, offset=2 * n - 1)


def main():
    folder = tempfile.mkdtemp(prefix="memtrace-pybench-")
    path = os.path.join(folder, "t.trace")
    rows = []
    try:
        n = 400_000
        from memtrace.writer import PySink

        native = memtrace.writer._sink_class()
        py = best(lambda: writer_calls(path, n, PySink))
        if native is not PySink:
            rs = best(lambda: writer_calls(path, n, native))
            rows.append(("TraceWriter, Rust event sink", "%.2f M range events/s" % (n / rs / 1e6), "%.1fx the pure-Python sink" % (py / rs)))
        else:
            rows.append(("TraceWriter (Rust extension not built)", "-", ""))
        rows.append(("TraceWriter, pure-Python sink", "%.2f M range events/s" % (n / py / 1e6), ""))

        m = 100_000
        ones = [1.0] * m
        events = 6 * m - 3 + 1
        traced = best(lambda: memtrace.trace_function(dot, ones, ones, path=path, force=True))
        by_hand = best(lambda: dot_by_hand(path, m))
        rows.append(("trace_function, dot product of 100,000", "%.2f M scalar events/s" % (events / traced / 1e6),
                     "%.2fx the time of the same events by hand-written calls (%.2f M/s)" % (traced / by_hand, events / by_hand / 1e6)))

        try:
            import numpy as np
        except ImportError:
            rows.append(("NumpyTracer (numpy not installed)", "-", ""))
        else:
            sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tests"))
            from test_numpy_tracer import sparse_parity_step

            class Plain(object):
                def name(self, x, *a, **k):
                    return x

            rng = np.random.default_rng(0)
            hidden, bits, steps = 1000, 20, 50
            W1 = rng.standard_normal((hidden, bits)) * 0.1

            def plain():
                args = (W1.copy(), np.zeros(hidden), rng.standard_normal(hidden) * 0.1, np.zeros(()), np.ones(bits), np.array(1.0))
                for _ in range(steps):
                    sparse_parity_step(Plain(), *args, 0.01)

            def traced_steps():
                with memtrace.NumpyTracer(path, force=True) as tr:
                    names = ("W1", "b1", "W2", "b2", "x", "y")
                    values = (W1.copy(), np.zeros(hidden), rng.standard_normal(hidden) * 0.1, np.zeros(()), np.ones(bits), np.array(1.0))
                    args = [tr.array(v, k, role="parameter" if k[0] in "Wb" else "input") for k, v in zip(names, values)]
                    for _ in range(steps):
                        sparse_parity_step(tr, *args, 0.01)
                        tr.step()

            p, t = best(plain), best(traced_steps)
            rows.append(("NumpyTracer, sparse-parity step (hidden 1000, 20 bits)", "%.0f us per traced step" % (t / steps * 1e6),
                         "%.1fx the untraced step (%.0f us)" % (t / p, p / steps * 1e6)))
    finally:
        for f in os.listdir(folder):
            os.unlink(os.path.join(folder, f))
        os.rmdir(folder)
    print("\n## Python package (best of %d)\n" % REPEATS)
    print("| what | figure | side by side |")
    print("|---|---|---|")
    for r in rows:
        print("| %s | %s | %s |" % r)


if __name__ == "__main__":
    main()
