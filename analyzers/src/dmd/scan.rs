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
    /// The slots of the event being replayed (kept to reuse its memory).
    slots: Vec<u32>,
    costs: Vec<Costs>,
    cold_loads: u64,
    classic_depths: Vec<u64>,
    spool: Spool,
    /// Values retired in a row, not yet in the spool.
    open: Option<ValueRecord>,
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
            slots: Vec::new(),
            costs: vec![Costs::default(); header.buffers.len()],
            cold_loads: 0,
            classic_depths: vec![0; 64],
            spool,
            open: None,
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
        let mut slots = std::mem::take(&mut self.slots);
        slots.clear();
        self.elements.prepare(b, e.offset, e.len as u64);
        slots.extend((e.offset..e.end()).map(|offset| self.elements.slot(b, offset)));
        if let Some(&top) = slots.iter().max() {
            if top as usize >= self.current.len() {
                let want = (top as usize + 1).max(self.current.len() * 2);
                self.current.resize(want, Current { id: NO_VALUE, birth: 0, last: 0, reads: 0 });
            }
        }
        let (read, start, clock, step) = (e.op == Op::Read, self.ticks, self.config.clock, e.step as u64);
        let time = move |k: usize| match clock {
            Clock::Events => start + k as u64,
            Clock::Steps => step,
        };
        if read {
            self.costs[b].address += pricing.depths(e.offset + 1, e.len as u64);
            self.costs[b].loads += slots.len() as u64;
        } else {
            self.costs[b].stores += slots.len() as u64;
        }
        let mut i = 0;
        while i < slots.len() {
            // A run: elements off the stack, or on it in the order they were last touched.
            let (m, t0) = self.classic.run(&slots[i..]);
            if read {
                self.price_run(b, e.offset + i as u64, m as u64, t0);
            }
            for (k, &slot) in slots[i..i + m].iter().enumerate() {
                let now = time(i + k);
                let cur = &mut self.current[slot as usize];
                if read && cur.id != NO_VALUE {
                    cur.reads += 1;
                    cur.last = now;
                    continue;
                }
                let old = *cur;
                *cur = Current { id: self.next_value, birth: now, last: now, reads: read as u64 };
                self.next_value += 1;
                if old.id != NO_VALUE {
                    self.retire(old);
                }
            }
            self.classic.take_run(&slots[i..i + m], t0);
            self.classic.push_all(slots[i..i + m].iter().copied());
            i += m;
        }
        self.ticks += slots.len() as u64;
        self.slots = slots;
    }

    /// Prices `m` reads of buffer `b` from element `offset` on: a run off
    /// the classic stack (`t0` `None`) or on it at consecutive times from `t0`.
    #[inline]
    fn price_run(&mut self, b: usize, offset: u64, m: u64, t0: Option<u32>) {
        let pricing = self.elements.pricing[b];
        match t0 {
            None => {
                // Cold reads: arguments at their positions, the rest made on the spot at depth 1.
                let first = self.elements.cold_depth(b, offset);
                self.cold_loads += m;
                if self.elements.argument_base[b].is_some() {
                    self.costs[b].classic += pricing.depths(first, m);
                    for k in 0..m {
                        self.classic_depths[log2_bucket(first + k)] += 1;
                    }
                } else {
                    self.costs[b].classic += pricing.depth(1) * m as u128;
                    self.classic_depths[0] += m;
                }
            }
            Some(t0) => {
                // Every element of the run is read at the depth of its first.
                let depth = self.classic.depth_at(t0);
                self.costs[b].classic += pricing.depth(depth) * m as u128;
                self.classic_depths[log2_bucket(depth)] += m;
            }
        }
    }

    /// A value's future is known: its element is written again, or the trace ends.
    #[inline]
    fn retire(&mut self, v: Current) {
        if v.reads == 0 {
            return;
        }
        let r = ValueRecord::one(v.id, v.birth, v.last, v.reads);
        if let Some(open) = &mut self.open {
            if open.extend(&r) {
                return;
            }
        }
        if let Some(done) = self.open.replace(r) {
            if let Err(e) = self.spool.push(done) {
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
        if let Some(done) = self.open.take() {
            self.spool.push(done).map_err(Error::Spool)?;
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let values = self.spool.into_sorted().map_err(Error::Spool)?;
        Ok(Replay::new(self.config, self.elements, self.costs, self.cold_loads, self.classic_depths, values))
    }
}
