#!/usr/bin/env python3
"""`make findings`: the measurements behind docs/findings.md.

Records every configuration with `record` and measures it with `analyze`
(the commands a user would type; nothing private), then prints the tables
of docs/findings.md in Markdown. Standard library only.

Usage: scripts/findings.py [BIN_DIR]   (default: target/release)
"""
import json
import os
import subprocess
import sys
import tempfile

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release"
SAMPLES = 64  # every configuration covers the same 64 training samples


def run(*args):
    out = subprocess.run(args, check=True, capture_output=True, text=True)
    return out.stdout


def record(path, *flags):
    run(os.path.join(BIN, "record"), *flags, "-o", path)
    return path


def analyze(*args):
    return json.loads(run(os.path.join(BIN, "analyze"), *args, "--json"))


def line_hit_rates(trace):
    """Hit rate of fully associative LRU line caches (64-byte lines) at 32 KiB and 256 KiB."""
    r = analyze("cache", "--granularity", "line", "--size", "32KiB,256KiB", trace)["results"]
    return {x["size_bytes"]: x for x in r}


def energy(trace):
    return analyze("energy", trace)


def pct(x):
    return f"{100 * x:.1f}%"


def nj(pj):
    return f"{pj / 1000:,.1f}"


def row(cells):
    print("| " + " | ".join(str(c) for c in cells) + " |")


def header(cells):
    row(cells)
    row(["---"] * len(cells))


def measure(trace):
    c = line_hit_rates(trace)
    e = energy(trace)
    roles = e["per_role"]
    return {
        "l1": c[32768]["hit_rate"],
        "l1_read": c[32768]["read_hits"] / max(1, c[32768]["read_hits"] + c[32768]["read_misses"]),
        "l2": c[262144]["hit_rate"],
        "requests": c[32768]["requests"],
        "pj_sample": e["pj_per_sample"],
        "param_pj_sample": roles.get("parameter", {}).get("total", 0.0) / max(1, e["samples"]),
        "dram_share": e["energy_pj"]["by_level"][-1] / max(1e-12, e["energy_pj"]["total"]),
    }


def main():
    tmp = tempfile.mkdtemp(prefix="memtrace-findings-")
    results = {}

    print("## 1. Batch size (standard backprop, 64 samples per configuration)\n")
    for hidden in (200, 1000):
        print(f"hidden {hidden}:\n")
        header(["batch", "steps", "line requests", "hit rate 32 KiB", "reads hit 32 KiB", "hit rate 256 KiB",
                "nJ per sample", "of which parameters", "DRAM share"])
        for b in (1, 2, 4, 8, 16, 32, 64):
            steps = SAMPLES // b
            t = record(os.path.join(tmp, f"b{b}_h{hidden}.zst"), "--hidden", str(hidden), "--batch", str(b),
                       "--steps", str(steps))
            m = measure(t)
            results[("batch", hidden, b)] = m
            row([b, steps, f"{m['requests']:,}", pct(m["l1"]), pct(m["l1_read"]), pct(m["l2"]), nj(m["pj_sample"]),
                 nj(m["param_pj_sample"]), pct(m["dram_share"])])
        print()

    print("## 2. Tiled W1 (hidden 1000, single-sample, 8 steps)\n")
    header(["tiles", "hit rate 32 KiB", "reads hit 32 KiB", "hit rate 256 KiB", "nJ per sample"])
    for tiles in (None, 50, 100, 250, 500):
        flags = ["--hidden", "1000", "--steps", "8"] + (["--tiles", str(tiles)] if tiles else [])
        t = record(os.path.join(tmp, f"tiles{tiles}.zst"), *flags)
        m = measure(t)
        row([tiles or "none", pct(m["l1"]), pct(m["l1_read"]), pct(m["l2"]), nj(m["pj_sample"])])
    print()

    print("## 3. Variants with a batch of 32 (hidden 1000, 2 steps)\n")
    header(["variant", "hit rate 32 KiB", "reads hit 32 KiB", "hit rate 256 KiB", "nJ per sample",
            "of which parameters"])
    for variant in ("standard", "fused", "perlayer"):
        t = record(os.path.join(tmp, f"{variant}_b32.zst"), "--variant", variant, "--hidden", "1000",
                   "--batch", "32", "--steps", "2")
        m = measure(t)
        row([variant, pct(m["l1"]), pct(m["l1_read"]), pct(m["l2"]), nj(m["pj_sample"]), nj(m["param_pj_sample"])])
    print()

    print("## 4. Energy per sample, single-sample vs batch-32\n")
    header(["hidden", "batch 1 (nJ/sample)", "batch 32 (nJ/sample)", "batch 32 / batch 1"])
    for hidden in (200, 1000):
        a = results[("batch", hidden, 1)]["pj_sample"]
        b = results[("batch", hidden, 32)]["pj_sample"]
        row([hidden, nj(a), nj(b), f"{b / a:.2f}x"])


if __name__ == "__main__":
    main()
