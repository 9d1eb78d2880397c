//! ARC (Megiddo and Modha, 2003), as libCacheSim implements it: p and its
//! adaptation step are real numbers, REPLACE takes from T1 when T2 is
//! empty, and only a full cache evicts.

use super::policy::{Access, Policy};
use super::slab::{List, Slab, NIL};

pub(crate) const T1: u8 = 1;
pub(crate) const T2: u8 = 2;
pub(crate) const B1: u8 = 3;
pub(crate) const B2: u8 = 4;

pub(crate) struct ArcCache {
    c: usize,
    p: f64,
    slab: Slab,
    t1: List,
    t2: List,
    b1: List,
    b2: List,
}

impl ArcCache {
    pub(crate) fn new(c: usize) -> ArcCache {
        ArcCache {
            c,
            p: 0.0,
            slab: Slab::default(),
            t1: List::EMPTY,
            t2: List::EMPTY,
            b1: List::EMPTY,
            b2: List::EMPTY,
        }
    }

    pub(crate) fn list(&mut self, id: u8) -> &mut List {
        match id {
            T1 => &mut self.t1,
            T2 => &mut self.t2,
            B1 => &mut self.b1,
            _ => &mut self.b2,
        }
    }

    pub(crate) fn unlink_from(&mut self, id: u8, i: u32) {
        let mut l = *self.list(id);
        self.slab.unlink(&mut l, i);
        *self.list(id) = l;
    }

    pub(crate) fn push_head_to(&mut self, id: u8, i: u32) {
        let mut l = *self.list(id);
        self.slab.push_head(&mut l, i);
        *self.list(id) = l;
        self.slab.nodes[i as usize].list = id;
    }

    /// REPLACE: moves the LRU line of T1 or T2 to its ghost list; returns it.
    pub(crate) fn replace(&mut self, in_b2: bool) -> Option<u64> {
        let t1 = self.t1.len as f64;
        let from_t1 = (self.t1.len > 0 && (t1 > self.p || (t1 == self.p && in_b2))) || self.t2.len == 0;
        let (from, to) = if from_t1 { (T1, B1) } else { (T2, B2) };
        let o = self.list(from).tail;
        if o == NIL {
            return None;
        }
        self.unlink_from(from, o);
        self.push_head_to(to, o);
        Some(self.slab.nodes[o as usize].line)
    }

    pub(crate) fn discard_from(&mut self, id: u8, i: u32) {
        let mut l = *self.list(id);
        self.slab.discard(&mut l, i);
        *self.list(id) = l;
    }

    pub(crate) fn drop_tail(&mut self, id: u8) -> Option<u64> {
        let o = self.list(id).tail;
        if o == NIL {
            return None;
        }
        let line = self.slab.nodes[o as usize].line;
        self.discard_from(id, o);
        Some(line)
    }

    /// Case IV of the paper: a miss on every list, with a full cache.
    pub(crate) fn evict_on_miss(&mut self) -> Option<u64> {
        if self.t1.len + self.b1.len + 1 > self.c {
            if self.b1.len > 0 {
                self.drop_tail(B1);
                self.replace(false)
            } else {
                self.drop_tail(T1)
            }
        } else {
            if self.t1.len + self.b1.len + self.t2.len + self.b2.len >= 2 * self.c {
                self.drop_tail(B2);
            }
            self.replace(false)
        }
    }
}

impl Policy for ArcCache {
    fn access(&mut self, line: u64) -> Access {
        let mut ghost_hit = None;
        if let Some(i) = self.slab.find(line) {
            match self.slab.nodes[i as usize].list {
                T1 => {
                    self.unlink_from(T1, i);
                    self.push_head_to(T2, i);
                    return Access { hit: true, resident: true, evicted: None };
                }
                T2 => {
                    let mut l = self.t2;
                    self.slab.move_to_head(&mut l, i);
                    self.t2 = l;
                    return Access { hit: true, resident: true, evicted: None };
                }
                ghost => {
                    let (b1, b2) = (self.b1.len as f64, self.b2.len as f64);
                    if ghost == B1 {
                        self.p = (self.p + (b2 / b1).max(1.0)).min(self.c as f64);
                    } else {
                        self.p = (self.p - (b1 / b2).max(1.0)).max(0.0);
                    }
                    self.discard_from(ghost, i);
                    ghost_hit = Some(ghost);
                }
            }
        }
        if self.c == 0 {
            return Access::default();
        }
        let mut evicted = None;
        while self.t1.len + self.t2.len + 1 > self.c {
            let e = match ghost_hit {
                Some(g) => self.replace(g == B2),
                None => self.evict_on_miss(),
            };
            evicted = e.or(evicted);
        }
        let i = self.slab.alloc(line, 0);
        self.push_head_to(if ghost_hit.is_some() { T2 } else { T1 }, i);
        Access { hit: false, resident: true, evicted }
    }

    fn remove(&mut self, line: u64) -> bool {
        let Some(i) = self.slab.find(line) else { return false };
        let id = self.slab.nodes[i as usize].list;
        if id != T1 && id != T2 {
            return false;
        }
        self.discard_from(id, i);
        true
    }
}
