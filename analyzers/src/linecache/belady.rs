//! Belady's MIN as libCacheSim runs it: a miss always inserts, evicting
//! the resident line used farthest in the future (never again counts
//! farthest).

use std::collections::BinaryHeap;

use super::policy::{Access, Policy};
use crate::linemap::LineHashMap;

/// Belady's MIN over a known request stream.
pub struct Belady {
    cap: usize,
    /// For request k, the index of the next request of the same line.
    next_use: Vec<u64>,
    k: usize,
    resident: LineHashMap<u64>,
    heap: BinaryHeap<(u64, u64)>,
}

impl Belady {
    /// Builds the oracle from the whole request stream.
    pub fn new(cap: u64, requests: &[u64]) -> Belady {
        let mut next_use = vec![u64::MAX; requests.len()];
        let mut last: LineHashMap<u64> = LineHashMap::default();
        for (k, &line) in requests.iter().enumerate().rev() {
            if let Some(&n) = last.get(&line) {
                next_use[k] = n;
            }
            last.insert(line, k as u64);
        }
        Belady { cap: cap as usize, next_use, k: 0, resident: LineHashMap::default(), heap: BinaryHeap::new() }
    }
}

impl Policy for Belady {
    fn access(&mut self, line: u64) -> Access {
        let next = self.next_use.get(self.k).copied().unwrap_or(u64::MAX);
        self.k += 1;
        if let Some(n) = self.resident.get_mut(&line) {
            *n = next;
            self.heap.push((next, line));
            return Access { hit: true, resident: true, evicted: None };
        }
        if self.cap == 0 {
            return Access::default();
        }
        let mut evicted = None;
        if self.resident.len() >= self.cap {
            while let Some((n, victim)) = self.heap.pop() {
                if self.resident.get(&victim) == Some(&n) {
                    self.resident.remove(&victim);
                    evicted = Some(victim);
                    break;
                }
            }
        }
        self.resident.insert(line, next);
        self.heap.push((next, line));
        Access { hit: false, resident: true, evicted }
    }

    fn remove(&mut self, line: u64) -> bool {
        // The heap's entry for it goes stale: eviction skips entries that do not match `resident`.
        self.resident.remove(&line).is_some()
    }
}
