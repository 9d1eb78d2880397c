//! Line-granular caches against libCacheSim: for the streams of
//! `lines/expected.json`, fully associative caches of 64-byte lines give
//! exactly the listed misses for every policy and size, and the request and
//! distinct-line counts of the layout rule.

use crate::common;

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

/// The reference names policies as the policy table does.
fn policy(name: &str) -> PolicyKind {
    PolicyKind::from_name(name).unwrap_or_else(|| panic!("unknown policy {name}"))
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
                let kind = policy(name);
                let mut p = kind.build(cap).unwrap_or_else(|| Box::new(Belady::new(cap, &reqs)));
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

#[test]
fn the_cli_reports_line_caches_with_the_documented_fields() {
    let dir = tempfile::tempdir().unwrap();
    let csv = common::reference().join("streams/expb_h200_single32.events.csv");
    let trace = dir.path().join("t.zst");
    assert_cmd::Command::cargo_bin("analyze").unwrap().arg("import").arg(&csv).arg("-o").arg(&trace).assert().success();
    let out = assert_cmd::Command::cargo_bin("analyze")
        .unwrap()
        .args(["cache", "--granularity", "line", "--size", "8KiB,32KiB", "--policy", "lru,opt", "--json"])
        .arg(&trace)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    let expected = common::read_json(common::reference().join("lines/expected.json"));
    for r in results {
        for key in [
            "trace",
            "policy",
            "granularity",
            "line",
            "assoc",
            "size_bytes",
            "read_hits",
            "read_misses",
            "write_hits",
            "write_misses",
            "bytes_in",
            "bytes_written_back",
            "hits",
            "misses",
            "per_role",
            "per_buffer",
        ] {
            assert!(r.get(key).is_some(), "no {key} in {r}");
        }
        assert_eq!(r["granularity"], "line");
        assert_eq!(r["assoc"], "full");
        let want =
            &expected["expb_h200_single32"]["policies"][r["policy"].as_str().unwrap()][r["size_bytes"].to_string()];
        assert_eq!(r["misses"], want["misses"], "{}", r["policy"]);
        let misses = r["read_misses"].as_u64().unwrap() + r["write_misses"].as_u64().unwrap();
        assert_eq!(r["misses"].as_u64().unwrap(), misses);
        assert_eq!(r["bytes_in"].as_u64().unwrap(), misses * 64);
        let roles: u64 = r["per_role"].as_object().unwrap().values().map(|t| t["bytes_in"].as_u64().unwrap()).sum();
        assert_eq!(roles, misses * 64, "per-role traffic adds up");
    }
    // Line flags without line granularity are refused, never ignored: by
    // clap when --granularity is absent (a usage error, exit 2), by
    // `analyze` when it says object (exit 1).
    for (args, code) in [
        (vec!["--policy", "fifo"], 2),
        (vec!["--assoc", "4", "--line", "128"], 2),
        (vec!["--granularity", "object", "--assoc", "4"], 1),
        (vec!["--granularity", "object", "--policy", "lru"], 1),
    ] {
        let out = assert_cmd::Command::cargo_bin("analyze")
            .unwrap()
            .args(["cache", "--size", "32KiB"])
            .args(&args)
            .arg(&trace)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--granularity"), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?} printed a result");
    }
}

#[test]
fn the_one_pass_curve_gives_libcachesims_lru_misses_and_sampling_stays_close() {
    let expected = common::read_json(common::reference().join("lines/expected.json"));
    for (stream, e) in expected.as_object().unwrap() {
        let dir = tempfile::tempdir().unwrap();
        let csv = common::reference().join("streams").join(format!("{stream}.events.csv"));
        let trace = dir.path().join("t.trace");
        memtrace::import::import_csv(&csv, &trace, Header::new("t", "0")).unwrap();
        let curve = memtrace_analyzers::replay(TraceReader::open(&trace).unwrap(), |h| {
            memtrace_analyzers::mrc::Mrc::new(h, 64, 1.0)
        })
        .unwrap();
        assert_eq!(curve.requests, e["requests"].as_u64().unwrap());
        for (size, want) in e["policies"]["lru"].as_object().unwrap() {
            let size: u64 = size.parse().unwrap();
            assert_eq!(curve.misses_at(size), want["misses"].as_u64().unwrap(), "{stream} at {size} bytes");
        }
        // SHARDS at R = 0.5: every miss ratio within 0.05 of the exact curve here.
        let sampled = memtrace_analyzers::replay(TraceReader::open(&trace).unwrap(), |h| {
            memtrace_analyzers::mrc::Mrc::new(h, 64, 0.5)
        })
        .unwrap();
        for size in [2048u64, 8192, 32768, 131072, 524288] {
            let (a, b) = (curve.point(size).miss_ratio, sampled.point(size).miss_ratio);
            assert!((a - b).abs() < 0.05, "{stream} at {size}: exact {a}, sampled {b}");
        }
    }
}

