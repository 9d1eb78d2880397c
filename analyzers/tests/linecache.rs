//! Line-granular caches against libCacheSim: for the streams of
//! `lines/expected.json`, fully associative caches of 64-byte lines give
//! exactly the listed misses for every policy and size, and the request and
//! distinct-line counts of the layout rule.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::collections::HashSet;

use memtrace::{Header, TraceReader};
use memtrace_analyzers::linecache::{requests, Belady, LineLayout, PolicyKind};

fn line_requests(stream: &str) -> Vec<u64> {
    let dir = tempfile::tempdir().unwrap();
    let csv = common::reference().join("streams").join(format!("{stream}.events.csv"));
    let trace = dir.path().join("t.trace");
    memtrace::import::import_csv(&csv, &trace, Header::new("t", "0")).unwrap();
    let mut r = TraceReader::open(&trace).unwrap();
    let header = r.header().clone();
    let mut events = Vec::new();
    while let Some(b) = r.next_batch().unwrap() {
        events.extend_from_slice(b);
    }
    let mut layout = LineLayout::new(&header, 64);
    requests(&mut layout, &events).map(|(l, _, _)| l).collect()
}

fn policy(name: &str) -> PolicyKind {
    match name {
        "lru" => PolicyKind::Lru,
        "fifo" => PolicyKind::Fifo,
        "clock" => PolicyKind::Clock,
        "sieve" => PolicyKind::Sieve,
        "arc" => PolicyKind::Arc,
        "s3fifo" => PolicyKind::S3fifo,
        "lfu" => PolicyKind::Lfu,
        "opt" => PolicyKind::Opt,
        other => panic!("unknown policy {other}"),
    }
}

#[test]
fn every_policy_gives_libcachesims_exact_misses() {
    let expected = common::read_json(common::reference().join("lines/expected.json"));
    let mut failures = Vec::new();
    for (stream, e) in expected.as_object().unwrap() {
        let reqs = line_requests(stream);
        assert_eq!(reqs.len() as u64, e["requests"].as_u64().unwrap(), "{stream} requests");
        let distinct: HashSet<u64> = reqs.iter().copied().collect();
        assert_eq!(distinct.len() as u64, e["distinct_lines"].as_u64().unwrap(), "{stream} distinct lines");
        for (name, sizes) in e["policies"].as_object().unwrap() {
            for (size, want) in sizes.as_object().unwrap() {
                let cap = want["capacity_lines"].as_u64().unwrap();
                let mut p: Box<dyn memtrace_analyzers::linecache::Policy> = match policy(name) {
                    PolicyKind::Opt => Box::new(Belady::new(cap, &reqs)),
                    k => k.build(cap),
                };
                let misses = reqs.iter().filter(|&&l| !p.access(l).hit).count() as u64;
                let w = want["misses"].as_u64().unwrap();
                if misses != w {
                    failures.push(format!("{stream} {name} {size}B ({cap} lines): {misses} misses, libCacheSim {w}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}
