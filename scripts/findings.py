#!/usr/bin/env python3
"""`make findings`: the measurements behind docs/findings.md.

Records every configuration with `record` and measures it with `analyze`
(the commands a user would type; nothing private), prints the tables of
docs/findings.md in Markdown and writes them into docs/findings.md, between
its `<!-- table:NAME -->` and `<!-- /table -->` markers (the prose around
them is written by people and says what the numbers mean). Standard
library only; its temporary traces are removed on the way out.

Usage: scripts/findings.py [BIN_DIR]   (default: target/release)
"""
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from contextlib import redirect_stdout

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


def dmd(trace):
    """Geometric-stack costs at 4 bytes per element (fp32)."""
    return analyze("dmd", "--bytes-per-element", "4", trace)


def per_sample(x, samples):
    return f"{x / samples:,.0f}"


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


TABLES = {}


def table(name, fill):
    """Prints the table `fill` prints, and keeps it for docs/findings.md."""
    out = io.StringIO()
    with redirect_stdout(out):
        fill()
    TABLES[name] = out.getvalue()
    print(TABLES[name])


def write_doc(path="docs/findings.md"):
    text = open(path).read()
    for name, body in TABLES.items():
        pattern = re.compile(r"(<!-- table:%s -->\n).*?(<!-- /table -->)" % re.escape(name), re.S)
        text, n = pattern.subn(lambda m: m.group(1) + body + m.group(2), text)
        if n != 1:
            sys.exit(f"{path}: no <!-- table:{name} --> ... <!-- /table --> markers")
    open(path, "w").write(text)
    print(f"{path}: {len(TABLES)} tables regenerated")


def main():
    with tempfile.TemporaryDirectory(prefix="memtrace-findings-") as tmp:
        measure_all(tmp)
    write_doc()


def measure_all(tmp):
    results = {}
    traces = {}

    def batches(hidden):
        header(["batch", "steps", "line requests", "hit rate 32 KiB", "reads hit 32 KiB", "hit rate 256 KiB",
                "nJ per sample", "of which parameters", "DRAM share"])
        for b in (1, 2, 4, 8, 16, 32, 64):
            steps = SAMPLES // b
            t = record(os.path.join(tmp, f"b{b}_h{hidden}.zst"), "--hidden", str(hidden), "--batch", str(b),
                       "--steps", str(steps))
            traces[("batch", hidden, b)] = t
            m = measure(t)
            results[("batch", hidden, b)] = m
            row([b, steps, f"{m['requests']:,}", pct(m["l1"]), pct(m["l1_read"]), pct(m["l2"]), nj(m["pj_sample"]),
                 nj(m["param_pj_sample"]), pct(m["dram_share"])])

    print("## 1. Batch size (standard backprop, 64 samples per configuration)\n")
    for hidden in (200, 1000):
        print(f"hidden {hidden}:\n")
        table(f"batch-h{hidden}", lambda: batches(hidden))

    def tiles():
        header(["tiles", "hit rate 32 KiB", "reads hit 32 KiB", "hit rate 256 KiB", "nJ per sample"])
        for tiles in (None, 50, 100, 250, 500):
            flags = ["--hidden", "1000", "--steps", "8"] + (["--tiles", str(tiles)] if tiles else [])
            t = record(os.path.join(tmp, f"tiles{tiles}.zst"), *flags)
            traces[("tiles", tiles)] = t
            m = measure(t)
            row([tiles or "none", pct(m["l1"]), pct(m["l1_read"]), pct(m["l2"]), nj(m["pj_sample"])])

    print("## 2. Tiled W1 (hidden 1000, single-sample, 8 steps)\n")
    table("tiles", tiles)

    def variants():
        header(["variant", "hit rate 32 KiB", "reads hit 32 KiB", "hit rate 256 KiB", "nJ per sample",
                "of which parameters"])
        for variant in ("standard", "fused", "perlayer"):
            t = record(os.path.join(tmp, f"{variant}_b32.zst"), "--variant", variant, "--hidden", "1000",
                       "--batch", "32", "--steps", "2")
            traces[("variant", variant)] = t
            m = measure(t)
            row([variant, pct(m["l1"]), pct(m["l1_read"]), pct(m["l2"]), nj(m["pj_sample"]),
                 nj(m["param_pj_sample"])])

    print("## 3. Variants with a batch of 32 (hidden 1000, 2 steps)\n")
    table("variants", variants)

    def energy_ratio():
        header(["hidden", "batch 1 (nJ/sample)", "batch 32 (nJ/sample)", "batch 32 / batch 1"])
        for hidden in (200, 1000):
            a = results[("batch", hidden, 1)]["pj_sample"]
            b = results[("batch", hidden, 32)]["pj_sample"]
            row([hidden, nj(a), nj(b), f"{b / a:.2f}x"])

    print("## 4. Energy per sample, single-sample vs batch-32\n")
    table("energy", energy_ratio)

    def geometric(key, label, samples):
        header([label, "weighted ARD", "bytedmd_classic / sample", "bytedmd_live / sample", "space_dmd / sample",
                "live vs first"])
        first = None
        for name, t in [(k[-1], v) for k, v in traces.items() if k[:-1] == key]:
            d = dmd(t)
            first = first or d["bytedmd_live"]
            row([name or "none", f"{analyze('ard', t)['weighted_ard']:,.0f}",
                 per_sample(d["bytedmd_classic"], samples), per_sample(d["bytedmd_live"], samples),
                 per_sample(d["space_dmd"], samples), f"{d['bytedmd_live'] / first:.3f}x"])

    print("## 5. Under the geometric stack (4 bytes per element)\n")
    table("dmd-tiles", lambda: geometric(("tiles",), "tiles", 8))
    table("dmd-variants", lambda: geometric(("variant",), "variant", 64))
    table("dmd-batch", lambda: geometric(("batch", 1000), "batch", SAMPLES))


if __name__ == "__main__":
    main()
