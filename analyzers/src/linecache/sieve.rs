//! SIEVE (Zhang et al., NSDI 2024), with libCacheSim's hand.
//!
//! SIEVE's queue, seen from its hand, is two runs: the lines the hand has
//! not yet examined in this pass (from the hand to the head, where new
//! lines go), then the lines it kept because they were visited (from the
//! tail to just behind the hand). They are two circular lists here:
//! `ahead`, starting at the hand, and `kept`, in the order the hand passed
//! them. A new line goes at the end of `ahead`, so a victim at the hand
//! takes the new line where it is and the hand steps forward: no link
//! changes, as in FIFO. Only a visited line relinks, once a pass, from
//! `ahead` to the end of `kept`; when `ahead` runs out, the hand wraps to
//! the tail: `kept` is the next pass.

use super::policy::{Access, Policy};
use super::slab::{ring_push_last, ring_take_out, Slab, NIL};

/// `Node::list` of the lines ahead of the hand, and of the kept ones.
const AHEAD: u8 = 0;
const KEPT: u8 = 1;

pub(crate) struct Sieve {
    cap: usize,
    len: usize,
    slab: Slab,
    /// The hand: the first line ahead of it; `NIL` when none is.
    hand: u32,
    /// The first line kept in this pass (the tail); `NIL` when none was.
    kept: u32,
}

impl Sieve {
    pub(crate) fn new(cap: usize) -> Sieve {
        Sieve { cap, len: 0, slab: Slab::default(), hand: NIL, kept: NIL }
    }

    /// The hand has passed every line: the kept ones are the next pass.
    #[inline]
    fn wrap_if_done(&mut self) {
        if self.hand == NIL {
            self.hand = std::mem::replace(&mut self.kept, NIL);
            let mut i = self.hand;
            while i != NIL {
                self.slab.nodes[i as usize].list = AHEAD;
                i = self.slab.nodes[i as usize].next;
                if i == self.hand {
                    break;
                }
            }
        }
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
        if self.len >= self.cap {
            loop {
                self.wrap_if_done();
                let o = self.hand;
                let nodes = &mut self.slab.nodes;
                if nodes[o as usize].freq == 0 {
                    break;
                }
                nodes[o as usize].freq -= 1;
                ring_take_out(nodes, &mut self.hand, o);
                nodes[o as usize].list = KEPT;
                ring_push_last(nodes, &mut self.kept, o);
            }
            let o = self.hand;
            let next = self.slab.nodes[o as usize].next;
            if next == o {
                // The last line ahead: the new line comes after the kept ones.
                self.hand = NIL;
                self.wrap_if_done();
                ring_push_last(&mut self.slab.nodes, &mut self.hand, o);
            } else {
                // The new line is the last ahead of the hand, where the victim was.
                self.hand = next;
            }
            let victim = self.slab.reuse(o, line);
            return Access { hit: false, resident: true, evicted: Some(victim) };
        }
        self.wrap_if_done();
        let i = self.slab.alloc(line, AHEAD);
        ring_push_last(&mut self.slab.nodes, &mut self.hand, i);
        self.len += 1;
        Access { hit: false, resident: true, evicted: None }
    }

    fn remove(&mut self, line: u64) -> bool {
        let Some(i) = self.slab.find(line) else { return false };
        let nodes = &mut self.slab.nodes;
        if nodes[i as usize].list == KEPT {
            ring_take_out(nodes, &mut self.kept, i);
        } else {
            ring_take_out(nodes, &mut self.hand, i);
        }
        self.len -= 1;
        self.slab.release(i);
        true
    }
}
