//! `analyze ard`: the seeds' weighted average reuse distance, their
//! data-movement cost (dmc) and per-buffer distance statistics, computed
//! per element so that traces of ranges replay exactly like the seeds'
//! whole-buffer traces.

use std::collections::BTreeMap;

use memtrace::{Event, Header, Op};
use serde::Serialize;

use crate::clock::ReuseClock;
use crate::report::{by_name, names, Named, Report};
use crate::table::{self, side_by_side, thousands, Table, Value};

/// Per-buffer distance statistics over the reads that have a distance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BufferArd {
    /// Elements of the buffer's last such read (the seeds' "size").
    pub size: u64,
    /// Plain mean over reads of each read's mean distance.
    pub avg_dist: f64,
    /// Least distance of its reads.
    pub min_dist: u64,
    /// Greatest distance of its reads.
    pub max_dist: u64,
    /// Reads with a distance.
    pub read_count: u64,
}

/// The result of `analyze ard`. Field names are the JSON keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArdReport {
    /// Sum of element distances over elements read with a distance, divided
    /// by their count; `null` when no element was read with a distance.
    pub weighted_ard: Option<f64>,
    /// Sum over elements read with a distance of sqrt(distance).
    pub dmc: f64,
    /// The final clock: elements accessed, reads and writes.
    pub total_floats_accessed: u64,
    /// Elements read that had a distance.
    pub total_floats_read: u64,
    /// Reads with at least one element that had been written.
    pub reads: u64,
    /// Writes.
    pub writes: u64,
    /// Reads of data never written: no distance, excluded from every average.
    pub cold_reads: u64,
    /// By buffer name.
    pub per_buffer: BTreeMap<String, BufferArd>,
}

#[derive(Default, Clone)]
struct BufferAcc {
    last_size: u64,
    mean_sum: f64,
    min: u64,
    max: u64,
    reads: u64,
}

/// Accumulates an [`ArdReport`] event by event.
pub struct Ard {
    clock: ReuseClock,
    names: Vec<String>,
    per_buffer: Vec<BufferAcc>,
    totals: Totals,
}

/// The whole trace's sums and counts.
#[derive(Default, Clone, Copy)]
struct Totals {
    weighted_sum: u128,
    warm_elements: u64,
    dmc: f64,
    reads: u64,
    writes: u64,
    cold_reads: u64,
}

impl Ard {
    /// An empty replay of a trace with this header.
    pub fn new(header: &Header) -> Ard {
        let n = header.buffers.len();
        Ard {
            clock: ReuseClock::new(n),
            names: header.buffers.iter().map(|b| b.name.clone()).collect(),
            per_buffer: vec![BufferAcc { min: u64::MAX, ..BufferAcc::default() }; n],
            totals: Totals::default(),
        }
    }

    /// One event.
    #[inline]
    pub fn event(&mut self, e: &Event) {
        let mut t = self.totals;
        self.apply(&mut t, e);
        self.totals = t;
    }

    /// A batch of events, the totals kept in a local (in registers, not
    /// behind `self`) for the batch: the sum of square roots is a chain
    /// from read to read.
    #[inline]
    pub fn events(&mut self, batch: &[Event]) {
        let mut t = self.totals;
        for e in batch {
            self.apply(&mut t, e);
        }
        self.totals = t;
    }

    #[inline(always)]
    fn apply(&mut self, t: &mut Totals, e: &Event) {
        match e.op {
            Op::Write => {
                t.writes += 1;
                self.clock.write(e.buffer, e.offset, e.len as u64);
            }
            Op::Read => {
                // Sum over the read's elements of sqrt(distance): the seeds' data-movement cost.
                let mut sqrt_sum = 0.0;
                let r = self.clock.read_with(e.buffer, e.offset, e.len as u64, |n, d| {
                    sqrt_sum += n as f64 * (d as f64).sqrt();
                });
                if r.warm == 0 {
                    t.cold_reads += 1;
                    return;
                }
                t.reads += 1;
                t.weighted_sum += r.sum;
                t.warm_elements += r.warm;
                t.dmc += sqrt_sum;
                let b = &mut self.per_buffer[e.buffer as usize];
                b.last_size = e.len as u64;
                b.mean_sum += r.mean();
                b.min = b.min.min(r.min);
                b.max = b.max.max(r.max);
                b.reads += 1;
            }
        }
    }

