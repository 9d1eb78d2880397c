//! The seeds' clock, per element: every access is stamped with the current
//! clock and then advances it by its length; a write stamps its elements; a
//! read's distance for an element is `now - stamp`. Reads do not restamp.
//!
//! Each buffer keeps its write stamps as disjoint segments
//! `start -> (end, time)`, so whole-buffer and tiled access patterns cost one
//! or a few map entries, and any pattern costs O(log segments) per access.

use std::collections::BTreeMap;

use memtrace::{BufferId, Event, Op};

/// One buffer's write stamps: disjoint segments `start -> (end, time)`.
/// A buffer written whole (most of a training trace) has one segment, held
/// inline so that its accesses touch no tree; `single` is set only while
/// `segments` is empty.
#[derive(Default, Clone)]
struct Stamps {
    single: Option<(u64, u64, u64)>,
    segments: BTreeMap<u64, (u64, u64)>,
}

impl Stamps {
    #[inline]
    fn write(&mut self, start: u64, end: u64, time: u64) {
        if self.segments.is_empty() {
            match self.single {
                None => {
                    self.single = Some((start, end, time));
                    return;
                }
                Some((s, e, _)) if s == start && e == end => {
                    self.single = Some((s, e, time));
                    return;
                }
                Some((s, e, t)) => {
                    self.segments.insert(s, (e, t));
                    self.single = None;
                }
            }
        }
        self.write_segments(start, end, time);
    }

    #[cold]
    fn write_segments(&mut self, start: u64, end: u64, time: u64) {
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
        if self.segments.len() == 1 {
            self.single = self.segments.pop_first().map(|(s, (e, t))| (s, e, t));
        }
    }

    /// The stamp of all of [start, end) when one segment, the buffer's only
    /// one, holds it: the common case, a buffer written whole, read in part
    /// or whole.
    #[inline(always)]
    fn covering(&self, start: u64, end: u64) -> Option<u64> {
        match self.single {
            Some((s, e, t)) if s <= start && e >= end => Some(t),
            _ => None,
        }
    }

    /// Calls `f(elements, stamp)` for each stamped piece of [start, end), in
    /// order; returns the number of elements never written.
    fn read(&self, start: u64, end: u64, mut f: impl FnMut(u64, u64)) -> u64 {
        if let Some(t) = self.covering(start, end) {
            f(end - start, t);
            return 0;
        }
        if let Some((s, e, t)) = self.single {
            let (from, to) = (s.max(start), e.min(end));
            if from < to {
                f(to - from, t);
                return (end - start) - (to - from);
            }
            return end - start;
        }
        self.read_segments(start, end, f)
    }

    fn read_segments(&self, start: u64, end: u64, mut f: impl FnMut(u64, u64)) -> u64 {
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
    /// Least element distance of the read.
    pub min: u64,
    /// Greatest element distance of the read.
    pub max: u64,
}

impl ReadDistance {
    /// The mean distance of the read's warm elements.
    #[inline]
    pub fn mean(&self) -> f64 {
        // A read at one distance (most reads), with a sum below 2^53: the
        // sum and the count are exact as f64, so the correctly rounded
        // quotient is the distance itself. This skips the division and the
        // u128 conversion, a software routine (6% of `ard`).
        match self.exact_distance() {
            Some(d) => d as f64,
            None => self.sum as f64 / self.warm as f64,
        }
    }

    /// [`ReadDistance::mean`] rounded to an integer distance: for a read at
    /// one distance, that distance, without the trip through floating point.
    #[inline]
    pub fn rounded_mean(&self) -> u64 {
        self.exact_distance().unwrap_or_else(|| self.mean().round() as u64)
    }

    /// The read's one distance, when its elements share it and their sum is
    /// below 2^53 (so the mean computed in f64 is exactly that distance).
    #[inline(always)]
    fn exact_distance(&self) -> Option<u64> {
        (self.min == self.max && self.sum >> 53 == 0).then_some(self.min)
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
    #[inline]
    pub fn write(&mut self, buffer: BufferId, offset: u64, len: u64) {
        let now = self.now;
        self.buffers[buffer as usize].write(offset, offset + len, now);
        self.now += len;
    }

    /// Applies a read and returns its distances; `per_piece` sees every
    /// `(elements, distance)` piece (for histograms).
    #[inline(always)]
    pub fn read_with(
        &mut self,
        buffer: BufferId,
        offset: u64,
        len: u64,
        mut per_piece: impl FnMut(u64, u64),
    ) -> ReadDistance {
        let r = self.peek_with(buffer, offset, len, &mut per_piece);
        self.now += len;
        r
    }

    /// What a read of `len` elements from `offset` would see now, without
    /// applying it (see [`ReuseClock::skip`]).
    #[inline]
    pub fn peek(&self, buffer: BufferId, offset: u64, len: u64) -> ReadDistance {
        self.peek_with(buffer, offset, len, |_, _| {})
    }

    /// Applies a read whose distances are not wanted: the clock advances.
    #[inline]
    pub fn skip(&mut self, len: u64) {
        self.now += len;
    }

    #[inline(always)]
    fn peek_with(&self, buffer: BufferId, offset: u64, len: u64, mut per_piece: impl FnMut(u64, u64)) -> ReadDistance {
        let now = self.now;
        // Inline, the common case: one piece, from a buffer's single segment.
        if let Some(t) = self.buffers[buffer as usize].covering(offset, offset + len) {
            let d = now - t;
            per_piece(len, d);
            return ReadDistance { warm: len, sum: len as u128 * d as u128, min: d, max: d };
        }
        self.read_pieces(buffer, offset, len, now, &mut per_piece)
    }

    /// [`ReuseClock::read_with`] piece by piece, at clock `now`.
    fn read_pieces(
        &self,
        buffer: BufferId,
        offset: u64,
        len: u64,
        now: u64,
        per_piece: &mut dyn FnMut(u64, u64),
    ) -> ReadDistance {
        let mut r = ReadDistance { min: u64::MAX, ..ReadDistance::default() };
        self.buffers[buffer as usize].read(offset, offset + len, |n, t| {
            let d = now - t;
            r.warm += n;
            r.sum += n as u128 * d as u128;
            r.min = r.min.min(d);
            r.max = r.max.max(d);
            per_piece(n, d);
        });
        if r.warm == 0 {
            r.min = 0;
        }
        r
    }

    /// A read of `len` elements from `offset`: the distances of those written before.
    #[inline]
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
    fn the_rounded_mean_is_the_mean_rounded() {
        // One distance (the shortcut), large sums past 2^53, and mixed distances.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for k in 0..100_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let warm = 1 + (x >> 40) % 5000;
            let d = match k % 4 {
                0 => x >> 44,
                1 => (1 << 53) / warm + (x >> 60),
                2 => x >> 20,
                _ => x % 1000,
            };
            let one = ReadDistance { warm, sum: warm as u128 * d as u128, min: d, max: d };
            assert_eq!(one.rounded_mean(), one.mean().round() as u64, "{warm} x {d}");
            let two = ReadDistance { warm: warm + 1, sum: one.sum + (d / 3) as u128, min: d / 3, max: d };
            assert_eq!(two.rounded_mean(), two.mean().round() as u64, "{warm} x {d}, then {}", d / 3);
        }
    }

    #[test]
    fn never_written_data_has_no_distance() {
        let mut c = ReuseClock::new(1);
        let r = c.read(0, 0, 3);
        assert_eq!(r.warm, 0);
        assert_eq!(c.now(), 3);
    }
}
