//! `make bench`: measures, in one run on this machine, what README.md
//! reports: trace size per event, read throughput of both encodings,
//! analyzer throughput, trainer speed against the Python reference, and the
//! cost of recording. Each figure is the median of several repetitions.

use std::path::Path;
use std::time::Instant;

use memtrace::{TraceReader, TraceWriter};
use memtrace_analyzers::ard::Ard;
use memtrace_analyzers::cache::ObjectCaches;
use memtrace_analyzers::replay;
use memtrace_trainer::record::TraceRecorder;
use memtrace_trainer::run::{RunConfig, Trainer};
use memtrace_trainer::task::{RngKind, Shape};
use memtrace_trainer::train::{NoTrace, Variant};

/// The Python reference trainer: hidden 500, seed 42, 11 epochs, all three variants.
const PYTHON_SECONDS: f64 = 16.0;
const REPS: usize = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    median(
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn config(hidden: usize, variant: Variant) -> RunConfig {
    RunConfig {
        shape: Shape { n_bits: 20, k: 3, hidden, n_train: 500, n_test: 200 },
        lr: 0.1,
        wd: 0.01,
        seed: 42,
        rng: RngKind::Python,
        variant,
        batch: 1,
        tiles: None,
        shuffle: false,
    }
}

/// Records `epochs` epochs of training (every step) into `path`; returns events.
fn record_run(path: &Path, hidden: usize, epochs: usize) -> u64 {
    let mut t = Trainer::new(config(hidden, Variant::Standard));
    let header = memtrace::Header::new("bench", "0");
    let mut rec = TraceRecorder::create(path, header, 20, hidden, 1).expect("create trace");
    t.stepper.write_params(&mut rec);
    for _ in 0..epochs {
        t.epoch(&mut rec);
        t.record_epoch();
    }
    let s = rec.finish().expect("finish trace");
    s.events
}

fn read_all(path: &Path) -> u64 {
    let mut r = TraceReader::open(path).expect("open");
    let mut n = 0u64;
    while let Some(b) = r.next_batch().expect("read") {
        n += b.len() as u64;
    }
    n
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    println!(
        "memtrace bench (median of {REPS}; {} cores)\n",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    // --- Trainer against the Python reference.
    let variants = [Variant::Standard, Variant::Fused, Variant::Perlayer];
    let mut per_variant = Vec::new();
    for v in variants {
        per_variant.push(time(REPS, || {
            let mut t = Trainer::new(config(500, v));
            let solved = t.train(20, 1.0, |_| {});
            assert_eq!(solved, Some(11));
        }));
    }
    let sequential: f64 = per_variant.iter().sum();
    let concurrent = time(REPS, || {
        std::thread::scope(|s| {
            for v in variants {
                s.spawn(move || Trainer::new(config(500, v)).train(20, 1.0, |_| {}));
            }
        })
    });
    println!("trainer: hidden 500, seed 42, 11 epochs (Python reference: {PYTHON_SECONDS} s for the three)");
    for (v, t) in variants.iter().zip(&per_variant) {
        println!("  {:<10} {:>8.1} ms", v.name(), t * 1e3);
    }
    println!(
        "  three, one after another {:>8.1} ms  {:>6.0}x faster than Python",
        sequential * 1e3,
        PYTHON_SECONDS / sequential
    );
    println!(
        "  three, concurrently      {:>8.1} ms  {:>6.0}x faster than Python\n",
        concurrent * 1e3,
        PYTHON_SECONDS / concurrent
    );

    // --- Cost of recording: the same run untraced and traced.
    let epochs = 3;
    let untraced = time(REPS, || {
        let mut t = Trainer::new(config(1000, Variant::Standard));
        for _ in 0..epochs {
            t.epoch(&mut NoTrace);
            t.record_epoch();
        }
    });
    let trace_path = dir.path().join("run.zst");
    let mut events = 0;
    let traced = time(REPS, || events = record_run(&trace_path, 1000, epochs));
    println!("recording: hidden 1000, {epochs} epochs, every step traced ({events} events)");
    println!("  untraced {:>8.1} ms", untraced * 1e3);
    println!("  traced   {:>8.1} ms  (+{:.1}%)\n", traced * 1e3, (traced / untraced - 1.0) * 100.0);

    // --- A trace of at least a million events, both encodings.
    let big_zst = dir.path().join("big.zst");
    let big_raw = dir.path().join("big.trace");
    let mut n_events = 0;
    let mut epochs_big = 10;
    while n_events < 1_000_000 {
        n_events = record_run(&big_zst, 1000, epochs_big);
        epochs_big *= 2;
    }
    {
        let mut r = TraceReader::open(&big_zst).expect("open");
        let mut w = TraceWriter::create(&big_raw, r.header().clone()).expect("create raw");
        while let Some(b) = r.next_batch().expect("read") {
            for e in b {
                w.event(*e).expect("write");
            }
        }
        w.finish().expect("finish raw");
    }
    let zst_bytes = std::fs::metadata(&big_zst).map(|m| m.len()).unwrap_or(0);
    let raw_bytes = std::fs::metadata(&big_raw).map(|m| m.len()).unwrap_or(0);
    println!("trace size: {n_events} events (whole training run, hidden 1000)");
    println!("  raw  {:>12} bytes  {:>6.2} bytes/event", raw_bytes, raw_bytes as f64 / n_events as f64);
    println!("  zstd {:>12} bytes  {:>6.2} bytes/event\n", zst_bytes, zst_bytes as f64 / n_events as f64);

    let rate = |secs: f64| n_events as f64 / secs / 1e6;
    let raw_read = time(REPS, || assert_eq!(read_all(&big_raw), n_events));
    let zst_read = time(REPS, || assert_eq!(read_all(&big_zst), n_events));
    println!("read (decode + validate + CRC), millions of events/s:");
    println!("  raw (mmap) {:>8.1} M/s  {:>7.0} MB/s", rate(raw_read), raw_bytes as f64 / raw_read / 1e6);
    println!(
        "  zstd       {:>8.1} M/s  {:>7.0} MB/s of raw trace\n",
        rate(zst_read),
        raw_bytes as f64 / zst_read / 1e6
    );

    let ard = time(REPS, || {
        replay(TraceReader::open(&big_raw).expect("open"), Ard::new).expect("ard");
    });
    let cache1 = time(REPS, || {
        replay(TraceReader::open(&big_raw).expect("open"), |h| ObjectCaches::new(h, &[32768])).expect("cache");
    });
    let cache2 = time(REPS, || {
        replay(TraceReader::open(&big_raw).expect("open"), |h| ObjectCaches::new(h, &[32768, 262144])).expect("cache");
    });
    println!("analyzers on the raw trace (reading included), millions of events/s:");
    println!("  ard                  {:>8.1} M/s", rate(ard));
    println!("  cache, one size      {:>8.1} M/s", rate(cache1));
    println!("  cache, two sizes     {:>8.1} M/s", rate(cache2));
}