#[test]
fn stack_distance_histograms_count_exactly_the_lru_hits() {
    let dir = tempfile::tempdir().unwrap();
    let csv = common::reference().join("streams/expb_h1000_batch32.events.csv");
    let trace = dir.path().join("t.zst");
    assert_cmd::Command::cargo_bin("analyze").unwrap().arg("import").arg(&csv).arg("-o").arg(&trace).assert().success();
    let run = |args: &[&str]| -> serde_json::Value {
        let out = assert_cmd::Command::cargo_bin("analyze").unwrap().args(args).arg(&trace).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let hist = run(&["hist", "--stack", "--json"]);
    let stack = &hist["stack"];
    let expected = common::read_json(common::reference().join("lines/expected.json"));
    assert_eq!(stack["requests"], expected["expb_h1000_batch32"]["requests"]);
    assert_eq!(stack["cold"], expected["expb_h1000_batch32"]["distinct_lines"]);
    let buckets = stack["all"]["buckets"].as_array().unwrap();
    // Power-of-two buckets end at 2^k - 1 lines: an LRU cache of that many lines hits exactly those below.
    for k in [4u32, 7, 10, 13] {
        let lines = (1u64 << k) - 1;
        let below: u64 =
            buckets.iter().filter(|b| b["hi"].as_u64().unwrap() <= lines).map(|b| b["count"].as_u64().unwrap()).sum();
        let cache = run(&["cache", "--granularity", "line", "--size", &(lines * 64).to_string(), "--json"]);
        assert_eq!(cache["results"][0]["hits"].as_u64().unwrap(), below, "{lines} lines");
    }
    // Without --stack the key is absent, so existing consumers see no change.
    assert!(run(&["hist", "--json"]).get("stack").is_none());
}

/// A configuration is refused unless it is what gets simulated: less than
/// a line, a size that is not whole lines, ways that do not divide the lines.
#[test]
fn configurations_that_would_degenerate_are_refused() {
    let trace = common::root().join("traces/golden/expa_h500_standard.trace");
    for (args, says) in [
        (vec!["cache", "--granularity", "line", "--size", "40"], "--size 40B: smaller than one 64-byte line"),
        (vec!["cache", "--granularity", "line", "--size", "100"], "--size 100B: not a whole number of 64-byte lines"),
        (
            vec!["cache", "--granularity", "line", "--size", "32KiB", "--assoc", "3"],
            "--size 32KiB with 3 ways: its 512 lines do not split into sets of 3",
        ),
        (vec!["energy", "--level", "32KiB:3"], "--level 32KiB with 3 ways: its 512 lines do not split into sets of 3"),
    ] {
        let out = assert_cmd::Command::cargo_bin("analyze").unwrap().args(&args).arg(&trace).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with(&format!("analyze: {says}")) && err.lines().count() == 1, "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
}

/// `replay_all` (every configuration from one reading of the trace, on a
/// pool of threads) gives what separate replays give, in order, and a
/// damaged trace is an error for all of them, never a partial result (under
/// the watchdog: a pool that hung would stall the suite).
#[test]
fn one_reading_serves_every_configuration() {
    use memtrace_analyzers::linecache::{LineCacheSim, LineConfig};
    use memtrace_analyzers::{replay, replay_all};
    let dir = tempfile::tempdir().unwrap();
    let csv = common::reference().join("streams/expb_h1000_batch4.events.csv");
    let trace = dir.path().join("t.trace");
    memtrace::import::import_csv(&csv, &trace, Header::new("t", "0")).unwrap();
    let configs: Vec<LineConfig> =
        [(PolicyKind::Lru, 4096, None), (PolicyKind::Sieve, 32768, None), (PolicyKind::Fifo, 8192, Some(4))]
            .iter()
            .map(|&(policy, size_bytes, assoc)| LineConfig { policy, size_bytes, line: 64, assoc })
            .collect();
    let (path, cfgs) = (trace.clone(), configs.clone());
    let (together, batches) = within_a_minute(move || {
        let mut batches = 0;
        let results = replay_all(
            TraceReader::open(&path).unwrap(),
            cfgs.len(),
            |i, h| LineCacheSim::new(h, cfgs[i], None),
            &mut |_, _, _| batches += 1,
        )
        .unwrap();
        (results, batches)
    });
    assert!(batches > 0);
    for (cfg, got) in configs.iter().zip(&together) {
        let alone = replay(TraceReader::open(&trace).unwrap(), |h| LineCacheSim::new(h, *cfg, None)).unwrap();
        assert_eq!(serde_json::to_value(got).unwrap(), serde_json::to_value(&alone).unwrap());
    }
    let mut bytes = std::fs::read(&trace).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    let damaged = dir.path().join("damaged.trace");
    std::fs::write(&damaged, bytes).unwrap();
    let failed = within_a_minute(move || {
        replay_all(
            TraceReader::open(&damaged).unwrap(),
            configs.len(),
            |i, h| LineCacheSim::new(h, configs[i], None),
            &mut |_, _, _| {},
        )
        .is_err()
    });
    assert!(failed);
}

/// Folds every event into an order-sensitive hash; panics at event `panic_at`.
struct Fold {
    hash: u64,
    seen: u64,
    panic_at: Option<u64>,
}

impl memtrace_analyzers::Analyzer for Fold {
    type Output = (u64, u64);
    fn event(&mut self, e: &memtrace::Event) {
        if self.panic_at == Some(self.seen) {
            panic!("deliberate panic at event {}", self.seen);
        }
        self.seen += 1;
        self.hash = (self.hash ^ (e.offset << 8 | e.buffer as u64)).wrapping_mul(0x100_0000_01b3);
    }
    fn finish(self, _: &Header, _: &memtrace::TraceSummary) -> memtrace_analyzers::Result<(u64, u64)> {
        Ok((self.hash, self.seen))
    }
}

/// `f()`, or a failure if it takes a minute (a hang would stall the suite).
fn within_a_minute<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(Ok(v)) => v,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("hung: no result after a minute"),
    }
}

