//! `analyze hist`: per-buffer histograms of the seeds' reuse distances,
//! recorded in HdrHistograms (3 significant digits, any range).
//!
//! Weighting: `reads` (default) records each read once at its mean
//! distance (rounded), matching `read_count` of `analyze ard`; `floats`
//! records every element read at its own distance, which is what the
//! weighted ARD averages.
//!
//! `--stack` adds LRU stack distances at line granularity: for every line
//! request (read or write) that reuses a line, the number of distinct lines
//! requested since that line's previous request, itself included, so that a
//! fully associative LRU cache of C lines hits exactly the requests at
//! distance <= C (the quantity behind `analyze mrc`).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use memtrace::{Event, Header, Op};
use serde::Serialize;

use crate::clock::ReuseClock;
use crate::linecache::LineLayout;
use crate::linemap::LineHashMap;
use crate::mrc::StackDistances;
use crate::report::{names, Named, Report};
use crate::table::{side_by_side, thousands, Table, Value};

/// What one value of a reuse-distance histogram stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    /// One value per read: its mean distance.
    Reads,
    /// One value per element read: its own distance.
    Floats,
}

impl Weight {
    /// Every weight.
    pub const ALL: [Weight; 2] = [Weight::Reads, Weight::Floats];

    /// Its name on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Weight::Reads => "reads",
            Weight::Floats => "floats",
        }
    }

    /// The weight named `name`.
    pub fn from_name(name: &str) -> Option<Weight> {
        Weight::ALL.into_iter().find(|w| w.name() == name)
    }
}

/// One histogram bucket: `count` values with `lo <= value <= hi`.
///
/// Fields of the serialized structs here are declared in alphabetical
/// order: JSON keys are sorted everywhere (`report.rs`), and `hist` streams
/// its JSON straight from these structs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    /// Values in it.
    pub count: u64,
    /// Greatest value of the bucket.
    pub hi: u64,
    /// Least value of the bucket.
    pub lo: u64,
}

/// The summary of one buffer's (or all buffers') distances.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DistanceHistogram {
    /// Power-of-two buckets from 1 up to the maximum, empty ones included.
    pub buckets: Vec<Bucket>,
    /// Values.
    pub count: u64,
    /// Greatest value.
    pub max: u64,
    /// Mean.
    pub mean: f64,
    /// Least value.
    pub min: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
}

/// What `analyze hist` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistReport {
    /// Every buffer's distances together.
    pub all: DistanceHistogram,
    /// By buffer name.
    pub per_buffer: BTreeMap<String, DistanceHistogram>,
    /// With `--stack`: LRU stack distances of line requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<StackReport>,
    /// `reads` or `floats`: what one value stands for.
    pub weight: &'static str,
}

/// [`HistReport`] tagged with its trace, keys in order, for streaming.
#[derive(Serialize)]
struct TaggedHist<'a> {
    all: &'a DistanceHistogram,
    per_buffer: &'a BTreeMap<String, DistanceHistogram>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stack: &'a Option<StackReport>,
    trace: &'a str,
    weight: &'static str,
}

impl<'a> TaggedHist<'a> {
    fn of(n: &'a Named<HistReport>) -> TaggedHist<'a> {
        let r = &n.report;
        TaggedHist { all: &r.all, per_buffer: &r.per_buffer, stack: &r.stack, trace: &n.trace, weight: r.weight }
    }
}

/// LRU stack distances in lines, by the buffer each request belongs to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StackReport {
    /// Every buffer.
    pub all: DistanceHistogram,
    /// First requests of a line: no distance (compulsory misses).
    pub cold: u64,
    /// Line size in bytes.
    pub line: u64,
    /// By buffer name.
    pub per_buffer: BTreeMap<String, DistanceHistogram>,
    /// Line requests in all (first requests of a line included).
    pub requests: u64,
}

struct Stack {
    layout: LineLayout,
    distances: StackDistances,
    requests: u64,
    cold: u64,
    per_buffer: BufferHistograms,
    all: Recorded,
}

