//! CLOCK with one reference bit, and FIFO: [`Clock`] starts as the array
//! of `clock_ring.rs` (the fastest form, for a cache that only evicts) and
//! turns into the circular list below at its first back-invalidation
//! (`energy`'s inclusive hierarchy), which the list takes out in constant
//! time where the array would move lines.
//!
//! The list:
//! The same cache as libCacheSim's queue form (newest at the head, the
//! tail examined, a referenced tail moved to the head with its bit cleared,
//! the victim replaced by the new line at the head), where moving the tail
//! to the head is only the hand stepping forward: the list runs from the
//! hand (the tail) through `next` to the node before it (the head), so a
//! miss relinks nothing: the victim's node takes the new line where it is.
//!
//! FIFO is the same hand with no reference bits (`Clock<false>`): a hit
//! changes nothing, and a miss replaces the oldest line where it is, which
//! is what a queue that evicts its tail and inserts at its head does,
//! without moving the tail's node to the head.

use super::clock_ring::RingClock;
use super::policy::{Access, Policy};
use super::slab::{ring_push_last, ring_take_out, Slab, NIL};

/// CLOCK when `SECOND_CHANCE`, FIFO when not.
pub(crate) enum Clock<const SECOND_CHANCE: bool = true> {
    /// No line taken out yet.
    Ring(RingClock<SECOND_CHANCE>),
    /// Since the first line taken out.
    List(ListClock<SECOND_CHANCE>),
}

/// First in, first out: the hand, with no line ever given a second chance.
pub(crate) type Fifo = Clock<false>;

impl<const SECOND_CHANCE: bool> Clock<SECOND_CHANCE> {
    pub(crate) fn new(cap: usize) -> Clock<SECOND_CHANCE> {
        Clock::Ring(RingClock::new(cap))
    }

    /// The first line taken out: the array becomes the list, which takes it out.
    #[cold]
    #[inline(never)]
    fn turn_into_list_removing(&mut self, line: u64) -> bool {
        let Clock::Ring(r) = self else { return false };
        let mut list = std::mem::replace(r, RingClock::new(0)).into_list();
        let removed = list.remove(line);
        *self = Clock::List(list);
        removed
    }
}

impl<const SECOND_CHANCE: bool> Policy for Clock<SECOND_CHANCE> {
    #[inline(always)]
    fn access(&mut self, line: u64) -> Access {
        match self {
            Clock::Ring(r) => r.access(line),
            Clock::List(l) => l.access(line),
        }
    }

    #[inline]
    fn remove(&mut self, line: u64) -> bool {
        match self {
            Clock::List(l) => l.remove(line),
            Clock::Ring(r) => r.contains(line) && self.turn_into_list_removing(line),
        }
    }
}

/// The circular list.
pub(crate) struct ListClock<const SECOND_CHANCE: bool> {
    cap: usize,
    len: usize,
    slab: Slab,
    /// The oldest line (the queue's tail); `NIL` when empty.
    hand: u32,
}

impl<const SECOND_CHANCE: bool> ListClock<SECOND_CHANCE> {
    pub(crate) fn new(cap: usize) -> ListClock<SECOND_CHANCE> {
        ListClock { cap, len: 0, slab: Slab::default(), hand: NIL }
    }

    /// Puts `line` (not resident, the cache not full) just before the hand.
    pub(crate) fn push_last(&mut self, line: u64, referenced: bool) {
        let i = self.slab.alloc(line, 0);
        self.slab.nodes[i as usize].freq = referenced as u32;
        ring_push_last(&mut self.slab.nodes, &mut self.hand, i);
        self.len += 1;
    }

    // Not inlined into `Clock::access`: the array form's path stays lean.
    #[inline(never)]
    fn access(&mut self, line: u64) -> Access {
        if let Some(i) = self.slab.find(line) {
            if SECOND_CHANCE {
                self.slab.nodes[i as usize].freq = 1;
            }
            return Access { hit: true, resident: true, evicted: None };
        }
        if self.cap == 0 {
            return Access::default();
        }
        let nodes = &mut self.slab.nodes;
        if self.len >= self.cap {
            let mut h = self.hand;
            while SECOND_CHANCE && nodes[h as usize].freq >= 1 {
                nodes[h as usize].freq -= 1;
                h = nodes[h as usize].next;
            }
            self.hand = nodes[h as usize].next;
            let victim = self.slab.reuse(h, line);
            return Access { hit: false, resident: true, evicted: Some(victim) };
        }
        // A new head: just before the hand.
        self.push_last(line, false);
        Access { hit: false, resident: true, evicted: None }
    }

    fn remove(&mut self, line: u64) -> bool {
        let Some(i) = self.slab.find(line) else { return false };
        ring_take_out(&mut self.slab.nodes, &mut self.hand, i);
        self.len -= 1;
        self.slab.release(i);
        true
    }
}
