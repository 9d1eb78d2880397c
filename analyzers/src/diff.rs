//! `analyze diff`: where two traces of the same protocol first differ.
//! Events are compared with buffer names resolved (ids may differ between
//! producers), so a trace written by Python and one written by `record` for
//! the same protocol compare equal when they hold the same accesses.

use std::collections::HashMap;

use memtrace::{Event, Header, Op, TraceReader};
use serde::Serialize;

/// One event with its buffer's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedEvent {
    /// `R` or `W`.
    pub op: &'static str,
    /// The buffer's name.
    pub buffer: String,
    /// First element.
    pub offset: u64,
    /// Elements.
    pub size: u32,
    /// Step.
    pub step: u32,
}

impl NamedEvent {
    fn new(h: &Header, e: &Event) -> NamedEvent {
        NamedEvent {
            op: if e.op == Op::Read { "R" } else { "W" },
            buffer: h.buffers[e.buffer as usize].name.clone(),
            offset: e.offset,
            size: e.len,
            step: e.step,
        }
    }
}

impl std::fmt::Display for NamedEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}[{}..{}] step {}", self.op, self.buffer, self.offset, self.offset + self.size as u64, self.step)
    }
}

/// Where two traces first differ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// 0-based index of the first differing event.
    pub event: u64,
    /// The step of that event in the first trace (or the second, if the first ended).
    pub step: u32,
    /// The event of the first trace (none: it ended).
    pub a: Option<NamedEvent>,
    /// The event of the second trace (none: it ended).
    pub b: Option<NamedEvent>,
}

/// What `analyze diff` finds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiffReport {
    /// Same events (names, ranges, ops, steps) and same definitions of the buffers they use.
    pub identical: bool,
    /// Events equal before the first difference.
    pub events_compared: u64,
    /// The first event that differs, if any.
    pub first_difference: Option<Difference>,
    /// Buffers both traces use but define differently (length, element size or role).
    pub buffer_differences: Vec<String>,
}

/// Events one at a time from a reader.
struct Cursor {
    reader: TraceReader,
    batch: Vec<Event>,
    at: usize,
}

impl Cursor {
    fn next(&mut self) -> memtrace::Result<Option<Event>> {
        if self.at == self.batch.len() {
            self.batch.clear();
            self.at = 0;
            match self.reader.next_batch()? {
                Some(b) => self.batch.extend_from_slice(b),
                None => return Ok(None),
            }
        }
        self.at += 1;
        Ok(Some(self.batch[self.at - 1]))
    }
}

/// Compares two traces; `Err((which, error))` says which trace (0 or 1) failed.
pub fn diff(a: TraceReader, b: TraceReader) -> Result<DiffReport, (usize, memtrace::Error)> {
    let (ha, hb) = (a.header().clone(), b.header().clone());
    let mut ca = Cursor { reader: a, batch: Vec::new(), at: 0 };
    let mut cb = Cursor { reader: b, batch: Vec::new(), at: 0 };
    let mut used_a = vec![false; ha.buffers.len()];
    let mut used_b = vec![false; hb.buffers.len()];
    let mut n = 0u64;
    let mut first = None;
    loop {
        let ea = ca.next().map_err(|e| (0, e))?;
        let eb = cb.next().map_err(|e| (1, e))?;
        match (ea, eb) {
            (None, None) => break,
            (x, y) => {
                let na = x.map(|e| {
                    used_a[e.buffer as usize] = true;
                    NamedEvent::new(&ha, &e)
                });
                let nb = y.map(|e| {
                    used_b[e.buffer as usize] = true;
                    NamedEvent::new(&hb, &e)
                });
                if na != nb {
                    let step = na.as_ref().or(nb.as_ref()).map_or(0, |e| e.step);
                    first = Some(Difference { event: n, step, a: na, b: nb });
                    break;
                }
                n += 1;
            }
        }
    }
    if first.is_some() {
        // Drain both so that damage further on is still reported.
        while ca.next().map_err(|e| (0, e))?.is_some() {}
        while cb.next().map_err(|e| (1, e))?.is_some() {}
    }
    let by_name: HashMap<&str, usize> = hb.buffers.iter().enumerate().map(|(i, b)| (b.name.as_str(), i)).collect();
    let mut buffer_differences = Vec::new();
    for (i, ba) in ha.buffers.iter().enumerate() {
        let Some(&j) = by_name.get(ba.name.as_str()) else { continue };
        if !(used_a[i] && used_b[j]) {
            continue;
        }
        let bb = &hb.buffers[j];
        if (ba.len, ba.elem_size, ba.role) != (bb.len, bb.elem_size, bb.role) {
            buffer_differences.push(format!(
                "{}: {} x {}B {} vs {} x {}B {}",
                ba.name, ba.len, ba.elem_size, ba.role, bb.len, bb.elem_size, bb.role
            ));
        }
    }
    Ok(DiffReport {
        identical: first.is_none() && buffer_differences.is_empty(),
        events_compared: n,
        first_difference: first,
        buffer_differences,
    })
}
