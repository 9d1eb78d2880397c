//! Memory use of every analyzer is proportional to what it must hold
//! (buffers, objects), not to the trace: on a 16-million-event trace (384 MB
//! raw) over six buffers, each command's peak resident memory stays small.
//! Measured with GNU time's maximum resident set size.

use std::path::Path;
use std::process::Command;

use memtrace::{Buffer, Header, Op, Role, TraceWriter};

const EVENTS: u64 = 16_000_000;
const LIMIT_KB: u64 = 64 * 1024;

fn peak_rss_kb(args: &[&str], trace: &Path) -> u64 {
    let time = Path::new("/usr/bin/time");
    assert!(time.exists(), "GNU time (/usr/bin/time) is needed: apt-get install time");
    let out = Command::new(time)
        .args(["-f", "MAXRSS %M"])
        .arg(assert_cmd::cargo::cargo_bin("analyze"))
        .args(args)
        .arg(trace)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {err}");
    let line = err.lines().rev().find(|l| l.starts_with("MAXRSS ")).unwrap_or_else(|| panic!("no MAXRSS in {err}"));
    line[7..].trim().parse().unwrap()
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
