//! LRU: one queue, the most recent line at the head, kept as a circular
//! list the way `clock.rs` keeps its hand: the list runs from the tail
//! (the least recent line) through `next` to the node before it (the
//! head). A miss, when full, gives the tail's node to the new line where it
//! is and steps the tail forward: the oldest becomes the newest without a
//! link changing. A hit moves its node to just before the tail, unless it
//! is the head already, or the tail (a step forward again). (FIFO is in
//! `clock.rs`: the same hand, which never moves a node.)

use super::policy::{one_at_a_time, Access, Policy, Run, Seen};
use super::slab::{ring_push_last, ring_take_out, Slab, NIL};

pub(crate) struct Queue {
    cap: usize,
    len: usize,
    slab: Slab,
    /// The least recent line; `NIL` when empty.
    tail: u32,
}

impl Queue {
    pub(crate) fn new(cap: usize) -> Queue {
        Queue { cap, len: 0, slab: Slab::default(), tail: NIL }
    }
}

impl Policy for Queue {
    #[inline(always)]
    fn access(&mut self, line: u64) -> Access {
        if let Some(i) = self.slab.find(line) {
            let nodes = &mut self.slab.nodes;
            let tail = self.tail;
            let head = nodes[tail as usize].prev;
            if i == tail {
                self.tail = nodes[i as usize].next;
            } else if i != head {
                // Off the list, then in between the head and the tail.
                ring_take_out(nodes, &mut self.tail, i);
                ring_push_last(nodes, &mut self.tail, i);
            }
            return Access { hit: true, resident: true, evicted: None };
        }
        if self.cap == 0 {
            return Access::default();
        }
        if self.len >= self.cap {
            let t = self.tail;
            self.tail = self.slab.nodes[t as usize].next;
            let victim = self.slab.reuse(t, line);
            return Access { hit: false, resident: true, evicted: Some(victim) };
        }
        // A new head: just before the tail.
        let i = self.slab.alloc(line, 0);
        ring_push_last(&mut self.slab.nodes, &mut self.tail, i);
        self.len += 1;
        Access { hit: false, resident: true, evicted: None }
    }

    fn remove(&mut self, line: u64) -> bool {
        let Some(i) = self.slab.find(line) else { return false };
        ring_take_out(&mut self.slab.nodes, &mut self.tail, i);
        self.len -= 1;
        self.slab.release(i);
        true
    }
}

impl Run for Queue {
    #[inline(always)]
    fn access_all(&mut self, first: u64, last: u64, seen: &mut impl Seen) {
        one_at_a_time(self, first, last, seen);
    }
}
