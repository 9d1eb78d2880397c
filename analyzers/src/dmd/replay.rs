//! The second pass of `analyze dmd`: with every value's last read and read
//! count known from the first, prices `bytedmd_live` (an LRU stack that
//! values leave after their last read) and `space_dmd` (ranks among the
//! live values of a static, density-ranked placement).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use memtrace::{Event, Op};

use super::rank::{Rank, RankSet};
use super::spool::{Sorted, ValueRecord};
use super::stack::DepthStack;
use super::{log2_bucket, total, BufferDmd, Clock, Costs, DmdConfig, DmdReport, Elements, Profile, PROFILE_POINTS};
use crate::{Error, Result};

/// An element's current value, in the second pass.
#[derive(Clone, Copy)]
struct Held {
    rank: Rank,
    /// Reads of the value still to come.
    remaining: u64,
    /// Whether the element has held a value (a read before is cold).
    born: bool,
}

const EMPTY: Held = Held { rank: Rank { reads: 0, span: 1, birth: 0, id: u64::MAX }, remaining: 0, born: false };

/// The second replay of a trace, made by [`super::Scan::finish`].
pub struct Replay {
    config: DmdConfig,
    elements: Elements,
    costs: Vec<Costs>,
    cold_loads: u64,
    classic_depths: Vec<u64>,
    values: Sorted,
    held: Vec<Held>,
    live: DepthStack,
    ranks: RankSet,
    /// Live ranked values by the time of their last read.
    ending: BinaryHeap<Reverse<(u64, Rank)>>,
    /// Values born in the current time, in order, not yet met in the trace.
    pending: VecDeque<ValueRecord>,
    next_value: u64,
    ticks: u64,
    /// The time of the accesses being replayed ([`Clock::Steps`]).
    group: Option<u64>,
    live_depths: Vec<u64>,
    reads: u64,
    live_so_far: u128,
    points: Vec<(u64, u64)>,
    stride: u64,
    error: Option<Error>,
}

impl Replay {
    pub(super) fn new(
        config: DmdConfig,
        elements: Elements,
        costs: Vec<Costs>,
        cold_loads: u64,
        classic_depths: Vec<u64>,
        values: Sorted,
    ) -> Replay {
        let held = vec![EMPTY; elements.count as usize];
        Replay {
            config,
            elements,
            costs,
            cold_loads,
            classic_depths,
            values,
            held,
            live: DepthStack::new(),
            ranks: RankSet::new(),
            ending: BinaryHeap::new(),
            pending: VecDeque::new(),
            next_value: 0,
            ticks: 0,
            group: None,
            live_depths: vec![0; 64],
            reads: 0,
            live_so_far: 0,
            points: Vec::new(),
            stride: 1,
            error: None,
        }
    }

    /// One event (the same events, in the same order, as the first pass saw).
    pub fn event(&mut self, e: &Event) {
        if self.error.is_some() {
            return;
        }
        let b = e.buffer as usize;
        if self.config.clock == Clock::Steps && self.group != Some(e.step as u64) {
            if let Some(t) = self.group {
                self.end(t);
            }
            self.begin(e.step as u64);
            self.group = Some(e.step as u64);
        }
        for offset in e.offset..e.end() {
            let Some(slot) = self.elements.known_slot(b, offset) else {
                self.error = Some(changed());
                return;
            };
            if self.config.clock == Clock::Events {
                self.begin(self.ticks);
            }
            match e.op {
                Op::Write => {
                    self.birth(slot);
                    if self.held[slot as usize].remaining > 0 {
                        self.live.to_top(slot);
                    }
                }
                Op::Read => self.read(b, offset, slot),
            }
            if self.config.clock == Clock::Events {
                self.end(self.ticks);
            }
            self.ticks += 1;
        }
    }

