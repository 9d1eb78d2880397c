//! The line layout every line analyzer shares: buffers packed from
//! address 0 in order of first appearance, each aligned up to a line, and
//! an event's line requests.

use std::cell::Cell;

use memtrace::{Event, Header, Op};

/// Where each buffer's bytes are, assigned at the buffer's first appearance.
pub struct LineLayout {
    line: u64,
    base: Vec<u64>,
    len_bytes: Vec<u64>,
    elem: Vec<u64>,
    next_free: u64,
    /// Buffers in the order they were placed, with their base address.
    placed: Vec<(u64, u32)>,
    /// The last [`Self::owner`] answer, for the lines `lo..hi` that share it:
    /// victims come in runs, so most lookups need no search. Cleared when a
    /// buffer is placed.
    recent_owner: Cell<(u64, u64, Option<u32>)>,
}

impl LineLayout {
    /// The layout of a trace with this header in lines of `line_bytes`.
    pub fn new(header: &Header, line_bytes: u64) -> LineLayout {
        LineLayout {
            line: line_bytes.max(1),
            base: vec![u64::MAX; header.buffers.len()],
            len_bytes: header.buffers.iter().map(|b| b.len.saturating_mul(b.elem_size as u64)).collect(),
            elem: header.buffers.iter().map(|b| b.elem_size as u64).collect(),
            next_free: 0,
            placed: Vec::new(),
            recent_owner: Cell::new((0, 0, None)),
        }
    }

    /// The first and last line (inclusive) an event touches.
    #[inline]
    pub fn lines(&mut self, e: &Event) -> (u64, u64) {
        let b = e.buffer as usize;
        if self.base[b] == u64::MAX {
            let base = self.next_free.div_ceil(self.line).saturating_mul(self.line);
            self.base[b] = base;
            self.next_free = base.saturating_add(self.len_bytes[b]);
            self.placed.push((base, e.buffer));
            self.recent_owner.set((0, 0, None));
        }
        let start = self.base[b].saturating_add(e.offset.saturating_mul(self.elem[b]));
        let end = start.saturating_add((e.len as u64).saturating_mul(self.elem[b]));
        (start / self.line, end.saturating_sub(1).max(start) / self.line)
    }

    /// The bytes an event reads or writes.
    #[inline]
    pub fn bytes(&self, e: &Event) -> u64 {
        (e.len as u64).saturating_mul(self.elem.get(e.buffer as usize).copied().unwrap_or(4))
    }

    /// The buffer that owns `line` (the last placed at or before its address).
    #[inline]
    pub fn owner(&self, line: u64) -> Option<u32> {
        self.owner_span(line).0
    }

    /// The buffer that owns `line`, and the first line after `line` that
    /// it does not own (the next buffer's first, `u64::MAX` if none).
    #[inline]
    pub fn owner_span(&self, line: u64) -> (Option<u32>, u64) {
        let (lo, hi, owner) = self.recent_owner.get();
        if (lo..hi).contains(&line) {
            return (owner, hi);
        }
        let addr = line.saturating_mul(self.line);
        let i = self.placed.partition_point(|&(base, _)| base <= addr);
        let lo = if i == 0 { 0 } else { self.placed[i - 1].0 / self.line };
        let hi = self.placed.get(i).map_or(u64::MAX, |&(base, _)| base / self.line);
        let owner = (i > 0).then(|| self.placed[i - 1].1);
        self.recent_owner.set((lo, hi, owner));
        (owner, hi)
    }

    /// Line size in bytes.
    pub fn line_bytes(&self) -> u64 {
        self.line
    }
}

/// Expands every event of a trace to its line requests: `(line, write, buffer)`.
pub fn requests<'a>(layout: &'a mut LineLayout, events: &'a [Event]) -> impl Iterator<Item = (u64, bool, u32)> + 'a {
    events.iter().flat_map(move |e| {
        let (a, b) = layout.lines(e);
        let w = e.op == Op::Write;
        (a..=b).map(move |l| (l, w, e.buffer))
    })
}

/// The line requests of one event in lines of `line` bytes (a power of
/// two), for elements of `elem` bytes: what every line analyzer makes of it,
/// wherever its buffer is placed (buffers start on a line).
#[inline]
pub fn line_requests(e: &Event, elem: u64, line_shift: u32) -> u64 {
    let start = u128::from(e.offset) * u128::from(elem);
    let end = start + u128::from(e.len) * u128::from(elem);
    let (first, last) = (start >> line_shift, (end.max(start + 1) - 1) >> line_shift);
    u64::try_from(last - first + 1).unwrap_or(u64::MAX)
}

/// Counts the line requests a whole trace makes (a fast pass before a line
/// analyzer, so a trace that would replay for days is refused up front).
pub struct LineRequestCount {
    elem: Vec<u64>,
    shift: u32,
    total: u128,
}

