//! The second pass of `analyze dmd`: with every value's last read and read
//! count known from the first, prices `bytedmd_live` (an LRU stack that
//! values leave after their last read) and `space_dmd` (ranks among the
//! live values of a static, density-ranked placement).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use memtrace::{Event, Op};

use super::cost::PriceRun;
use super::rank::{Rank, RankRun, RankSet};
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
}

const EMPTY: Held = Held { rank: Rank { reads: 0, span: 1, birth: 0, id: u64::MAX }, remaining: 0 };

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
    ending: BinaryHeap<Reverse<Ending>>,
    /// Values made live, in order, not yet met in the trace.
    pending: VecDeque<ValueRecord>,
    /// What remains of the spool record being made live.
    front: Option<ValueRecord>,
    next_value: u64,
    ticks: u64,
    /// The time of the accesses being replayed ([`Clock::Steps`]).
    group: Option<u64>,
    live_depths: Vec<u64>,
    /// The slots of the event being replayed (kept to reuse its memory).
    slots: Vec<u32>,
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
            front: None,
            next_value: 0,
            ticks: 0,
            group: None,
            live_depths: vec![0; 64],
            slots: Vec::new(),
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
        let mut slots = std::mem::take(&mut self.slots);
        slots.clear();
        for offset in e.offset..e.end() {
            match self.elements.known_slot(b, offset) {
                Some(s) => slots.push(s),
                None => {
                    self.error = Some(changed());
                    return;
                }
            }
        }
        match e.op {
            Op::Write => {
                let batch_end = self.next_value + slots.len() as u64;
                for &slot in &slots {
                    self.birth(slot, batch_end);
                }
                // A value that will be read enters the live stack; its element is
                // not on it (the old value left at its last read, or never entered).
                let held = &self.held;
                let entering: Vec<u32> = slots.iter().copied().filter(|&s| held[s as usize].remaining > 0).collect();
                self.live.push_all(entering.into_iter());
            }
            Op::Read => self.read(b, e.offset, &slots),
        }
        self.ticks += slots.len() as u64;
        self.slots = slots;
    }

    /// Reads of `slots`, elements `offset..` of buffer `b`, run by run.
    fn read(&mut self, b: usize, offset: u64, slots: &[u32]) {
        let pricing = self.elements.pricing[b];
        let is_argument = self.elements.argument_base[b].is_some();
        let events_clock = self.config.clock == Clock::Events;
        let (mut live_price, mut space_price) = (PriceRun::new(pricing), PriceRun::new(pricing));
        // The previous read's rank, position, and whether its value is still ranked.
        let mut chain: Option<(Rank, u64, bool)> = None;
        // Values that left, one after another (event clock).
        let mut leaving: Option<RankRun> = None;
        let mut kept = Vec::new();
        let mut i = 0;
        while i < slots.len() {
            let (m, t0) = self.live.run(&slots[i..]);
            let run = &slots[i..i + m];
            // Warm: every element at the first's depth, less those that left before it.
            let deepest = t0.map(|t| self.live.depth_at(t));
            let (mut left, mut same_from) = (0u64, 0usize);
            // A cold run's elements are all born here, in order.
            let batch_end = self.next_value + m as u64;
            kept.clear();
            for (k, &slot) in run.iter().enumerate() {
                let cold_depth = if deepest.is_none() {
                    flush_leaving(&mut self.ranks, &mut leaving);
                    self.birth(slot, batch_end);
                    chain = None;
                    Some(self.elements.cold_depth(b, offset + (i + k) as u64))
                } else {
                    None
                };
                let h = self.held[slot as usize];
                if h.remaining == 0 {
                    self.error = Some(changed());
                    return;
                }
                let position = match chain {
                    Some((p, pos, stayed)) if follows(&p, &h.rank) => pos + stayed as u64,
                    _ => {
                        flush_leaving(&mut self.ranks, &mut leaving);
                        self.ranks.position(&h.rank)
                    }
                };
                let stays = h.remaining > 1;
                // Under steps a value read for the last time stays ranked until its step ends.
                chain = Some((h.rank, position, stays || !events_clock));
                match cold_depth {
                    Some(d) if is_argument => space_price.push(d),
                    _ => space_price.push(position),
                }
                if let Some(d) = cold_depth {
                    live_price.push(d);
                    self.live_depths[log2_bucket(d)] += 1;
                }
                self.held[slot as usize].remaining -= 1;
                if stays {
                    kept.push(slot);
                    continue;
                }
                // The last read of the value: it leaves both placements.
                if events_clock && !extend(&mut leaving, &h.rank) {
                    flush_leaving(&mut self.ranks, &mut leaving);
                    let r = h.rank;
                    leaving =
                        Some(RankRun { reads: r.reads, span: r.span, birth: r.birth, stride: 0, id: r.id, count: 1 });
                }
                if let Some(d) = deepest {
                    let n = (k + 1 - same_from) as u64;
                    live_price.push_n(d - left, n);
                    self.live_depths[log2_bucket(d - left)] += n;
                    left += 1;
                    same_from = k + 1;
                }
            }
            if let Some(d) = deepest {
                let n = (m - same_from) as u64;
                live_price.push_n(d - left, n);
                self.live_depths[log2_bucket(d - left)] += n;
            }
            self.live.take_run(run, t0);
            self.live.push_all(kept.iter().copied());
            i += m;
        }
        flush_leaving(&mut self.ranks, &mut leaving);
        let live_cost = live_price.total();
        self.costs[b].live += live_cost;
        self.costs[b].space += space_price.total();
        self.add_live(live_cost, slots.len() as u64);
    }

    /// `reads` more element reads that cost `cost` in the live stack, for the profile.
    #[inline]
    fn add_live(&mut self, cost: u128, reads: u64) {
        let before = self.reads;
        self.live_so_far += cost;
        self.reads += reads;
        // A point each time the count of reads passes a multiple of the stride.
        if self.reads / self.stride > before / self.stride {
            self.points.push((self.reads, self.live_so_far.min(u64::MAX as u128) as u64));
            if self.points.len() == 2 * PROFILE_POINTS {
                self.points = self.points.iter().skip(1).step_by(2).copied().collect();
                self.stride *= 2;
            }
        }
    }

    /// A new value in `slot`: the next in order of birth. Under the event
    /// clock it becomes live now, with the rest of its record that is born
    /// in the same batch (ids below `batch_end`), which ranks after it and
    /// so changes no price before its own birth. Under steps,
    /// [`Replay::begin`] made it live.
    #[inline]
    fn birth(&mut self, slot: u32, batch_end: u64) {
        let id = self.next_value;
        self.next_value += 1;
        if self.config.clock == Clock::Events && self.pending.front().is_none_or(|r| r.id != id) {
            if let Some(f) = self.spool_front() {
                if f.id == id {
                    self.make_live(f.count.min(batch_end - id));
                }
            }
        }
        let held = match self.pending.front_mut() {
            Some(r) if r.id == id => {
                let held = Held { rank: run_of(r).rank(0), remaining: r.reads };
                if !r.advance() {
                    self.pending.pop_front();
                }
                held
            }
            _ => EMPTY,
        };
        self.held[slot as usize] = held;
    }

    /// The next record of the spool not yet live.
    #[inline]
    fn spool_front(&mut self) -> Option<ValueRecord> {
        if self.front.is_none() {
            match self.values.next_record() {
                Ok(r) => self.front = r,
                Err(e) => self.error = Some(Error::Spool(e)),
            }
        }
        self.front
    }

    /// The first `n` values of the spool's next record become live.
    #[inline]
    fn make_live(&mut self, n: u64) {
        let Some(mut f) = self.front else { return };
        let mut part = f;
        part.count = n;
        self.ranks.insert(run_of(&part));
        if self.config.clock == Clock::Steps {
            self.ending.push(Reverse(Ending(part.last, run_of(&part))));
        }
        self.pending.push_back(part);
        for _ in 0..n {
            if !f.advance() {
                self.front = None;
                return;
            }
        }
        self.front = Some(f);
    }

    /// Time `t` begins ([`Clock::Steps`]): the values born then become live
    /// (the ranked ones: a value never read ranks below every read value, so
    /// it changes no price).
    fn begin(&mut self, t: u64) {
        while let Some(f) = self.spool_front() {
            if f.birth != t {
                break;
            }
            self.make_live(if f.stride == 0 { f.count } else { 1 });
        }
    }

    /// Time `t` ends ([`Clock::Steps`]): values read for the last time then
    /// stop being live (a record born in one step was read in the same steps).
    fn end(&mut self, t: u64) {
        while let Some(Reverse(Ending(last, run))) = self.ending.peek().copied() {
            if last > t {
                break;
            }
            self.ending.pop();
            self.ranks.remove_run(&run);
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
        if !self.pending.is_empty() || self.front.is_some() || self.values.peek().is_some() {
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

/// Whether `next` ranks right after `prev` when both are live: values of
/// one run (same reads and span, consecutive numbers, births at most one
/// apart), between which nothing can rank.
#[inline]
fn follows(prev: &Rank, next: &Rank) -> bool {
    next.id == prev.id + 1
        && next.reads == prev.reads
        && next.span == prev.span
        && (next.birth == prev.birth || next.birth == prev.birth + 1)
}

/// Adds `next` to the values gathered in `run` if it follows them in step.
#[inline]
fn extend(run: &mut Option<RankRun>, next: &Rank) -> bool {
    let Some(r) = run else { return false };
    let stride = if r.count == 1 { next.birth.wrapping_sub(r.birth) } else { r.stride };
    if stride <= 1 && {
        r.stride = stride;
        r.rank(r.count) == *next
    } {
        r.count += 1;
        true
    } else {
        false
    }
}

/// Applies the removals gathered in `leaving`.
#[inline]
fn flush_leaving(ranks: &mut RankSet, leaving: &mut Option<RankRun>) {
    if let Some(run) = leaving.take() {
        ranks.remove_following(&run);
    }
}

/// The ranks of a record's values.
#[inline]
fn run_of(r: &ValueRecord) -> RankRun {
    RankRun { reads: r.reads, span: r.last - r.birth + 1, birth: r.birth, stride: r.stride, id: r.id, count: r.count }
}

/// Values that stop being live after time `.0` ([`Clock::Steps`]).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Ending(u64, RankRun);

impl Ord for Ending {
    fn cmp(&self, o: &Ending) -> std::cmp::Ordering {
        (self.0, self.1.id).cmp(&(o.0, o.1.id))
    }
}

impl PartialOrd for Ending {
    fn partial_cmp(&self, o: &Ending) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

/// The second replay met what the first did not: the file changed in between.
fn changed() -> Error {
    Error::invalid("the trace changed between the two passes of the analysis; run it again on a file nobody writes")
}
