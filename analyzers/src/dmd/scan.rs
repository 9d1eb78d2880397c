//! The first pass of `analyze dmd`: prices `bytedmd_classic` (which needs
//! no future) and `address_cost`, and learns every value's last read and
//! read count for the second pass.

use memtrace::{Event, Header, Op};

use super::replay::Replay;
use super::spool::{Spool, ValueRecord};
use super::stack::DepthStack;
use super::{log2_bucket, Clock, Costs, DmdConfig, Elements};
use crate::{Error, Result};

const NO_VALUE: u64 = u64::MAX;

/// The value an element holds, as far as the first pass has seen it.
#[derive(Clone, Copy)]
struct Current {
    id: u64,
    birth: u64,
    last: u64,
    reads: u64,
}

/// The first replay of a trace; `finish` gives the second, [`Replay`].
pub struct Scan {
    config: DmdConfig,
    elements: Elements,
    current: Vec<Current>,
    classic: DepthStack,
    costs: Vec<Costs>,
    cold_loads: u64,
    classic_depths: Vec<u64>,
    spool: Spool,
    next_value: u64,
    /// Element accesses so far: the clock of [`Clock::Events`].
    ticks: u64,
    events: u64,
    last_step: u32,
    error: Option<Error>,
}

impl Scan {
    /// A first pass over a trace with this header.
    pub fn new(header: &Header, config: DmdConfig) -> Scan {
        Scan::with_spool(header, config, Spool::default())
    }

    /// The same with a given spool (tests spill small runs).
    pub fn with_spool(header: &Header, config: DmdConfig, spool: Spool) -> Scan {
        Scan {
            config,
            elements: Elements::new(header, &config),
            current: Vec::new(),
            classic: DepthStack::new(),
            costs: vec![Costs::default(); header.buffers.len()],
            cold_loads: 0,
            classic_depths: vec![0; 64],
            spool,
            next_value: 0,
            ticks: 0,
            events: 0,
            last_step: 0,
            error: None,
        }
    }

    /// One event.
    pub fn event(&mut self, e: &Event) {
        if self.error.is_some() {
            return;
        }
        if self.config.clock == Clock::Steps && e.step < self.last_step {
            self.error = Some(Error::at_event(
                self.events,
                format!(
                    "step {} comes after step {}: --clock steps needs steps that never decrease (use --clock events)",
                    e.step, self.last_step
                ),
            ));
            return;
        }
        self.last_step = e.step;
        self.events += 1;
        let b = e.buffer as usize;
        let pricing = self.elements.pricing[b];
        if e.op == Op::Read {
            self.costs[b].address += pricing.depths(e.offset + 1, e.len as u64);
        }
        for offset in e.offset..e.end() {
            let now = match self.config.clock {
                Clock::Events => self.ticks,
                Clock::Steps => e.step as u64,
            };
            self.ticks += 1;
            let slot = self.elements.slot(b, offset);
            if slot as usize >= self.current.len() {
                let want = (slot as usize + 1).max(self.current.len() * 2);
                self.current.resize(want, Current { id: NO_VALUE, birth: 0, last: 0, reads: 0 });
            }
            let cur = self.current[slot as usize];
            match e.op {
                Op::Write => {
                    self.costs[b].stores += 1;
                    if cur.id != NO_VALUE {
                        self.retire(cur);
                    }
                    self.current[slot as usize] = Current { id: self.next_value, birth: now, last: now, reads: 0 };
                    self.next_value += 1;
                }
                Op::Read => {
                    self.costs[b].loads += 1;
                    let depth = if cur.id == NO_VALUE {
                        self.cold_loads += 1;
                        self.current[slot as usize] = Current { id: self.next_value, birth: now, last: now, reads: 1 };
                        self.next_value += 1;
                        self.elements.cold_depth(b, offset)
                    } else {
                        let c = &mut self.current[slot as usize];
                        c.reads += 1;
                        c.last = now;
                        // Every element with a value is on the classic stack.
                        self.classic.depth(slot).unwrap_or(1)
                    };
                    self.classic_depths[log2_bucket(depth)] += 1;
                    self.costs[b].classic += pricing.depth(depth);
                }
            }
            self.classic.to_top(slot);
        }
    }

    /// A value's future is known: its element is written again, or the trace ends.
    #[inline]
    fn retire(&mut self, v: Current) {
        if v.reads > 0 {
            let r = ValueRecord { id: v.id, birth: v.birth, last: v.last, reads: v.reads };
            if let Err(e) = self.spool.push(r) {
                self.error.get_or_insert(Error::Spool(e));
            }
        }
    }

    /// The second pass, primed with what this one learned.
    pub fn finish(mut self) -> Result<Replay> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        for i in 0..self.current.len() {
            let v = self.current[i];
            if v.id != NO_VALUE {
                self.retire(v);
            }
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let values = self.spool.into_sorted().map_err(Error::Spool)?;
        Ok(Replay::new(self.config, self.elements, self.costs, self.cold_loads, self.classic_depths, values))
    }
}
