"""Times libCacheSim's own policies on an oracleGeneral trace, for `make bench`.

Usage: python3 libcachesim_bench.py TRACE CAPACITY_OBJECTS
Prints one line per policy: name, seconds (median of 3), miss ratio.
Exits 3 when the `libcachesim` package (pip install libcachesim) is missing.
"""
import statistics
import sys
import time

try:
    import libcachesim as lcs
except ImportError:
    sys.exit(3)

POLICIES = {"lru": "LRU", "fifo": "FIFO", "sieve": "Sieve", "lfu": "LFU", "opt": "Belady"}


def main():
    path, capacity = sys.argv[1], int(sys.argv[2])
    for name, cls in POLICIES.items():
        times, ratio = [], None
        for _ in range(3):
            params = lcs.ReaderInitParam(ignore_obj_size=True)
            reader = lcs.TraceReader(path, lcs.TraceType.ORACLE_GENERAL_TRACE, params)
            cache = getattr(lcs, cls)(cache_size=capacity)
            start = time.perf_counter()
            ratio, _ = cache.process_trace(reader)
            times.append(time.perf_counter() - start)
        print(name, statistics.median(times), ratio, flush=True)


if __name__ == "__main__":
    main()
