//! Belady's MIN as libCacheSim runs it: a miss always inserts, evicting
//! the resident line used farthest in the future (never again counts
//! farthest).

use std::collections::BinaryHeap;

use super::future::{Future, NextUses};
use super::policy::{Access, Policy};
use crate::linemap::LineValues;

/// Belady's MIN over a known request stream.
pub struct Belady {
    cap: usize,
    /// For each request in turn, the index of the next request of the same line.
    next_use: NextUses,
    resident: LineValues,
    /// (next use, line) as one number (next use in the high half: one
    /// comparison orders both), stale entries included: a hit pushes a fresh entry
    /// and leaves the old one, skipped when it surfaces. Compacted when stale
    /// entries outnumber live ones, so it follows the capacity, not the
    /// number of hits.
    heap: BinaryHeap<u128>,
}

impl Belady {
    /// Builds the oracle from the whole request stream, in memory.
    pub fn new(cap: u64, requests: &[u64]) -> Belady {
        Belady::with_future(cap, Future::from_requests(requests).next_uses())
    }

    /// The oracle reading the future from `next_use` (in memory or spooled).
    pub fn with_future(cap: u64, next_use: NextUses) -> Belady {
        Belady { cap: cap as usize, next_use, resident: LineValues::default(), heap: BinaryHeap::new() }
    }

    fn push(&mut self, next: u64, line: u64) {
        if self.heap.len() >= 2 * self.resident.len() + 64 {
            // Rebuilt in its own allocation, which then needs no growing.
            let mut entries = std::mem::take(&mut self.heap).into_vec();
            entries.clear();
            entries.extend(self.resident.iter().map(|(line, next)| key(next, line)));
            self.heap = BinaryHeap::from(entries);
        }
        self.heap.push(key(next, line));
    }
}

/// A heap entry: ordered by next use, then by line (as the pair `(next, line)` is).
#[inline(always)]
fn key(next: u64, line: u64) -> u128 {
    (next as u128) << 64 | line as u128
}

impl Policy for Belady {
    fn access(&mut self, line: u64) -> Access {
        let next = self.next_use.next_use();
        if let Some(n) = self.resident.get_mut(line) {
            *n = next;
            self.push(next, line);
            return Access { hit: true, resident: true, evicted: None };
        }
        if self.cap == 0 {
            return Access::default();
        }
        let mut evicted = None;
        if self.resident.len() >= self.cap {
            while let Some(k) = self.heap.pop() {
                let (n, victim) = ((k >> 64) as u64, k as u64);
                if self.resident.get(victim) == Some(n) {
                    self.resident.remove(victim);
                    evicted = Some(victim);
                    break;
                }
            }
        }
        self.resident.insert(line, next);
        self.push(next, line);
        Access { hit: false, resident: true, evicted }
    }

    fn remove(&mut self, line: u64) -> bool {
        // The heap's entry for it goes stale: eviction skips entries that do not match `resident`.
        self.resident.remove(line).is_some()
    }
}
