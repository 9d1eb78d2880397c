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
//!
//! In a full cache, a run of absent lines is all misses, and while the
//! hand meets unvisited lines in consecutive nodes holding consecutive
//! lines (which came in together, so were given nodes in order), they are
//! taken as one stretch, as CLOCK and FIFO take theirs (`clock_ring.rs`).

use super::policy::{in_stretches, Access, Policy, Run, Seen, Stretches};
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

impl Stretches for Sieve {
    /// The capacity once full: more lines than that are never taken at once.
    #[inline(always)]
    fn stretch_room(&self) -> u64 {
        if self.len >= self.cap {
            self.cap as u64
        } else {
            0
        }
    }

    #[inline(always)]
    fn absent_from(&self, first: u64, last: u64) -> u64 {
        self.slab.map.absent_from(first, last)
    }

    /// Requests of the absent lines `first..first + n` in a full cache:
    /// all misses, taken with no lookup while the hand meets unvisited
    /// lines in nodes `o, o + 1, ...` linked in that order and holding
    /// consecutive lines (lines that came in together leave together):
    /// such a stretch takes the new lines in place, moves their map
    /// entries as a range, and is told to `seen` at once, its victims read
    /// before any of its nodes takes a new line. Stops at a visited line
    /// and at the last line ahead, where one request relinks. How many
    /// were taken.
    #[inline(always)]
    fn misses_in_stretches(&mut self, first: u64, n: u64, seen: &mut impl Seen) -> u64 {
        let mut k = 0;
        while k < n {
            let o = self.hand;
            if o == NIL {
                break;
            }
            let nodes = &mut self.slab.nodes;
            let at = o as usize;
            let head = nodes[at];
            if head.freq != 0 || head.next == o {
                break;
            }
            let victim = head.line;
            let most = ((n - k) as usize).min(nodes.len() - at);
            let mut r = 1;
            while r < most
                && nodes[at + r - 1].next == o + r as u32
                && nodes[at + r].freq == 0
                && nodes[at + r].line == victim + r as u64
            {
                r += 1;
            }
            let line = first + k;
            for (node, l) in nodes[at..at + r].iter_mut().zip(line..) {
                node.line = l;
            }
            self.hand = nodes[at + r - 1].next;
            self.slab.map.relocate_range(victim, line, r, o);
            seen.misses_evicting(line, r as u64, victim);
            k += r as u64;
        }
        k
    }

    #[inline(always)]
    fn one(&mut self, line: u64) -> Access {
        self.access(line)
    }
}

impl Run for Sieve {
    #[inline(always)]
    fn access_all(&mut self, first: u64, last: u64, seen: &mut impl Seen) {
        in_stretches(self, first, last, seen);
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
