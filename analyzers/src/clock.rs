//! The seeds' clock, per element: every access is stamped with the current
//! clock and then advances it by its length; a write stamps its elements; a
//! read's distance for an element is `now - stamp`. Reads do not restamp.
//!
//! Each buffer keeps its write stamps as disjoint segments
//! `start -> (end, time)`, so whole-buffer and tiled access patterns cost one
//! or a few map entries, and any pattern costs O(log segments) per access.

use std::collections::BTreeMap;

use memtrace::{BufferId, Event, Op};

#[derive(Default, Clone)]
struct Stamps {
    segments: BTreeMap<u64, (u64, u64)>,
}

impl Stamps {
    fn write(&mut self, start: u64, end: u64, time: u64) {
        if self.segments.len() == 1 {
            if let Some((&s, v)) = self.segments.iter_mut().next() {
                if s == start && v.0 == end {
                    v.1 = time;
                    return;
                }
            }
        }
        // Cut out every segment overlapping [start, end), keeping the parts outside it.
        let mut cut: Vec<(u64, u64, u64)> = Vec::new();
        for (&s, &(e, t)) in self.segments.range(..end).rev() {
            if e <= start {
                break;
            }
            cut.push((s, e, t));
        }
        for &(s, e, t) in &cut {
            self.segments.remove(&s);
            if s < start {
                self.segments.insert(s, (start, t));
            }
            if e > end {
                self.segments.insert(end, (e, t));
            }
        }
        self.segments.insert(start, (end, time));
    }

    /// Calls `f(elements, stamp)` for each stamped piece of [start, end), in
    /// order; returns the number of elements never written.
    fn read(&self, start: u64, end: u64, mut f: impl FnMut(u64, u64)) -> u64 {
        // The common case: a buffer written whole, read in part or whole
        // (as the write fast path keeps it): one piece, no range search.
        if self.segments.len() == 1 {
            if let Some((&s, &(e, t))) = self.segments.first_key_value() {
                if s <= start && e >= end {
                    f(end - start, t);
                    return 0;
                }
            }
        }
        let mut covered = 0;
        let first = self.segments.range(..=start).next_back().filter(|(_, &(e, _))| e > start);
        let rest = self.segments.range(start.saturating_add(1)..end);
        for (&s, &(e, t)) in first.into_iter().chain(rest) {
            let n = e.min(end) - s.max(start);
            covered += n;
            f(n, t);
        }
        (end - start) - covered
    }
}

/// Per-element write stamps of every buffer, and the clock.
#[derive(Clone)]
pub struct ReuseClock {
    now: u64,
    buffers: Vec<Stamps>,
}

/// What one read saw.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReadDistance {
    /// Elements that had been written (and so have a distance).
    pub warm: u64,
    /// Sum of the distances of those elements.
    pub sum: u128,
    /// Sum over those elements of sqrt(distance) (the seeds' data-movement cost).
    pub sqrt_sum: f64,
    /// Least element distance of the read.
    pub min: u64,
    /// Greatest element distance of the read.
    pub max: u64,
}

impl ReadDistance {
    /// The mean distance of the read's warm elements.
    pub fn mean(&self) -> f64 {
        // Through u64 when the sum fits (always, in practice): the same
        // correctly rounded value as from u128, without the slow u128
        // conversion (5% of `ard`).
        let sum = match u64::try_from(self.sum) {
            Ok(s) => s as f64,
            Err(_) => self.sum as f64,
        };
        sum / self.warm as f64
    }
}

impl ReuseClock {
    /// A clock at 0 for `buffers` buffers.
    pub fn new(buffers: usize) -> ReuseClock {
        ReuseClock { now: 0, buffers: vec![Stamps::default(); buffers] }
    }

    /// The clock: elements accessed so far.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Applies a write; returns nothing since writes carry no distance.
    pub fn write(&mut self, buffer: BufferId, offset: u64, len: u64) {
        let now = self.now;
        self.buffers[buffer as usize].write(offset, offset + len, now);
        self.now += len;
    }

    /// Applies a read and returns its distances; `per_piece` sees every
    /// `(elements, distance)` piece (for histograms).
    pub fn read_with(
        &mut self,
        buffer: BufferId,
        offset: u64,
        len: u64,
        mut per_piece: impl FnMut(u64, u64),
    ) -> ReadDistance {
        let now = self.now;
        let mut r = ReadDistance { min: u64::MAX, ..ReadDistance::default() };
        self.buffers[buffer as usize].read(offset, offset + len, |n, t| {
            let d = now - t;
            r.warm += n;
            r.sum += n as u128 * d as u128;
            r.sqrt_sum += n as f64 * (d as f64).sqrt();
            r.min = r.min.min(d);
            r.max = r.max.max(d);
            per_piece(n, d);
        });
        self.now += len;
        if r.warm == 0 {
            r.min = 0;
        }
        r
    }

    /// A read of `len` elements from `offset`: the distances of those written before.
    pub fn read(&mut self, buffer: BufferId, offset: u64, len: u64) -> ReadDistance {
        self.read_with(buffer, offset, len, |_, _| {})
    }

    /// Applies any event; returns the read's distances, or `None` for a write.
    pub fn apply(&mut self, e: &Event) -> Option<ReadDistance> {
        match e.op {
            Op::Write => {
                self.write(e.buffer, e.offset, e.len as u64);
                None
            }
            Op::Read => Some(self.read(e.buffer, e.offset, e.len as u64)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_buffer_distance_is_elements_in_between() {
        let mut c = ReuseClock::new(2);
        c.write(0, 0, 10); // t = 0
        c.write(1, 0, 5); // t = 10
        let r = c.read(0, 0, 10); // at 15
        assert_eq!((r.warm, r.sum, r.min, r.max), (10, 150, 15, 15));
        assert_eq!(c.now(), 25);
    }

    #[test]
    fn ranges_keep_their_own_stamps() {
        let mut c = ReuseClock::new(1);
        c.write(0, 0, 4); // elements 0..4 at t=0
        c.write(0, 2, 2); // elements 2..4 at t=4
        let r = c.read(0, 0, 6); // at 6: 0..2 -> 6, 2..4 -> 2, 4..6 cold
        assert_eq!((r.warm, r.sum, r.min, r.max), (4, 16, 2, 6));
    }

    #[test]
    fn never_written_data_has_no_distance() {
        let mut c = ReuseClock::new(1);
        let r = c.read(0, 0, 3);
        assert_eq!(r.warm, 0);
        assert_eq!(c.now(), 3);
    }
}
