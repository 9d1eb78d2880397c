//! `DepthStack`: an LRU stack of element slots that answers "how deep is
//! this slot" in O(log n), lets slots leave (liveness), and moves runs of
//! slots that were last touched together as one block.
//!
//! Each slot on the stack holds the time it was last moved to the top.
//! Occupied times are a [`TimeSet`] (a bitset with a Fenwick tree over its
//! words), so a slot's depth is the number of occupied times at or after
//! its own, and clearing or filling a block of `m` times costs `m / 64`
//! word updates. Times run out at `capacity`; then they are
//! renumbered `0..len` in order, so memory follows the slots on the stack,
//! never the length of the trace.
//!
//! **Runs.** When an access reads slots whose times are consecutive
//! (`t, t+1, ...`: they were last touched by one access, in the same
//! order), reading them one by one and lifting each to the top leaves
//! every one of them at the depth the first had: each lift puts an element
//! above the rest of the run exactly as the run's next element loses one.
//! A run costs one depth query and one block move.

use crate::timeset::TimeSet;

const NONE: u32 = u32::MAX;

/// An LRU stack over slots `0..` (dense element numbers).
pub struct DepthStack {
    /// Times held by a slot.
    times: TimeSet,
    /// Time -> slot occupying it (meaningful where the bit is set).
    owner: Vec<u32>,
    /// Slot -> its time, or `NONE` when it is not on the stack.
    time: Vec<u32>,
    now: usize,
    len: usize,
}

impl Default for DepthStack {
    fn default() -> Self {
        DepthStack::new()
    }
}

impl DepthStack {
    /// An empty stack.
    pub fn new() -> DepthStack {
        let capacity = 1024;
        DepthStack {
            times: TimeSet::with_first(capacity, 0),
            owner: vec![NONE; capacity],
            time: Vec::new(),
            now: 0,
            len: 0,
        }
    }

    /// Slots on the stack.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no slot is on the stack.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The time of `slot`, if it is on the stack.
    #[inline]
    pub fn time_of(&self, slot: u32) -> Option<u32> {
        self.time.get(slot as usize).copied().filter(|&t| t != NONE)
    }

    /// The depth of the slot at time `t` (1 = top).
    #[inline]
    pub fn depth_at(&self, t: u32) -> u64 {
        (self.len - self.times.before(t as usize)) as u64
    }

    /// The depth of `slot` (1 = top), or `None` when it is not on the stack.
    #[inline]
    pub fn depth(&self, slot: u32) -> Option<u64> {
        self.time_of(slot).map(|t| self.depth_at(t))
    }

    /// How far the run starting at `slots[0]` goes: the number of leading
    /// slots that are all off the stack, or on it at consecutive times.
    /// Returns that length and the first slot's time.
    #[inline]
    pub fn run(&self, slots: &[u32]) -> (usize, Option<u32>) {
        let Some(&first) = slots.first() else { return (0, None) };
        match self.time_of(first) {
            None => (1 + slots[1..].iter().take_while(|&&s| self.time_of(s).is_none()).count(), None),
            Some(t0) => {
                let mut n = 1;
                while n < slots.len() && self.time.get(slots[n] as usize) == Some(&(t0 + n as u32)) {
                    n += 1;
                }
                (n, Some(t0))
            }
        }
    }

    /// Takes the run `slots`, on the stack at consecutive times from `t0`
    /// (or off it when `t0` is `None`), off the stack.
    #[inline]
    pub fn take_run(&mut self, slots: &[u32], t0: Option<u32>) {
        let Some(t0) = t0 else { return };
        let (start, end) = (t0 as usize, t0 as usize + slots.len());
        self.times.remove(start, end);
        for &s in slots {
            self.time[s as usize] = NONE;
        }
        self.len -= slots.len();
    }