impl Stack {
    /// One event's line requests and their stack distances.
    fn event(&mut self, e: &Event) {
        let (first, last) = self.layout.lines(e);
        self.requests += last - first + 1;
        let (per_buffer, all, cold) = (&mut self.per_buffer, &mut self.all, &mut self.cold);
        self.distances.access_run(first, last, |d, n| match d {
            Some(d) => {
                per_buffer.record_n(e.buffer as usize, &all.h, d, n);
                all.record_n(d, n);
            }
            None => *cold += n,
        });
    }
}

/// A histogram and the exact extremes it saw (HdrHistogram keeps only 3 digits).
#[derive(Clone)]
struct Recorded {
    h: Histogram<u64>,
    min: u64,
    max: u64,
}

impl Recorded {
    fn new() -> Recorded {
        Recorded { h: new_histogram(), min: u64::MAX, max: 0 }
    }
    fn record_n(&mut self, v: u64, n: u64) {
        self.record_span(v, n, v, v);
    }

    /// `n` values equivalent to `v`, the least `min` and the greatest `max`.
    fn record_span(&mut self, v: u64, n: u64, min: u64, max: u64) {
        // Auto-resize makes recording infallible for u64 values.
        let _ = self.h.record_n(v, n);
        self.min = self.min.min(min);
        self.max = self.max.max(max);
    }
}

/// One buffer's histogram, sparse: a count per HdrHistogram bucket it
/// used (keyed by the bucket's lowest value), and the exact extremes.
/// A dense HdrHistogram is 75 to 100 KB, so one per buffer cost 9.8 GB for
/// 100,000 buffers; this costs what a buffer's distances span. At the end
/// each is poured into one scratch histogram, which gives the same
/// quantiles, buckets and mean as recording the values themselves (every
/// value of a bucket is equivalent to its lowest).
///
/// A buffer read often is promoted to a dense histogram (an array index per
/// value instead of a hash lookup), while [`DENSE_BUDGET`] allows: the hot
/// buffers of a training trace run at full speed, and a trace of a million
/// buffers still costs what each one read.
#[derive(Clone, Default)]
struct SparseRecorded {
    counts: LineHashMap<u64>,
    min: u64,
    max: u64,
    records: u32,
    dense: Option<Box<Recorded>>,
}

/// Values recorded in a buffer's sparse histogram before it asks to become dense.
const PROMOTE_AFTER: u32 = 1024;
/// Dense per-buffer histograms at most (about 100 KB each).
const DENSE_BUDGET: usize = 256;

impl SparseRecorded {
    /// The dense histogram of the values recorded: its own, or poured into `scratch`.
    fn pour<'a>(&'a self, scratch: &'a mut Recorded) -> &'a Recorded {
        if let Some(dense) = &self.dense {
            return dense;
        }
        scratch.h.reset();
        for (&v, &n) in &self.counts {
            let _ = scratch.h.record_n(v, n);
        }
        scratch.min = self.min;
        scratch.max = self.max;
        scratch
    }

    fn is_empty(&self) -> bool {
        match &self.dense {
            Some(d) => d.h.is_empty(),
            None => self.counts.values().all(|&n| n == 0),
        }
    }
}

/// Every buffer's histogram, and how many more may become dense.
#[derive(Clone)]
struct BufferHistograms {
    each: Vec<SparseRecorded>,
    dense_left: usize,
}

impl BufferHistograms {
    fn new(buffers: usize) -> BufferHistograms {
        BufferHistograms { each: vec![SparseRecorded::default(); buffers], dense_left: DENSE_BUDGET }
    }

    /// Records `n` values `v` for `buffer`; `shape` is any histogram of the same precision.
    #[inline]
    fn record_n(&mut self, buffer: usize, shape: &Histogram<u64>, v: u64, n: u64) {
        self.record_span(buffer, shape, v, n, v, v);
    }

