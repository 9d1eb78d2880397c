//! What every target does with a trace that reads back: replay it through
//! every analyzer, which must not panic on anything the reader accepts.

use memtrace::TraceReader;
use memtrace_analyzers::ard::Ard;
use memtrace_analyzers::cache::ObjectCaches;
use memtrace_analyzers::hist::{Hist, Weight};
use memtrace_analyzers::linecache::{LineCacheSim, LineConfig, PolicyKind};
use memtrace_analyzers::mrc::Mrc;
use memtrace_analyzers::replay;

pub fn read_and_analyze(open: impl Fn() -> memtrace::Result<TraceReader>) {
    let Ok(mut reader) = open() else { return };
    loop {
        match reader.next_batch() {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => {
                // Every error renders as one line with its position.
                let msg = e.to_string();
                assert!(!msg.is_empty() && !msg.contains('\n'));
                return;
            }
        }
    }
    // The trace is sound: every analyzer must get through it.
    if let Ok(r) = open() {
        let _ = replay(r, Ard::new);
    }
    if let Ok(r) = open() {
        let _ = replay(r, |h| ObjectCaches::new(h, &[64, 4096]));
    }
    if let Ok(r) = open() {
        let _ = replay(r, |h| Hist::new(h, Weight::Floats));
    }
    // Line analyzers take time per line a trace declares (one 24-byte event
    // can span 2^40 lines: docs/testing.md); keep fuzzing to modest buffers.
    let modest = open().map(|r| r.header().buffers.iter().all(|b| b.len.saturating_mul(b.elem_size as u64) <= 1 << 22));
    if !matches!(modest, Ok(true)) {
        return;
    }
    for policy in [PolicyKind::Lru, PolicyKind::Arc, PolicyKind::S3fifo, PolicyKind::Lfu] {
        if let Ok(r) = open() {
            let cfg = LineConfig { policy, size_bytes: 1024, line: 64, assoc: Some(2) };
            let _ = replay(r, |h| LineCacheSim::new(h, cfg, None));
        }
    }
    if let Ok(r) = open() {
        let _ = replay(r, |h| Mrc::new(h, 64, 1.0));
    }
}
