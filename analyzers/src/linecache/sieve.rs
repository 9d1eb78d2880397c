//! SIEVE (Zhang et al., NSDI 2024), with libCacheSim's hand.

use super::policy::{Access, Policy};
use super::slab::{List, Slab, NIL};

pub(crate) struct Sieve {
    cap: usize,
    slab: Slab,
    q: List,
    hand: u32,
}

impl Sieve {
    pub(crate) fn new(cap: usize) -> Sieve {
        Sieve { cap, slab: Slab::default(), q: List::EMPTY, hand: NIL }
    }
}

impl Policy for Sieve {
    #[inline(always)]
    fn access(&mut self, line: u64) -> Access {
        if let Some(i) = self.slab.find(line) {
            self.slab.nodes[i as usize].freq = 1;
            return Access { hit: true, resident: true, evicted: None };
        }
        if self.cap == 0 {
            return Access::default();
        }
        if self.q.len >= self.cap {
            let mut o = if self.hand == NIL { self.q.tail } else { self.hand };
            while self.slab.nodes[o as usize].freq > 0 {
                self.slab.nodes[o as usize].freq -= 1;
                let prev = self.slab.nodes[o as usize].prev;
                o = if prev == NIL { self.q.tail } else { prev };
            }
            self.hand = self.slab.nodes[o as usize].prev;
            // The victim's node becomes the new line's, at the head.
            let victim = self.slab.reuse(o, line);
            self.slab.move_to_head(&mut self.q, o);
            return Access { hit: false, resident: true, evicted: Some(victim) };
        }
        let i = self.slab.alloc(line, 0);
        self.slab.push_head(&mut self.q, i);
        Access { hit: false, resident: true, evicted: None }
    }

    fn remove(&mut self, line: u64) -> bool {
        let Some(i) = self.slab.find(line) else { return false };
        if self.hand == i {
            self.hand = self.slab.nodes[i as usize].prev;
        }
        self.slab.discard(&mut self.q, i);
        true
    }
}