    #[inline]
    fn read(&mut self, b: usize, offset: u64, slot: u32) {
        let pricing = self.elements.pricing[b];
        let (live_depth, space_depth) = if !self.held[slot as usize].born {
            self.birth(slot);
            let d = self.elements.cold_depth(b, offset);
            let space = if self.elements.argument_base[b].is_some() {
                d
            } else {
                self.ranks.position(&self.held[slot as usize].rank)
            };
            (d, space)
        } else {
            let Some(d) = self.live.depth(slot) else {
                self.error = Some(changed());
                return;
            };
            (d, self.ranks.position(&self.held[slot as usize].rank))
        };
        let h = &mut self.held[slot as usize];
        if h.remaining == 0 {
            self.error = Some(changed());
            return;
        }
        h.remaining -= 1;
        if h.remaining == 0 {
            self.live.remove(slot);
        } else {
            self.live.to_top(slot);
        }
        let live = pricing.depth(live_depth);
        self.costs[b].live += live;
        self.costs[b].space += pricing.depth(space_depth);
        self.live_depths[log2_bucket(live_depth)] += 1;
        self.live_so_far += live;
        self.reads += 1;
        if self.reads % self.stride == 0 {
            self.points.push((self.reads, self.live_so_far.min(u64::MAX as u128) as u64));
            if self.points.len() == 2 * PROFILE_POINTS {
                self.points = self.points.iter().skip(1).step_by(2).copied().collect();
                self.stride *= 2;
            }
        }
    }

    /// A new value in `slot`: the next in order of birth.
    #[inline]
    fn birth(&mut self, slot: u32) {
        let id = self.next_value;
        self.next_value += 1;
        let held = match self.pending.front() {
            Some(r) if r.id == id => {
                let r = *r;
                self.pending.pop_front();
                Held {
                    rank: Rank { reads: r.reads, span: r.last - r.birth + 1, birth: r.birth, id },
                    remaining: r.reads,
                    born: true,
                }
            }
            _ => Held { born: true, ..EMPTY },
        };
        self.held[slot as usize] = held;
    }

    /// Time `t` begins: the values born then become live (the ranked ones:
    /// a value never read ranks below every read value, so it changes no price).
    #[inline]
    fn begin(&mut self, t: u64) {
        while self.values.peek().is_some_and(|r| r.birth == t) {
            let r = match self.values.next_record() {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => {
                    self.error = Some(Error::Spool(e));
                    return;
                }
            };
            let rank = Rank { reads: r.reads, span: r.last - r.birth + 1, birth: r.birth, id: r.id };
            self.ranks.insert(rank);
            self.ending.push(Reverse((r.last, rank)));
            self.pending.push_back(r);
        }
    }

    /// Time `t` ends: values read for the last time then stop being live.
    #[inline]
    fn end(&mut self, t: u64) {
        while let Some(Reverse((last, rank))) = self.ending.peek().copied() {
            if last > t {
                break;
            }
            self.ending.pop();
            self.ranks.remove(&rank);
        }
    }

    /// The report.
    pub fn finish(mut self) -> Result<DmdReport> {
        if let Some(t) = self.group.take() {
            self.end(t);
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if !self.pending.is_empty() || self.values.peek().is_some() {
            return Err(changed());
        }
        if self.points.last().map(|p| p.0) != Some(self.reads) && self.reads > 0 {
            self.points.push((self.reads, self.live_so_far.min(u64::MAX as u128) as u64));
        }
        let mut sum = Costs::default();
        let mut per_buffer = BTreeMap::new();
        for (name, c) in self.elements.names.iter().zip(&self.costs) {
            if c.loads == 0 && c.stores == 0 {
                continue;
            }
            sum.loads += c.loads;
            sum.stores += c.stores;
            sum.classic += c.classic;
            sum.live += c.live;
            sum.space += c.space;
            sum.address += c.address;
            per_buffer.insert(
                name.clone(),
                BufferDmd {
                    loads: c.loads,
                    bytedmd_classic: total(c.classic, "bytedmd_classic")?,
                    bytedmd_live: total(c.live, "bytedmd_live")?,
                    space_dmd: total(c.space, "space_dmd")?,
                    address_cost: total(c.address, "address_cost")?,
                },
            );
        }
        let trim = |mut v: Vec<u64>| {
            while v.last() == Some(&0) {
                v.pop();
            }
            v
        };
        Ok(DmdReport {
            bytes_per_element: self.config.bytes_per_element,
            clock: self.config.clock,
            loads: sum.loads,
            stores: sum.stores,
            cold_loads: self.cold_loads,
            bytedmd_classic: total(sum.classic, "bytedmd_classic")?,
            bytedmd_live: total(sum.live, "bytedmd_live")?,
            space_dmd: total(sum.space, "space_dmd")?,
            address_cost: total(sum.address, "address_cost")?,
            per_buffer,
            profile: Profile {
                cumulative_live: self.points,
                live_depths: trim(self.live_depths),
                classic_depths: trim(self.classic_depths),
            },
        })
    }
}

/// The second replay met what the first did not: the file changed in between.
fn changed() -> Error {
    Error::invalid("the trace changed between the two passes of the analysis; run it again on a file nobody writes")
}