    /// Records `n` values equivalent to `v`, the least `min` and the greatest `max`.
    fn record_span(&mut self, buffer: usize, shape: &Histogram<u64>, v: u64, n: u64, min: u64, max: u64) {
        let h = &mut self.each[buffer];
        if let Some(dense) = &mut h.dense {
            dense.record_span(v, n, min, max);
            return;
        }
        if h.counts.is_empty() {
            h.min = min;
            h.max = max;
        }
        *h.counts.entry(shape.lowest_equivalent(v)).or_insert(0) += n;
        h.min = h.min.min(min);
        h.max = h.max.max(max);
        h.records += 1;
        if h.records >= PROMOTE_AFTER && self.dense_left > 0 {
            self.dense_left -= 1;
            let mut dense = Box::new(Recorded::new());
            h.pour(&mut dense);
            h.dense = Some(dense);
            h.counts = LineHashMap::default();
        }
    }
}

/// Reuse-distance histograms of a trace, replayed.
pub struct Hist {
    clock: ReuseClock,
    weight: Weight,
    names: Vec<String>,
    per_buffer: BufferHistograms,
    all: Recorded,
    pending: Pending,
    stack: Option<Stack>,
}

/// Distances not yet recorded, per buffer. A histogram of 3 significant
/// digits only counts which bucket a value falls in, and the report adds
/// the exact extremes; so a distance that falls in a bucket a buffer saw
/// recently (a buffer read at the same points of every training step, at
/// distances that creep up between updates) only adds to that bucket's
/// count and extremes, and each bucket is recorded once, with its count,
/// when it leaves its slot. A histogram counts a multiset, so recording
/// later and together gives the same histograms.
struct Pending {
    /// Per buffer: a few buckets and what is still to be recorded in them.
    slots: Vec<[Run; PENDING_SLOTS]>,
    /// Per buffer: the slot the next new bucket takes.
    next: Vec<u8>,
}

/// `count` values in `[lo, hi]` (one bucket), the least `min` and the greatest `max`.
#[derive(Clone, Copy)]
struct Run {
    lo: u64,
    hi: u64,
    count: u64,
    min: u64,
    max: u64,
}

/// A free slot matches no value.
const FREE: Run = Run { lo: 1, hi: 0, count: 0, min: 0, max: 0 };

/// Buckets a buffer holds back: a buffer is read at a few points of a step.
const PENDING_SLOTS: usize = 4;

impl Pending {
    fn new(buffers: usize) -> Pending {
        Pending { slots: vec![[FREE; PENDING_SLOTS]; buffers], next: vec![0; buffers] }
    }

    #[inline(always)]
    fn record(&mut self, per_buffer: &mut BufferHistograms, all: &mut Recorded, buffer: usize, v: u64, n: u64) {
        let slots = &mut self.slots[buffer];
        if let Some(run) = slots.iter_mut().find(|r| r.lo <= v && v <= r.hi) {
            run.count += n;
            run.min = run.min.min(v);
            run.max = run.max.max(v);
            return;
        }
        self.replace(per_buffer, all, buffer, v, n);
    }

    /// Records the oldest bucket of `buffer` and holds `n` of `v` in its slot.
    fn replace(&mut self, per_buffer: &mut BufferHistograms, all: &mut Recorded, buffer: usize, v: u64, n: u64) {
        let slots = &mut self.slots[buffer];
        let next = &mut self.next[buffer];
        let run = &mut slots[*next as usize];
        *next = (*next + 1) % PENDING_SLOTS as u8;
        Pending::flush_run(per_buffer, all, buffer, run);
        *run = Run { lo: all.h.lowest_equivalent(v), hi: all.h.highest_equivalent(v), count: n, min: v, max: v };
    }

    fn flush_run(per_buffer: &mut BufferHistograms, all: &mut Recorded, buffer: usize, run: &Run) {
        if run.count > 0 {
            per_buffer.record_span(buffer, &all.h, run.lo, run.count, run.min, run.max);
            all.record_span(run.lo, run.count, run.min, run.max);
        }
    }

