//! Set-associative LRU and FIFO as hardware keeps them: each set's lines in
//! one small array, newest first (LRU: most recently used first), found by
//! a linear scan and reordered by a rotation of at most `ways` entries.
//!
//! Equal, request for request, to [`super::SetAssociative`] over LRU or
//! FIFO queues (the property tests check hits, evictions and removals), and
//! two to three times as fast: no hash map and no linked list per set, no
//! dynamic call per request. Used for up to [`MAX_WAYS`] ways, where a scan
//! beats a lookup.
//!
//! Slots hold `line + 1`, so an empty slot is 0 and the table is allocated
//! zeroed: the operating system maps its pages when a set is first used,
//! so a cache far larger than the lines a trace touches costs what it
//! touches.

use super::policy::{Access, Policy};

/// The most ways for which the arrays are used.
pub const MAX_WAYS: u64 = 32;

/// `sets` sets of `ways` lines, LRU or FIFO.
pub struct SetArrays {
    sets: u64,
    /// `sets - 1` when `sets` is a power of two (as caches are): a mask
    /// instead of a division on every request.
    set_mask: Option<u64>,
    ways: usize,
    slots: Vec<u64>,
    lru: bool,
}

impl SetArrays {
    /// `capacity / ways` sets of `ways` lines (as [`super::SetAssociative::new`]); LRU when `lru`, else FIFO.
    pub fn new(capacity: u64, ways: u64, lru: bool) -> SetArrays {
        let ways = ways.max(1);
        let sets = (capacity / ways).max(1);
        let set_mask = sets.is_power_of_two().then_some(sets - 1);
        SetArrays { sets, set_mask, ways: ways as usize, slots: vec![0; (sets * ways) as usize], lru }
    }

    #[inline(always)]
    fn row(&mut self, line: u64) -> &mut [u64] {
        let set = match self.set_mask {
            Some(mask) => line & mask,
            None => line % self.sets,
        } as usize;
        &mut self.slots[set * self.ways..(set + 1) * self.ways]
    }
}

/// Puts `key` first in a row of `W` slots, moving the others back one, and
/// returns the slot that falls out: a fixed-size move the compiler does in
/// registers (a slice's `rotate_right` calls `memmove`, 15% of an 8-way
/// simulation).
#[inline(always)]
fn push_out<const W: usize>(row: &mut [u64], key: u64) -> u64 {
    let Ok(fixed) = <&mut [u64; W]>::try_from(&mut *row) else { return push_out_any(row, key) };
    let old = *fixed;
    fixed[1..].copy_from_slice(&old[..W - 1]);
    fixed[0] = key;
    old[W - 1]
}

/// [`push_out`] for a row of any length.
#[inline(always)]
fn push_out_any(row: &mut [u64], key: u64) -> u64 {
    let victim = row[row.len() - 1];
    row.rotate_right(1);
    row[0] = key;
    victim
}

impl Policy for SetArrays {
    #[inline]
    fn access(&mut self, line: u64) -> Access {
        let lru = self.lru;
        let row = self.row(line);
        let key = line + 1;
        if let Some(i) = row.iter().position(|&s| s == key) {
            if lru && i > 0 {
                row[..=i].rotate_right(1);
            }
            return Access { hit: true, resident: true, evicted: None };
        }
        // The oldest slot (or an empty one) goes; everything moves back one.
        let victim = match row.len() {
            8 => push_out::<8>(row, key),
            16 => push_out::<16>(row, key),
            _ => push_out_any(row, key),
        };
        Access { hit: false, resident: true, evicted: victim.checked_sub(1) }
    }

    fn remove(&mut self, line: u64) -> bool {
        let row = self.row(line);
        match row.iter().position(|&s| s == line + 1) {
            Some(i) => {
                row[i..].rotate_left(1);
                let last = row.len() - 1;
                row[last] = 0;
                true
            }
            None => false,
        }
    }
}
