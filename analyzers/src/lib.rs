//! Offline analyzers of memtrace traces. Each analyzer replays a trace
//! event by event and depends only on the trace format (the `memtrace`
//! crate), never on whatever produced the trace: a trace from `record`, from
//! the Python writer or imported from a CSV replays the same way.
//!
//! - [`ard`]: the seeds' weighted average reuse distance, dmc, per-buffer stats;
//! - [`hist`]: per-buffer reuse-distance histograms;
//! - [`cache`]: the seeds' object LRU cache at any number of sizes;
//! - [`info`]: header, buffer table, counts and checksum status.
//!
//! [`table`] renders any of them as aligned text, side by side across traces.

pub mod ard;
pub mod cache;
pub mod clock;
pub mod diff;
pub mod dmd;
pub mod energy;
mod error;
pub mod export;
pub mod hist;
pub mod info;
pub mod linecache;
pub mod linemap;
pub mod mrc;
pub mod render;
pub mod table;
pub mod units;

pub use error::{Error, Result};
use memtrace::{Event, Header, TraceReader, TraceSummary};

/// Something that replays a trace.
pub trait Analyzer {
    type Report;
    fn event(&mut self, e: &Event);
    fn finish(self) -> Self::Report;
}

impl Analyzer for ard::Ard {
    type Report = ard::ArdReport;
    fn event(&mut self, e: &Event) {
        ard::Ard::event(self, e)
    }
    fn finish(self) -> ard::ArdReport {
        ard::Ard::finish(self)
    }
}

impl Analyzer for cache::ObjectCaches {
    type Report = Vec<cache::CacheResult>;
    fn event(&mut self, e: &Event) {
        cache::ObjectCaches::event(self, e)
    }
    fn finish(self) -> Vec<cache::CacheResult> {
        cache::ObjectCaches::finish(self)
    }
}

impl Analyzer for linecache::LineCacheSim {
    type Report = linecache::LineResult;
    fn event(&mut self, e: &Event) {
        linecache::LineCacheSim::event(self, e)
    }
    fn finish(self) -> linecache::LineResult {
        linecache::LineCacheSim::finish(self)
    }
}

impl Analyzer for linecache::RequestCollector {
    type Report = Vec<u64>;
    fn event(&mut self, e: &Event) {
        linecache::RequestCollector::event(self, e)
    }
    fn finish(self) -> Vec<u64> {
        self.requests
    }
}

impl Analyzer for dmd::Scan {
    type Report = Result<dmd::Replay>;
    fn event(&mut self, e: &Event) {
        dmd::Scan::event(self, e)
    }
    fn finish(self) -> Result<dmd::Replay> {
        dmd::Scan::finish(self)
    }
}

impl Analyzer for dmd::Replay {
    type Report = Result<dmd::DmdReport>;
    fn event(&mut self, e: &Event) {
        dmd::Replay::event(self, e)
    }
    fn finish(self) -> Result<dmd::DmdReport> {
        dmd::Replay::finish(self)
    }
}

impl Analyzer for hist::Hist {
    type Report = hist::HistReport;
    fn event(&mut self, e: &Event) {
        hist::Hist::event(self, e)
    }
    fn finish(self) -> hist::HistReport {
        hist::Hist::finish(self)
    }
}

/// Replays the whole trace through the analyzer `make` builds from its header.
/// The trace is fully checked (structure, count, checksum) before a report is returned.
pub fn replay<A: Analyzer>(
    reader: TraceReader,
    make: impl FnOnce(&Header) -> A,
) -> memtrace::Result<(A::Report, Header, TraceSummary)> {
    replay_with_progress(reader, make, &mut |_, _| {})
}

/// [`replay`], calling `progress(bytes done, file length)` after every batch.
pub fn replay_with_progress<A: Analyzer>(
    mut reader: TraceReader,
    make: impl FnOnce(&Header) -> A,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> memtrace::Result<(A::Report, Header, TraceSummary)> {
    let mut analyzer = make(reader.header());
    while let Some(batch) = reader.next_batch()? {
        for e in batch {
            analyzer.event(e);
        }
        let (done, total) = reader.progress();
        progress(done, total);
    }
    let summary = reader.summary().ok_or_else(memtrace_incomplete)?;
    let header = reader.header().clone();
    Ok((analyzer.finish(), header, summary))
}

fn memtrace_incomplete() -> memtrace::Error {
    // Unreachable in practice: next_batch returns None only after the footer is checked.
    std::io::Error::other("the trace ended before its footer was checked").into()
}
