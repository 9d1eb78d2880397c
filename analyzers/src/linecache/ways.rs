//! Set-associative LRU and FIFO as hardware keeps them: each set's lines in
//! one small ring of slots, oldest to newest from the set's head, with a
//! one-byte hint per line saying which slot it was last put in.
//!
//! Equal, request for request, to [`super::SetAssociative`] over LRU or
//! FIFO queues (the property tests check hits, evictions and removals), and
//! several times as fast: no hash map and no linked list per set, no
//! dynamic call per request, and no scan. A line is found by checking the
//! one slot its hint names (a stale hint names a slot holding another
//! line: a miss, which is right, because a resident line's hint is kept
//! exact). A miss, most requests of a sweep larger than the cache, replaces
//! the set's oldest slot and moves its head on: a constant amount of work
//! whatever the ways. Only an LRU hit moves lines, the ones newer than it.
//! Used for up to [`MAX_WAYS`] ways.
//!
//! Slots hold `line + 1`, so an empty slot is 0 and the table is allocated
//! zeroed: the operating system maps its pages when a set is first used,
//! so a cache far larger than the lines a trace touches costs what it
//! touches. Hints are kept for lines below [`FLAT_LINES`] (a byte per line
//! of the layout, grown to the highest line placed); a line above is found
//! by scanning its set.

use super::policy::{Access, Policy};
use crate::linemap::FLAT_LINES;

/// The most ways for which the arrays are used (a slot index fits a hint's byte).
pub const MAX_WAYS: u64 = 32;

/// `sets` sets of `ways` lines, LRU or FIFO.
pub struct SetArrays {
    sets: u64,
    /// `sets - 1` when `sets` is a power of two (as caches are): a mask
    /// instead of a division on every request.
    set_mask: Option<u64>,
    ways: usize,
    /// `ways` slots per set, a ring: the oldest at the set's head, the
    /// newest just before it; empty slots are the oldest.
    slots: Vec<u64>,
    /// Each set's oldest slot.
    heads: Vec<u8>,
    /// The slot of its set each line below [`FLAT_LINES`] was last put in.
    hints: Vec<u8>,
    lru: bool,
}

impl SetArrays {
    /// `capacity / ways` sets of `ways` lines (as [`super::SetAssociative::new`]); LRU when `lru`, else FIFO.
    /// Ways above [`MAX_WAYS`] are taken as `MAX_WAYS`: [`super::set_arrays`] builds
    /// [`super::SetAssociative`] for those instead.
    pub fn new(capacity: u64, ways: u64, lru: bool) -> SetArrays {
        let ways = ways.clamp(1, MAX_WAYS);
        let sets = (capacity / ways).max(1);
        let set_mask = sets.is_power_of_two().then_some(sets - 1);
        SetArrays {
            sets,
            set_mask,
            ways: ways as usize,
            slots: vec![0; (sets * ways) as usize],
            heads: vec![0; sets as usize],
            hints: Vec::new(),
            lru,
        }
    }

    /// The set of `line`.
    #[inline(always)]
    fn set(&self, line: u64) -> usize {
        (match self.set_mask {
            Some(mask) => line & mask,
            None => line % self.sets,
        }) as usize
    }

    /// The slot of `set` holding `line`, if it is resident.
    #[inline(always)]
    fn find(&self, set: usize, line: u64) -> Option<usize> {
        let row = &self.slots[set * self.ways..(set + 1) * self.ways];
        let key = line + 1;
        match self.hints.get(line as usize) {
            Some(&slot) => (row.get(slot as usize) == Some(&key)).then_some(slot as usize),
            // A near line beyond the hints was never placed.
            None if line < FLAT_LINES => None,
            None => row.iter().position(|&s| s == key),
        }
    }

    /// Grows the hints to hold `line`'s, when it is near.
    #[cold]
    fn grow_hints(&mut self, line: u64) {
        if line < FLAT_LINES {
            self.hints.resize((line as usize + 1).next_power_of_two().max(4096), 0);
        }
    }
}

/// Records that the line whose key (line + 1) is `key` is in `slot`, when it has a hint.
#[inline(always)]
fn hint(hints: &mut [u8], key: u64, slot: usize) {
    if let Some(h) = hints.get_mut(key.wrapping_sub(1) as usize) {
        *h = slot as u8;
    }
}

impl Policy for SetArrays {
    #[inline(always)]
    fn access(&mut self, line: u64) -> Access {
        let set = self.set(line);
        let found = self.find(set, line);
        let ways = self.ways;
        let head = self.heads[set] as usize;
        let row = &mut self.slots[set * ways..(set + 1) * ways];
        if let Some(slot) = found {
            // LRU: the line becomes the newest; the lines newer than it move one slot older.
            let newest = if head == 0 { ways - 1 } else { head - 1 };
            if self.lru && slot != newest {
                let key = row[slot];
                let mut i = slot;
                while i != newest {
                    let j = if i + 1 == ways { 0 } else { i + 1 };
                    let moved = row[j];
                    row[i] = moved;
                    hint(&mut self.hints, moved, i);
                    i = j;
                }
                row[newest] = key;
                hint(&mut self.hints, key, newest);
            }
            return Access { hit: true, resident: true, evicted: None };
        }
        // The oldest slot (or an empty one) goes, and the head moves on:
        // the new line is the newest.
        let victim = std::mem::replace(&mut row[head], line + 1);
        self.heads[set] = if head + 1 == ways { 0 } else { head as u8 + 1 };
        if line as usize >= self.hints.len() {
            self.grow_hints(line);
        }
        hint(&mut self.hints, line + 1, head);
        Access { hit: false, resident: true, evicted: victim.checked_sub(1) }
    }

    fn remove(&mut self, line: u64) -> bool {
        let set = self.set(line);
        let Some(slot) = self.find(set, line) else { return false };
        // The lines older than it move one slot newer; the head slot,
        // the oldest, is left empty for the next miss.
        let ways = self.ways;
        let head = self.heads[set] as usize;
        let row = &mut self.slots[set * ways..(set + 1) * ways];
        let mut i = slot;
        while i != head {
            let j = if i == 0 { ways - 1 } else { i - 1 };
            let moved = row[j];
            row[i] = moved;
            hint(&mut self.hints, moved, i);
            i = j;
        }
        row[head] = 0;
        true
    }
}
