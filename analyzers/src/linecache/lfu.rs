//! LFU: frequency buckets, FIFO within a bucket; a new line starts at 1.
//! Only non-empty buckets exist (a map from frequency), so memory follows
//! the resident lines, not the highest count a hot line reaches.

use super::policy::{Access, Policy};
use super::slab::{List, Slab, NIL};
use crate::linemap::LineHashMap;

pub(crate) struct Lfu {
    cap: usize,
    slab: Slab,
    buckets: LineHashMap<List>,
    min_freq: u64,
    len: usize,
}

impl Lfu {
    pub(crate) fn new(cap: usize) -> Lfu {
        Lfu { cap, slab: Slab::default(), buckets: LineHashMap::default(), min_freq: 1, len: 0 }
    }

    /// Takes node `i` out of bucket `f`, dropping the bucket when it empties; true if it did.
    pub(crate) fn take(&mut self, f: u64, i: u32) -> bool {
        let Some(b) = self.buckets.get_mut(&f) else { return false };
        let mut l = *b;
        self.slab.unlink(&mut l, i);
        if l.len == 0 {
            self.buckets.remove(&f);
            true
        } else {
            *b = l;
            false
        }
    }

    pub(crate) fn put(&mut self, f: u64, i: u32) {
        let b = self.buckets.entry(f).or_insert(List::EMPTY);
        let mut l = *b;
        self.slab.push_tail(&mut l, i);
        *b = l;
        self.slab.nodes[i as usize].freq = f as u32;
    }
}

impl Policy for Lfu {
    fn access(&mut self, line: u64) -> Access {
        if let Some(i) = self.slab.find(line) {
            let f = self.slab.nodes[i as usize].freq as u64;
            // Counts saturate at u32::MAX (the node's field): such lines share one bucket.
            let next = (f + 1).min(u32::MAX as u64);
            if self.take(f, i) && self.min_freq == f {
                self.min_freq = next;
            }
            self.put(next, i);
            return Access { hit: true, resident: true, evicted: None };
        }
        if self.cap == 0 {
            return Access::default();
        }
        let mut evicted = None;
        if self.len >= self.cap {
            let f = self.min_freq;
            let o = self.buckets.get(&f).map_or(NIL, |b| b.head);
            if o != NIL {
                self.take(f, o);
                evicted = Some(self.slab.nodes[o as usize].line);
                self.slab.release(o);
                self.len -= 1;
            }
        }
        // The new line counts 1, the least there is.
        self.min_freq = 1;
        let i = self.slab.alloc(line, 0);
        self.put(1, i);
        self.len += 1;
        Access { hit: false, resident: true, evicted }
    }

    fn remove(&mut self, line: u64) -> bool {
        let Some(i) = self.slab.find(line) else { return false };
        let f = self.slab.nodes[i as usize].freq as u64;
        if self.take(f, i) && self.min_freq == f {
            self.min_freq = self.buckets.keys().copied().min().unwrap_or(1);
        }
        self.slab.release(i);
        self.len -= 1;
        true
    }
}
