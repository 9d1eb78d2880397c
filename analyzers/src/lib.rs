//! Offline analyzers of memtrace traces. Each analyzer replays a trace
//! event by event and depends only on the trace format (the `memtrace`
//! crate), never on whatever produced the trace: a trace from `record`, from
//! the Python writer or imported from a CSV replays the same way.
//!
//! Every analysis is a module with two sides, as drcachesim's tools are:
//! an [`Analyzer`] (one call per event, then `finish`) and the report it
//! gives, a [`Report`] that serializes to the documented JSON and renders
//! its own text, alone or side by side for several traces.
//!
//! - [`ard`]: the seeds' weighted average reuse distance, dmc, per-buffer stats;
//! - [`hist`]: per-buffer reuse-distance (and LRU stack-distance) histograms;
//! - [`cache`]: the seeds' object LRU cache at any number of sizes;
//! - [`linecache`]: caches of lines under nine policies, set associative or not;
//! - [`mrc`]: the exact LRU miss-ratio curve in one pass;
//! - [`energy`]: the energy of the data movement in a cache hierarchy;
//! - [`dmd`]: geometric-stack costs (ByteDMD classic and live, space, address);
//! - [`info`]: header, buffer table, counts and checksum status.
//!
//! [`diff`] and [`export`] compare and print events; [`report`] and
//! [`table`] hold what the reports share.

#![warn(missing_docs)]

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
mod pool;
mod prefetch;
pub mod report;
pub mod table;
pub mod timeset;
pub mod units;

pub use error::{Error, Result};
pub use report::{Named, Report};

use memtrace::{Event, Header, TraceReader, TraceSummary};

/// Something that replays a trace: one call per event, in order, then
/// `finish` with the header and the checked summary of the whole trace.
pub trait Analyzer {
    /// What the replay gives: a report, or the next pass of a two-pass analysis.
    type Output;
    /// One event.
    fn event(&mut self, e: &Event);
    /// A batch of events, in order: the same as each in turn (an analyzer
    /// may keep its running totals in registers for the batch).
    #[inline]
    fn events(&mut self, batch: &[Event]) {
        for e in batch {
            self.event(e);
        }
    }
    /// After the last event, once the trace's checksum is verified.
    fn finish(self, header: &Header, summary: &TraceSummary) -> Result<Self::Output>;
}

/// Replays the whole trace through the analyzer `make` builds from its
/// header. The trace is fully checked (structure, count, checksum) before
/// `finish` is called.
pub fn replay<A: Analyzer>(reader: TraceReader, make: impl FnOnce(&Header) -> A) -> Result<A::Output> {
    replay_with_progress(reader, make, &mut |_, _, _| {})
}

/// Hears `(batch, bytes done, file length)` as [`replay_all`] hands out batches.
pub type BatchProgress<'a> = dyn FnMut(&[Event], u64, Option<u64>) + 'a;

/// Replays the trace once through `n` analyzers (`make(i, header)`), on
/// as many threads as there are cores (each analyzer on one at a time, its
/// batches in order): the trace is opened, read, decoded and checked once,
/// and every batch is shared by all of them, however many configurations a
/// command simulates. `progress(batch, bytes done, file length)` is called
/// as batches are handed out. Outputs come in the order of `i`.
pub fn replay_all<A>(
    mut reader: TraceReader,
    n: usize,
    make: impl Fn(usize, &Header) -> A,
    progress: &mut BatchProgress<'_>,
) -> Result<Vec<A::Output>>
where
    A: Analyzer + Send,
{
    let header = reader.header().clone();
    let pool = pool::Pool::new((0..n).map(|i| make(i, &header)).collect());
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let read = std::thread::scope(|s| {
        let workers: Vec<_> = (0..cores.min(n).max(1)).map(|_| s.spawn(|| pool.work())).collect();
        let closing = pool.closing();
        let read = (|| {
            while let Some(batch) = reader.next_batch()? {
                let shared = std::sync::Arc::new(batch.to_vec());
                pool.push(shared.clone());
                let (done, total) = reader.progress();
                progress(&shared, done, total);
            }
            reader.summary().ok_or_else(|| Error::invalid("the trace ended before its footer was checked"))
        })();
        drop(closing);
        for w in workers {
            w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        }
        read
    });
    let summary = read?;
    pool.into_analyzers().into_iter().map(|a| a.finish(&header, &summary)).collect()
}

/// [`replay`], calling `progress(analyzer, bytes done, file length)` after
/// every batch (the analyzer, for progress measured in its own work).
pub fn replay_with_progress<A: Analyzer>(
    mut reader: TraceReader,
    make: impl FnOnce(&Header) -> A,
    progress: &mut dyn FnMut(&A, u64, Option<u64>),
) -> Result<A::Output> {
    let mut analyzer = make(reader.header());
    while let Some(batch) = reader.next_batch()? {
        prefetch::replay_batch(&mut analyzer, batch);
        let (done, total) = reader.progress();
        progress(&analyzer, done, total);
    }
    // next_batch returns None only after the footer is checked.
    let summary = reader.summary().ok_or_else(|| Error::invalid("the trace ended before its footer was checked"))?;
    analyzer.finish(reader.header(), &summary)
}
