//! LRU: one queue, the most recent line at the head. (FIFO is in
//! `clock.rs`: a hand over the same list, which never moves a node.)

use super::policy::{Access, Policy};
use super::slab::{List, Slab};

pub(crate) struct Queue {
    cap: usize,
    slab: Slab,
    q: List,
}

impl Queue {
    pub(crate) fn new(cap: usize) -> Queue {
        Queue { cap, slab: Slab::default(), q: List::EMPTY }
    }
}

impl Policy for Queue {
    #[inline(always)]
    fn access(&mut self, line: u64) -> Access {
        if let Some(i) = self.slab.find(line) {
            self.slab.move_to_head(&mut self.q, i);
            return Access { hit: true, resident: true, evicted: None };
        }
        if self.cap == 0 {
            return Access::default();
        }
        if self.q.len >= self.cap {
            let t = self.q.tail;
            let victim = self.slab.reuse(t, line);
            self.slab.move_to_head(&mut self.q, t);
            return Access { hit: false, resident: true, evicted: Some(victim) };
        }
        let i = self.slab.alloc(line, 0);
        self.slab.push_head(&mut self.q, i);
        Access { hit: false, resident: true, evicted: None }
    }

    fn remove(&mut self, line: u64) -> bool {
        let Some(i) = self.slab.find(line) else { return false };
        self.slab.discard(&mut self.q, i);
        true
    }
}