    /// The report.
    pub fn finish(self) -> ArdReport {
        let per_buffer = self
            .per_buffer
            .iter()
            .zip(&self.names)
            .filter(|(b, _)| b.reads > 0)
            .map(|(b, name)| {
                (
                    name.clone(),
                    BufferArd {
                        size: b.last_size,
                        avg_dist: b.mean_sum / b.reads as f64,
                        min_dist: b.min,
                        max_dist: b.max,
                        read_count: b.reads,
                    },
                )
            })
            .collect();
        let t = self.totals;
        ArdReport {
            weighted_ard: (t.warm_elements > 0).then(|| ratio(t.weighted_sum, t.warm_elements)),
            dmc: t.dmc,
            total_floats_accessed: self.clock.now(),
            total_floats_read: t.warm_elements,
            reads: t.reads,
            writes: t.writes,
            cold_reads: t.cold_reads,
            per_buffer,
        }
    }
}

/// `num / den` as f64, 0 when nothing was counted (as the seeds report it).
pub(crate) fn ratio(num: u128, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

impl crate::Analyzer for Ard {
    type Output = ArdReport;
    #[inline]
    fn event(&mut self, e: &Event) {
        Ard::event(self, e)
    }
    #[inline]
    fn events(&mut self, batch: &[Event]) {
        Ard::events(self, batch)
    }
    fn finish(self, _: &Header, _: &memtrace::TraceSummary) -> crate::Result<ArdReport> {
        Ok(Ard::finish(self))
    }
}

impl Report for ArdReport {
    fn text(reports: &[Named<ArdReport>]) -> String {
        let col = |f: fn(&ArdReport) -> Value| reports.iter().map(|r| f(&r.report)).collect::<Vec<_>>();
        let rows = vec![
            ("weighted ARD".to_string(), col(|r| r.weighted_ard.map_or(Value::Missing, Value::Float))),
            ("dmc".to_string(), col(|r| Value::Float(r.dmc))),
            ("total floats accessed".to_string(), col(|r| Value::Int(r.total_floats_accessed))),
            ("floats read (warm)".to_string(), col(|r| Value::Int(r.total_floats_read))),
            ("reads".to_string(), col(|r| Value::Int(r.reads))),
            ("writes".to_string(), col(|r| Value::Int(r.writes))),
            ("cold reads".to_string(), col(|r| Value::Int(r.cold_reads))),
        ];
        let mut out = side_by_side("metric", &names(reports), &rows);
        out.push('\n');
        if let [one] = reports {
            let mut t = Table::new(
                ["buffer", "size", "reads", "avg dist", "min dist", "max dist"].iter().map(|s| s.to_string()).collect(),
            );
            for (name, b) in &one.report.per_buffer {
                t.row(vec![
                    name.clone(),
                    thousands(b.size),
                    thousands(b.read_count),
                    table::float(b.avg_dist),
                    thousands(b.min_dist),
                    thousands(b.max_dist),
                ]);
            }
            out.push_str(&t.render());
        } else {
            let rows = by_name(reports, |r| &r.per_buffer, |b| Value::Float(b.avg_dist));
            out.push_str(&side_by_side("avg dist by buffer", &names(reports), &rows));
        }
        for r in reports.iter().filter(|r| r.report.cold_reads > r.report.reads) {
            out.push_str(&format!(
                "\nnote: {}: {} of {} reads are of data never written, which reuse distance cannot price; \
                 `analyze hist --stack` and `analyze dmd` price them\n",
                r.trace,
                thousands(r.report.cold_reads),
                thousands(r.report.cold_reads + r.report.reads)
            ));
        }
        out
    }
}