    fn flush(self, per_buffer: &mut BufferHistograms, all: &mut Recorded) {
        for (buffer, slots) in self.slots.iter().enumerate() {
            for run in slots {
                Pending::flush_run(per_buffer, all, buffer, run);
            }
        }
    }
}

fn new_histogram() -> Histogram<u64> {
    // Auto-resizing, so any distance fits; 3 digits are what hdrhistogram users expect.
    Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant digits is a valid precision"))
}

impl Hist {
    /// Empty histograms for a trace with this header.
    pub fn new(header: &Header, weight: Weight) -> Hist {
        Hist {
            clock: ReuseClock::new(header.buffers.len()),
            weight,
            names: header.buffers.iter().map(|b| b.name.clone()).collect(),
            per_buffer: BufferHistograms::new(header.buffers.len()),
            all: Recorded::new(),
            pending: Pending::new(header.buffers.len()),
            stack: None,
        }
    }

    /// Also histogram LRU stack distances of `line`-byte lines.
    pub fn with_stack(mut self, header: &Header, line: u64) -> Hist {
        self.stack = Some(Stack {
            layout: LineLayout::new(header, line),
            distances: StackDistances::new(),
            requests: 0,
            cold: 0,
            per_buffer: BufferHistograms::new(header.buffers.len()),
            all: Recorded::new(),
        });
        self
    }

    /// One event.
    #[inline]
    pub fn event(&mut self, e: &Event) {
        if let Some(st) = &mut self.stack {
            st.event(e);
        }
        self.distance(e);
    }

    /// A batch of events.
    #[inline]
    pub fn events(&mut self, batch: &[Event]) {
        if let Some(st) = &mut self.stack {
            for e in batch {
                st.event(e);
            }
        }
        for e in batch {
            self.distance(e);
        }
    }

    /// One event's reuse distances (the stack's are apart: it sees every event).
    #[inline(always)]
    fn distance(&mut self, e: &Event) {
        match e.op {
            Op::Write => self.clock.write(e.buffer, e.offset, e.len as u64),
            Op::Read => {
                let b = e.buffer as usize;
                let (h, all, pending) = (&mut self.per_buffer, &mut self.all, &mut self.pending);
                let weight = self.weight;
                let r = self.clock.read_with(e.buffer, e.offset, e.len as u64, |n, d| {
                    if weight == Weight::Floats {
                        pending.record(h, all, b, d, n);
                    }
                });
                if weight == Weight::Reads && r.warm > 0 {
                    pending.record(h, all, b, r.rounded_mean(), 1);
                }
            }
        }
    }

    /// The report.
    pub fn finish(mut self) -> HistReport {
        self.pending.flush(&mut self.per_buffer, &mut self.all);
        // The stack's state (a line map, its histograms) goes before the
        // per-buffer summaries are built, and each sparse histogram as soon
        // as it is summarized: the peak is one of the two, not both.
        let stack = self.stack.map(|st| {
            let line = st.layout.line_bytes();
            drop(st.distances);
            StackReport {
                line,
                requests: st.requests,
                cold: st.cold,
                all: summarize(&st.all),
                per_buffer: summarize_buffers(st.per_buffer, &self.names),
            }
        });
        let per_buffer = summarize_buffers(self.per_buffer, &self.names);
        HistReport { weight: self.weight.name(), all: summarize(&self.all), per_buffer, stack }
    }
}

/// By buffer name, the buffers that recorded anything.
fn summarize_buffers(per_buffer: BufferHistograms, names: &[String]) -> BTreeMap<String, DistanceHistogram> {
    let mut scratch = Recorded::new();
    per_buffer
        .each
        .into_iter()
        .zip(names)
        .filter(|(h, _)| !h.is_empty())
        .map(|(h, n)| (n.clone(), summarize(h.pour(&mut scratch))))
        .collect()
}

