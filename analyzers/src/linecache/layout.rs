//! The line layout every line analyzer shares: buffers packed from
//! address 0 in order of first appearance, each aligned up to a line, and
//! an event's line requests.

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
    pub fn owner(&self, line: u64) -> Option<u32> {
        let addr = line.saturating_mul(self.line);
        let i = self.placed.partition_point(|&(base, _)| base <= addr);
        (i > 0).then(|| self.placed[i - 1].1)
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
