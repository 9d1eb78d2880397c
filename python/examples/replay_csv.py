"""Replay a seed tracker's events CSV (op,buffer,size) through TraceWriter.

    python3 python/examples/replay_csv.py events.csv out.zst [--step-before NAME]

With --step-before W1, a write of W1 that is not an update (not right after a
read of W1) starts a new step: how the seed protocols with --reload-params
begin each step.
"""
import csv
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from memtrace import TraceWriter  # noqa: E402


def main(argv):
    if len(argv) not in (3, 5) or (len(argv) == 5 and argv[3] != "--step-before"):
        sys.stderr.write(__doc__)
        return 2
    src, out = argv[1], argv[2]
    step_before = argv[4] if len(argv) == 5 else None
    with open(src, newline="") as f, TraceWriter(out, metadata={"source": os.path.basename(src)}) as tracker:
        rows = csv.reader(f)
        header = next(rows)
        if header[:3] != ["op", "buffer", "size"]:
            sys.stderr.write("%s: line 1: expected op,buffer,size\n" % src)
            return 1
        previous = None
        for op, name, size in rows:
            if op == "W":
                if step_before == name and previous is not None and previous != ("R", name):
                    tracker.step()
                tracker.write(name, int(size))
            else:
                tracker.read(name, int(size))
            previous = (op, name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
