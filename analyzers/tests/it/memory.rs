//! Memory use of every analyzer is proportional to what it must hold
//! (buffers, objects), not to the trace: on a 16-million-event trace (384 MB
//! raw) over six buffers, each command's peak resident memory stays small.
//! Measured with GNU time's maximum resident set size.

use std::path::Path;
use std::process::Command;

use memtrace::{Buffer, Header, Op, Role, TraceWriter};

const EVENTS: u64 = 16_000_000;
const LIMIT_KB: u64 = 64 * 1024;
/// The limit for the shapes of issue 16: memory that follows distinct lines or buffers.
const SHAPES_LIMIT_KB: u64 = 256 * 1024;

fn peak_rss_kb(args: &[&str], trace: &Path) -> u64 {
    peak_rss_kb_of(args, trace).0
}

/// Peak RSS and standard output of `analyze ARGS TRACE`.
fn peak_rss_kb_of(args: &[&str], trace: &Path) -> (u64, String) {
    let (kb, out, _) = measured(args, trace, None);
    (kb, out)
}

/// Peak RSS, standard output and standard error of `analyze ARGS TRACE`,
/// with `$TMPDIR` set to `tmp` if given.
fn measured(args: &[&str], trace: &Path, tmp: Option<&Path>) -> (u64, String, String) {
    let time = Path::new("/usr/bin/time");
    assert!(time.exists(), "GNU time (/usr/bin/time) is needed: apt-get install time");
    let mut cmd = Command::new(time);
    cmd.args(["-f", "MAXRSS %M"]).arg(assert_cmd::cargo::cargo_bin("analyze")).args(args).arg(trace);
    if let Some(tmp) = tmp {
        cmd.env("TMPDIR", tmp);
    }
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?}: {err}");
    let line = err.lines().rev().find(|l| l.starts_with("MAXRSS ")).unwrap_or_else(|| panic!("no MAXRSS in {err}"));
    (line[7..].trim().parse().unwrap(), String::from_utf8_lossy(&out.stdout).into(), err)
}

#[test]
fn analyzers_use_memory_for_their_state_not_for_the_trace() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("big.zst");
    let mut h = Header::new("memory-test", "1");
    for (name, len) in [("W1", 20_000u64), ("b1", 1000), ("W2", 1000), ("x", 20), ("h", 1000), ("out", 1)] {
        h.add_buffer(Buffer::new(name, len, Role::Other)).unwrap();
    }
    let lens = [20_000u64, 1000, 1000, 20, 1000, 1];
    let mut w = TraceWriter::create(&trace, h).unwrap();
    for i in 0..EVENTS {
        let b = (i % 6) as u32;
        let len = lens[b as usize];
        let off = (i * 7) % len;
        w.access(b, if i % 3 == 0 { Op::Write } else { Op::Read }, off, (len - off).min(64), (i / 1000) as u32)
            .unwrap();
    }
    let s = w.finish().unwrap();
    assert_eq!(s.events, EVENTS);
    assert!(s.raw_bytes > 380_000_000);
    for args in [
        &["info"][..],
        &["verify"],
        &["ard"],
        &["hist", "--stack"],
        &["cache", "--size", "4KiB,32KiB,256KiB"],
        &["cache", "--granularity", "line", "--size", "32KiB", "--assoc", "8", "--policy", "lru,arc,s3fifo,lfu,sieve"],
        &["mrc"],
        &["energy"],
    ] {
        let kb = peak_rss_kb(args, &trace);
        assert!(kb < LIMIT_KB, "analyze {args:?} peaked at {kb} KB reading a {} MB trace", s.raw_bytes >> 20);
    }
}