fn summarize(r: &Recorded) -> DistanceHistogram {
    let h = &r.h;
    // Exactly as many as there will be (one per power of two up to the
    // maximum): a report holds one of these per buffer.
    let mut buckets = Vec::with_capacity(if h.is_empty() { 0 } else { (64 - r.max.leading_zeros()).max(1) as usize });
    if !h.is_empty() {
        let mut lo = 1u64;
        let max = r.max;
        loop {
            let hi = lo.saturating_mul(2) - 1;
            let count = h.count_between(lo, hi);
            buckets.push(Bucket { lo, hi, count });
            if hi >= max || hi == u64::MAX {
                break;
            }
            lo = hi + 1;
        }
    }
    // Quantiles are HdrHistogram's (3 significant digits), clamped to the exact extremes.
    let q = |p: f64| if h.is_empty() { 0 } else { h.value_at_quantile(p).clamp(r.min, r.max) };
    DistanceHistogram {
        count: h.len(),
        min: if h.is_empty() { 0 } else { r.min },
        p50: q(0.5),
        p90: q(0.9),
        p99: q(0.99),
        max: if h.is_empty() { 0 } else { r.max },
        mean: if h.is_empty() { 0.0 } else { h.mean() },
        buckets,
    }
}

impl crate::Analyzer for Hist {
    type Output = HistReport;
    #[inline]
    fn event(&mut self, e: &Event) {
        Hist::event(self, e)
    }
    #[inline]
    fn events(&mut self, batch: &[Event]) {
        Hist::events(self, batch)
    }
    fn finish(self, _: &Header, _: &memtrace::TraceSummary) -> crate::Result<HistReport> {
        Ok(Hist::finish(self))
    }
}

fn hist_row(name: &str, h: &DistanceHistogram) -> Vec<String> {
    vec![name.to_string(), thousands(h.count), thousands(h.p50), thousands(h.p90), thousands(h.p99), thousands(h.max)]
}

/// A bar chart of the power-of-two buckets.
fn bars(h: &DistanceHistogram) -> String {
    let peak = h.buckets.iter().map(|b| b.count).max().unwrap_or(0).max(1);
    let mut out = String::new();
    let label_w =
        h.buckets.iter().map(|b| format!("{}..{}", thousands(b.lo), thousands(b.hi)).len()).max().unwrap_or(0);
    for b in h.buckets.iter().skip_while(|b| b.count == 0) {
        let label = format!("{}..{}", thousands(b.lo), thousands(b.hi));
        let n = ((b.count as f64 / peak as f64) * 40.0).round() as usize;
        let bar = if b.count > 0 && n == 0 { "▏".to_string() } else { "█".repeat(n) };
        out.push_str(&format!("  {label:>label_w$} | {bar} {}\n", thousands(b.count)));
    }
    out
}

impl Report for HistReport {
    fn write_json(reports: &[Named<HistReport>], out: &mut dyn std::io::Write) -> serde_json::Result<()> {
        match reports {
            [one] => serde_json::to_writer_pretty(out, &TaggedHist::of(one)),
            many => serde_json::to_writer_pretty(out, &many.iter().map(TaggedHist::of).collect::<Vec<_>>()),
        }
    }