impl LineRequestCount {
    /// A counter for lines of `line_bytes` (a power of two).
    pub fn new(header: &Header, line_bytes: u64) -> LineRequestCount {
        LineRequestCount {
            elem: header.buffers.iter().map(|b| u64::from(b.elem_size)).collect(),
            shift: line_bytes.max(1).trailing_zeros(),
            total: 0,
        }
    }
}

impl LineRequestCount {
    /// Line requests counted so far.
    pub fn done(&self) -> u64 {
        u64::try_from(self.total).unwrap_or(u64::MAX)
    }
}

impl crate::Analyzer for LineRequestCount {
    type Output = u128;

    #[inline]
    fn event(&mut self, e: &Event) {
        let elem = self.elem.get(e.buffer as usize).copied().unwrap_or(4);
        self.total += u128::from(line_requests(e, elem, self.shift));
    }

    fn finish(self, _: &Header, _: &memtrace::TraceSummary) -> crate::Result<u128> {
        Ok(self.total)
    }
}

/// An analyzer with a running count of the line requests it has been given:
/// the measure of its progress.
pub struct Counted<A> {
    /// The analyzer.
    pub inner: A,
    counter: LineRequestCount,
}

impl<A> Counted<A> {
    /// `inner`, counting lines of `line_bytes`.
    pub fn new(inner: A, header: &Header, line_bytes: u64) -> Counted<A> {
        Counted { inner, counter: LineRequestCount::new(header, line_bytes) }
    }

    /// Line requests so far.
    pub fn done(&self) -> u64 {
        self.counter.done()
    }
}

impl<A: crate::Analyzer> crate::Analyzer for Counted<A> {
    type Output = A::Output;

    #[inline]
    fn event(&mut self, e: &Event) {
        crate::Analyzer::event(&mut self.counter, e);
        self.inner.event(e);
    }

    fn finish(self, header: &Header, summary: &memtrace::TraceSummary) -> crate::Result<A::Output> {
        self.inner.finish(header, summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The count equals the requests the layout expands an event to.
    #[test]
    fn line_requests_match_the_layout() {
        let mut h = Header::new("t", "0");
        h.add_buffer(memtrace::Buffer { name: "a".into(), len: 1000, elem_size: 12, role: memtrace::Role::Other })
            .unwrap();
        h.add_buffer(memtrace::Buffer { name: "b".into(), len: 5000, elem_size: 1, role: memtrace::Role::Other })
            .unwrap();
        for line in [1u64, 8, 64, 4096] {
            let mut layout = LineLayout::new(&h, line);
            for (buffer, offset, len) in
                [(0u32, 0u64, 1u32), (0, 5, 17), (1, 63, 2), (1, 0, 4096), (0, 999, 1), (1, 4000, 1000)]
            {
                let e = Event { offset, len, buffer, step: 0, op: Op::Read };
                let expanded = requests(&mut layout, std::slice::from_ref(&e)).count() as u64;
                let elem = u64::from(h.buffers[buffer as usize].elem_size);
                assert_eq!(line_requests(&e, elem, line.trailing_zeros()), expanded, "{line} {offset} {len}");
            }
        }
    }

    /// Owners, remembered for a range of lines, stay what a search over the
    /// placed buffers says while buffers keep being placed after them.
    #[test]
    fn owners_follow_placements() {
        let mut h = Header::new("t", "0");
        for (name, len) in [("a", 100u64), ("b", 7), ("c", 300)] {
            h.add_buffer(memtrace::Buffer { name: name.into(), len, elem_size: 4, role: memtrace::Role::Other })
                .unwrap();
        }
        let mut layout = LineLayout::new(&h, 64);
        let search = |layout: &LineLayout, line: u64| {
            layout.placed.iter().rev().find(|&&(base, _)| base <= line * 64).map(|&(_, b)| b)
        };
        for buffer in [1u32, 0, 2] {
            layout.lines(&Event { offset: 0, len: 1, buffer, step: 0, op: Op::Read });
            for line in (0..40).chain((0..40).rev()) {
                assert_eq!(layout.owner(line), search(&layout, line), "line {line} after placing {buffer}");
            }
        }
    }

    /// The hostile extreme: one event of 2^32 - 1 elements of 2^32 - 1 bytes.
    #[test]
    fn the_largest_event_counts_without_overflow() {
        let e = Event { offset: 0, len: u32::MAX, buffer: 0, step: 0, op: Op::Read };
        let n = line_requests(&e, u64::from(u32::MAX), 6);
        assert_eq!(u128::from(n), (u128::from(u32::MAX) * u128::from(u32::MAX)).div_ceil(64));
    }
}
