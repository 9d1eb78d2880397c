#!/usr/bin/env python3
"""Times every analyzer of two `analyze` binaries on the same traces, side
by side in one run: each command alternates between the two binaries, and
the median of several runs is reported with the ratio new / old.

    scripts/compare_analyzers.py OLD_ANALYZE NEW_ANALYZE TRACE...

To compare with an earlier commit:

    git worktree add /tmp/old COMMIT && (cd /tmp/old && cargo build --release -p memtrace-analyzers)
    scripts/compare_analyzers.py /tmp/old/target/release/analyze target/release/analyze t.trace
"""
import statistics
import subprocess
import sys
import time

COMMANDS = [
    ["info"],
    ["ard"],
    ["hist"],
    ["hist", "--stack"],
    ["cache", "--size", "32KiB,256KiB"],
    ["cache", "--granularity", "line", "--size", "32KiB", "--policy", "lru,fifo,clock,sieve,lfu,arc,s3fifo,random"],
    ["cache", "--granularity", "line", "--size", "32KiB", "--assoc", "8", "--policy", "lru"],
    ["mrc"],
    ["energy"],
]
RUNS = 7


def timed(cmd):
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    old, new, traces = sys.argv[1], sys.argv[2], sys.argv[3:]
    print(f"{'command':<60} {'old s':>8} {'new s':>8} {'new/old':>8}")
    worst = 0.0
    for args in COMMANDS:
        times = {old: [], new: []}
        for _ in range(RUNS):
            for binary in (old, new):
                times[binary].append(timed([binary, *args, *traces]))
        o, n = statistics.median(times[old]), statistics.median(times[new])
        worst = max(worst, n / o)
        print(f"{' '.join(args):<60} {o:>8.3f} {n:>8.3f} {n / o:>8.2f}")
    print(f"slowest ratio new/old: {worst:.2f}")


if __name__ == "__main__":
    main()
