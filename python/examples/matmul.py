"""A naive and a tiled matrix multiply, traced with trace_function and
compared under ard, cache, mrc and dmd: README's Python example.

    python3 python/examples/matmul.py [N] [TILE]     (default 16 4)
"""
import os
import sys
import tempfile

import memtrace


def naive_matmul(A, B):
    """C = A B^T, the researchers' naive_matmul: one dot product per entry."""
    n = len(A)
    C = [[None] * n for _ in range(n)]
    for i in range(n):
        for j in range(n):
            s = A[i][0] * B[j][0]
            for k in range(1, n):
                s = s + A[i][k] * B[j][k]
            C[i][j] = s
    return C


def tiled_matmul(A, B, tile=4):
    """The same product, accumulated tile by tile (i, j, k blocks of `tile`)."""
    n = len(A)
    C = [[None] * n for _ in range(n)]
    for i0 in range(0, n, tile):
        for j0 in range(0, n, tile):
            for k0 in range(0, n, tile):
                for i in range(i0, min(i0 + tile, n)):
                    for j in range(j0, min(j0 + tile, n)):
                        s = C[i][j]
                        for k in range(k0, min(k0 + tile, n)):
                            p = A[i][k] * B[j][k]
                            s = p if s is None else s + p
                        C[i][j] = s
    return C


def compare(n=16, tile=4, folder=None):
    """{name: {figure: value}} for both algorithms on n x n matrices of ones;
    the traces go to ``folder`` (default: a temporary folder, removed)."""
    if folder is None:
        with tempfile.TemporaryDirectory(prefix="memtrace-matmul-") as tmp:
            return compare(n, tile, tmp)
    A = [[1.0] * n for _ in range(n)]
    rows = {}
    for name, fn, extra in (("naive", naive_matmul, ()), ("tiled", tiled_matmul, (tile,))):
        path = os.path.join(folder, "%s.trace" % name)
        C = memtrace.trace_function(fn, A, A, *extra, path=path, force=True)
        assert C == [[float(n)] * n for _ in range(n)]
        ard = memtrace.analyze(path, "ard")
        cache = memtrace.analyze(path, "cache", granularity="line", size="512B,2KiB")["results"]
        mrc = memtrace.analyze(path, "mrc")
        dmd = memtrace.analyze(path, "dmd", bytes_per_element=1)
        rows[name] = {
            "reads": dmd["loads"],
            "weighted ARD": ard["weighted_ard"],
            "LRU hit rate, 512B": cache[0]["hit_rate"],
            "LRU hit rate, 2KiB": cache[1]["hit_rate"],
            "working set (MRC knee)": _knee(mrc["points"]),
            "bytedmd_classic": dmd["bytedmd_classic"],
            "bytedmd_live": dmd["bytedmd_live"],
            "space_dmd": dmd["space_dmd"],
        }
    return rows


def _knee(points):
    """The smallest cache size whose miss ratio is within 1% of the coldest."""
    floor = min(p["miss_ratio"] for p in points)
    return min(p["size_bytes"] for p in points if p["miss_ratio"] <= floor + 0.01)


def main(argv):
    n = int(argv[1]) if len(argv) > 1 else 16
    tile = int(argv[2]) if len(argv) > 2 else 4
    rows = compare(n, tile)
    figures = list(rows["naive"])
    print("| %dx%d, tile %d | naive | tiled |" % (n, n, tile))
    print("|---|---:|---:|")
    for f in figures:
        cells = []
        for name in ("naive", "tiled"):
            v = rows[name][f]
            cells.append("%.1f%%" % (100 * v) if "rate" in f else ("%.1f" % v if isinstance(v, float) else "{:,}".format(v)))
        print("| %s | %s | %s |" % (f, cells[0], cells[1]))


if __name__ == "__main__":
    main(sys.argv)