fn folding_trace(dir: &std::path::Path, events: u64) -> std::path::PathBuf {
    use memtrace::{Buffer, Event, Op, Role};
    let path = dir.join("fold.trace");
    let mut h = Header::new("test", "0");
    h.add_buffer(Buffer { name: "a".into(), len: 1 << 20, elem_size: 4, role: Role::Activation }).unwrap();
    h.add_buffer(Buffer { name: "b".into(), len: 1 << 20, elem_size: 4, role: Role::Parameter }).unwrap();
    let mut w = memtrace::TraceWriter::create(&path, h).unwrap();
    for i in 0..events {
        let offset = (i * 7919) % (1 << 20);
        w.event(Event { buffer: (i % 2) as u32, op: Op::Read, offset, len: 1, step: 0 }).unwrap();
    }
    w.finish().unwrap();
    path
}

/// However many analyzers share the cores (fewer, as many, many more), each
/// sees every event once and in order: batches far more than the window
/// the reader may run ahead by, so batches are dropped while others wait.
#[test]
fn every_analyzer_sees_every_event_in_order_however_many_share_the_cores() {
    let dir = tempfile::tempdir().unwrap();
    let events = 150_000;
    let trace = folding_trace(dir.path(), events);
    let fold = |_: usize, _: &Header| Fold { hash: 0, seen: 0, panic_at: None };
    let alone = memtrace_analyzers::replay(TraceReader::open(&trace).unwrap(), |h| fold(0, h)).unwrap();
    assert_eq!(alone.1, events);
    for n in [1, 2, 3, 9, 24] {
        let trace = trace.clone();
        let all = within_a_minute(move || {
            memtrace_analyzers::replay_all(TraceReader::open(&trace).unwrap(), n, fold, &mut |_, _, _| {}).unwrap()
        });
        assert_eq!(all, vec![alone; n], "{n} analyzers");
    }
}

/// An analyzer that panics ends the replay with its panic, never a hang
/// of the others waiting for it or of the reader waiting for room.
#[test]
fn a_panicking_analyzer_ends_the_replay_instead_of_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let trace = folding_trace(dir.path(), 150_000);
    for n in [1, 3, 9] {
        let trace = trace.clone();
        let result = within_a_minute(move || {
            std::panic::catch_unwind(|| {
                let fold = |i: usize, _: &Header| Fold { hash: 0, seen: 0, panic_at: (i == n / 2).then_some(70_000) };
                memtrace_analyzers::replay_all(TraceReader::open(&trace).unwrap(), n, fold, &mut |_, _, _| {})
                    .map(drop)
                    .map_err(|e| e.to_string())
            })
            .map_err(|panic| panic.downcast_ref::<String>().cloned().unwrap_or_default())
        });
        let message = result.expect_err("the replay went on past a panic");
        assert!(message.contains("deliberate panic at event 70000"), "{message}");
    }
    // The reading side panicking (here the progress callback) ends the workers too.
    let result = within_a_minute(move || {
        std::panic::catch_unwind(|| {
            let fold = |_: usize, _: &Header| Fold { hash: 0, seen: 0, panic_at: None };
            let mut batches = 0;
            let mut progress = |_: &[memtrace::Event], _: u64, _: Option<u64>| {
                batches += 1;
                assert!(batches < 10, "deliberate panic in progress");
            };
            memtrace_analyzers::replay_all(TraceReader::open(&trace).unwrap(), 3, fold, &mut progress).map(drop)
        })
        .map_err(|panic| panic.downcast_ref::<&str>().map(|s| s.to_string()).unwrap_or_default())
    });
    assert!(result.expect_err("the replay went on past a panic").contains("deliberate panic in progress"));
}