/// A 256 MiB buffer streamed in 4 KiB tiles, twice (4 M distinct lines):
/// set-associative caches gave each set a line table as large as the
/// buffer (4.4 GB for the default `energy` at 64 MiB; 256 MiB aborted).
#[test]
fn set_associative_caches_follow_distinct_lines() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("stream.zst");
    let mut h = Header::new("memory-test", "1");
    let elements = (256u64 << 20) / 4;
    let a = h.add_buffer(Buffer::new("big", elements, Role::Other)).unwrap();
    let mut w = TraceWriter::create(&trace, h).unwrap();
    for pass in 0..2u32 {
        for tile in 0..elements / 1024 {
            w.access(a, if pass == 0 { Op::Write } else { Op::Read }, tile * 1024, 1024, pass).unwrap();
        }
    }
    w.finish().unwrap();
    for args in [
        &["energy"][..],
        &["cache", "--granularity", "line", "--size", "1MiB", "--assoc", "16", "--policy", "lru,fifo,s3fifo"],
    ] {
        let kb = peak_rss_kb(args, &trace);
        assert!(kb < SHAPES_LIMIT_KB, "analyze {args:?} peaked at {kb} KB on 4 M distinct lines");
    }
}

/// 100,000 buffers each read after a write: one dense HdrHistogram per
/// buffer cost 9.8 GB.
#[test]
fn hist_follows_what_each_buffer_read() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("buffers.zst");
    let mut h = Header::new("memory-test", "1");
    let n = 100_000u32;
    h.buffers = (0..n).map(|i| Buffer::new(format!("b{i}"), 64, Role::Other)).collect();
    let mut w = TraceWriter::create(&trace, h).unwrap();
    for i in 0..n {
        w.access(i, Op::Write, 0, 64, 0).unwrap();
    }
    for i in 0..n {
        // Distances of every magnitude, so each buffer uses a few buckets.
        w.access(i, Op::Read, 0, 64, 1).unwrap();
        w.access(i, Op::Read, (i % 64) as u64, 1, 1).unwrap();
    }
    w.finish().unwrap();
    for args in [&["hist", "--json"][..], &["hist", "--weight", "floats", "--stack", "--json"]] {
        let (kb, out) = peak_rss_kb_of(args, &trace);
        assert!(kb < SHAPES_LIMIT_KB, "analyze {args:?} peaked at {kb} KB for {n} buffers");
        let report: serde_json::Value = serde_json::from_str(&out).unwrap();
        let per_buffer = report.get("per_buffer").or_else(|| report[0].get("per_buffer")).unwrap();
        assert_eq!(per_buffer.as_object().unwrap().len(), n as usize, "every buffer reported");
    }
}

/// 50 M line requests under `opt`: Belady's future was a next use per
/// request in memory (1.2 GB for 56 M); it is spooled to disk now, and the
/// command says how much disk before starting.
#[test]
fn opt_spools_its_future() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("sweeps.zst");
    let mut h = Header::new("memory-test", "1");
    // 1 M lines of 64 bytes, swept 50 times in 4 KiB tiles, with an
    // irregular tile order so that the future is not a plain cycle.
    let elements = (64u64 << 20) / 4;
    let a = h.add_buffer(Buffer::new("sweep", elements, Role::Other)).unwrap();
    let mut w = TraceWriter::create(&trace, h).unwrap();
    let tiles = elements / 1024;
    for pass in 0..50u64 {
        for t in 0..tiles {
            let tile = (t * 7919 + pass * 104_729) % tiles;
            w.access(a, if pass % 5 == 0 { Op::Write } else { Op::Read }, tile * 1024, 1024, pass as u32).unwrap();
        }
    }
    w.finish().unwrap();
    let args = ["cache", "--granularity", "line", "--policy", "opt,lru", "--size", "1MiB", "--json"];
    let (kb, stdout, err) = measured(&args, &trace, Some(dir.path()));
    assert!(err.contains("opt spools the future of 52,428,800 line requests"), "{err}");
    assert!(err.contains("(800MiB of disk, removed when done)"), "{err}");
    assert!(kb < SHAPES_LIMIT_KB, "opt over 52 M line requests peaked at {kb} KB");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let results = report["results"].as_array().unwrap();
    let misses = |p: &str| results.iter().find(|r| r["policy"] == p).unwrap()["misses"].as_u64().unwrap();
    assert!(misses("opt") < misses("lru"), "opt {} lru {}", misses("opt"), misses("lru"));
    assert!(misses("opt") >= 1 << 20, "at least the compulsory misses");
    // The spool is anonymous: nothing left in TMPDIR but the trace.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}