    /// Pushes `slots` (none of them on the stack) on top, in order: the
    /// last ends on top.
    #[inline]
    pub fn push_all(&mut self, slots: impl ExactSizeIterator<Item = u32>) {
        let m = slots.len();
        if m == 0 {
            return;
        }
        if self.now + m > self.owner.len() {
            self.compact(m);
        }
        let start = self.now;
        for (i, s) in slots.enumerate() {
            let s = s as usize;
            if s >= self.time.len() {
                self.time.resize((s + 1).max(self.time.len() * 2), NONE);
            }
            self.time[s] = (start + i) as u32;
            self.owner[start + i] = s as u32;
        }
        self.now += m;
        self.len += m;
        self.times.insert(start, start + m);
    }

    /// Moves `slot` to the top, pushing it if it is not on the stack.
    #[inline]
    pub fn to_top(&mut self, slot: u32) {
        self.remove(slot);
        self.push_all(std::iter::once(slot));
    }

    /// Takes `slot` off the stack (nothing if it is not on it).
    #[inline]
    pub fn remove(&mut self, slot: u32) {
        if let Some(t) = self.time_of(slot) {
            self.take_run(&[slot], Some(t));
        }
    }

    /// Renumbers the occupied times `0..len`, in order, with room for
    /// `incoming` more and three times as many again (a compaction costs
    /// the capacity; the slack makes it rare).
    #[cold]
    fn compact(&mut self, incoming: usize) {
        // Times are u32 (NONE excluded): room for 2^31 slots on the stack.
        let capacity = ((self.len + incoming) * 4).clamp(1024, (u32::MAX - 1) as usize).next_multiple_of(64);
        let mut owner = vec![NONE; capacity];
        let mut next = 0;
        for t in 0..self.now {
            if self.times.contains(t) {
                let slot = self.owner[t];
                owner[next] = slot;
                self.time[slot as usize] = next as u32;
                next += 1;
            }
        }
        self.owner = owner;
        self.now = next;
        self.times = TimeSet::with_first(capacity, next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xorshift(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    #[test]
    fn depths_match_a_list_through_compactions() {
        let mut fast = DepthStack::new();
        // The model: index 0 is the top.
        let mut list: Vec<u32> = Vec::new();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..60_000 {
            let slot = (xorshift(&mut x) % 1500) as u32;
            let want = list.iter().position(|&s| s == slot).map(|i| i as u64 + 1);
            assert_eq!(fast.depth(slot), want);
            if x.is_multiple_of(7) {
                fast.remove(slot);
                list.retain(|&s| s != slot);
            } else {
                fast.to_top(slot);
                list.retain(|&s| s != slot);
                list.insert(0, slot);
            }
            assert_eq!(fast.len(), list.len());
        }
    }

    /// Runs found by `run` and moved as blocks give, element by element,
    /// the depths and the stack that moving one element at a time gives.
    #[test]
    fn runs_move_like_their_elements_one_by_one() {
        let mut fast = DepthStack::new();
        let mut list: Vec<u32> = Vec::new();
        let mut x = 0x853c_49e6_748f_ea9bu64;
        for _ in 0..4000 {
            // A range access of consecutive slots, as a buffer range is.
            let start = (xorshift(&mut x) % 3000) as u32;
            let n = 1 + (xorshift(&mut x) % 300) as u32;
            let slots: Vec<u32> = (start..start + n).collect();
            let leave_every = 2 + xorshift(&mut x) % 9;
            let mut i = 0;
            while i < slots.len() {
                let (m, t0) = fast.run(&slots[i..]);
                assert!(m >= 1);
                let run = &slots[i..i + m];
                let deepest = t0.map(|t| fast.depth_at(t));
                let mut kept = Vec::new();
                let mut left = 0;
                for (k, &s) in run.iter().enumerate() {
                    let want = list.iter().position(|&e| e == s).map(|p| p as u64 + 1);
                    assert_eq!(deepest.map(|d| d - left), want, "slot {s}");
                    list.retain(|&e| e != s);
                    if ((i + k) as u64).is_multiple_of(leave_every) && want.is_some() {
                        left += 1;
                    } else {
                        list.insert(0, s);
                        kept.push(s);
                    }
                }
                fast.take_run(run, t0);
                fast.push_all(kept.into_iter());
                i += m;
            }
            assert_eq!(fast.len(), list.len());
        }
    }
}