    fn text(reports: &[Named<HistReport>]) -> String {
        let mut out = String::new();
        if reports.len() > 1 {
            let col = |f: fn(&DistanceHistogram) -> u64| reports.iter().map(|r| Value::Int(f(&r.report.all))).collect();
            let rows = vec![
                ("count".to_string(), col(|h| h.count)),
                ("p50".to_string(), col(|h| h.p50)),
                ("p90".to_string(), col(|h| h.p90)),
                ("p99".to_string(), col(|h| h.p99)),
                ("max".to_string(), col(|h| h.max)),
            ];
            out.push_str(&side_by_side("all buffers", &names(reports), &rows));
            out.push('\n');
        }
        for r in reports {
            if reports.len() > 1 {
                out.push_str(&format!("== {}\n", r.trace));
            }
            let mut t =
                Table::new(["buffer", "count", "p50", "p90", "p99", "max"].iter().map(|s| s.to_string()).collect());
            for (name, h) in &r.report.per_buffer {
                t.row(hist_row(name, h));
            }
            t.row(hist_row("(all)", &r.report.all));
            out.push_str(&format!(
                "reuse distances, one value per {}\n",
                if r.report.weight == "reads" { "read" } else { "float" }
            ));
            out.push_str(&t.render());
            out.push_str("\nall buffers:\n");
            out.push_str(&bars(&r.report.all));
            out.push('\n');
            if let Some(st) = &r.report.stack {
                let mut t =
                    Table::new(["buffer", "count", "p50", "p90", "p99", "max"].iter().map(|s| s.to_string()).collect());
                for (name, h) in &st.per_buffer {
                    t.row(hist_row(name, h));
                }
                t.row(hist_row("(all)", &st.all));
                out.push_str(&format!(
                "LRU stack distances in {}-byte lines ({} requests, {} first touches without one); an LRU cache of C lines hits distances <= C\n",
                st.line,
                thousands(st.requests),
                thousands(st.cold)
            ));
                out.push_str(&t.render());
                out.push_str("\nall buffers:\n");
                out.push_str(&bars(&st.all));
                out.push('\n');
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparse_histogram_summarizes_as_a_dense_one() {
        // Values spread over many magnitudes and repeated, as distances are.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let values: Vec<(u64, u64)> = (0..20_000u64)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ((x >> (x % 50)) % (1 << 40) + 1, 1 + i % 5)
            })
            .collect();
        let mut dense = Recorded::new();
        // Buffer 0 is promoted to dense on the way; buffer 1 stays sparse (no budget left).
        let mut buffers = BufferHistograms::new(2);
        buffers.dense_left = 1;
        let shape = new_histogram();
        for &(v, n) in &values {
            dense.record_n(v, n);
            buffers.record_n(0, &shape, v, n);
        }
        for &(v, n) in &values {
            buffers.record_n(1, &shape, v, n);
        }
        assert!(buffers.each[0].dense.is_some() && buffers.each[1].dense.is_none());
        let expected = summarize(&dense);
        for h in &buffers.each {
            assert_eq!(summarize(h.pour(&mut Recorded::new())), expected);
        }
    }

    /// Holding distances back by bucket, against recording each as it comes:
    /// the same summaries, per buffer and in all, whatever the order.
    #[test]
    fn pending_runs_summarize_as_values_recorded_one_by_one() {
        use proptest::prelude::*;
        // Distances that creep up (the same bucket again), jump between a
        // few points of a step, and spread over every magnitude.
        let value =
            prop_oneof![0u64..3000, 1_000_000u64..1_004_000, (1u64 << 40)..(1u64 << 40) + (1 << 30), any::<u64>()];
        let records = proptest::collection::vec((0usize..3, value, 1u64..4), 0..400);
        proptest!(ProptestConfig::with_cases(300), |(records in records)| {
            let (mut direct, mut direct_all) = (BufferHistograms::new(3), Recorded::new());
            let (mut held, mut held_all, mut pending) = (BufferHistograms::new(3), Recorded::new(), Pending::new(3));
            for &(b, v, n) in &records {
                direct.record_n(b, &direct_all.h, v, n);
                direct_all.record_n(v, n);
                pending.record(&mut held, &mut held_all, b, v, n);
            }
            pending.flush(&mut held, &mut held_all);
            prop_assert_eq!(summarize(&held_all), summarize(&direct_all));
            prop_assert_eq!((held_all.min, held_all.max), (direct_all.min, direct_all.max));
            for (h, d) in held.each.iter().zip(&direct.each) {
                prop_assert_eq!(h.is_empty(), d.is_empty());
                prop_assert_eq!(summarize(h.pour(&mut Recorded::new())), summarize(d.pour(&mut Recorded::new())));
            }
        });
    }
}
