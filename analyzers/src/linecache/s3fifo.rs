//! S3-FIFO (libCacheSim's S3FIFO-0.1000-2 of 2024-10): small FIFO, main
//! 2-bit clock, ghost. Every miss that is not a ghost hit goes to the small
//! FIFO (later versions send it to main while the small FIFO is full and
//! nothing was evicted yet; the reference's counts are the earlier rule's).

use super::policy::{Access, Policy};
use super::slab::{List, Node, Slab};

pub(crate) const SMALL: u8 = 1;
pub(crate) const MAIN: u8 = 2;
pub(crate) const GHOST: u8 = 3;

pub(crate) struct S3Fifo {
    c: usize,
    small_cap: usize,
    main_cap: usize,
    ghost_cap: usize,
    slab: Slab,
    small: List,
    main: List,
    ghost: List,
}

impl S3Fifo {
    pub(crate) fn new(c: usize) -> S3Fifo {
        let small_cap = (c as f64 * 0.10) as usize;
        S3Fifo {
            c,
            small_cap,
            main_cap: c - small_cap,
            ghost_cap: (c as f64 * 0.90) as usize,
            slab: Slab::default(),
            small: List::EMPTY,
            main: List::EMPTY,
            ghost: List::EMPTY,
        }
    }

    pub(crate) fn list(&mut self, id: u8) -> &mut List {
        match id {
            SMALL => &mut self.small,
            MAIN => &mut self.main,
            _ => &mut self.ghost,
        }
    }

    pub(crate) fn insert_head(&mut self, id: u8, line: u64) -> u32 {
        let i = self.slab.alloc(line, id);
        let mut l = *self.list(id);
        self.slab.push_head(&mut l, i);
        *self.list(id) = l;
        i
    }

    pub(crate) fn remove(&mut self, id: u8, i: u32) {
        let mut l = *self.list(id);
        self.slab.discard(&mut l, i);
        *self.list(id) = l;
    }

    pub(crate) fn ghost_add(&mut self, line: u64) {
        if self.ghost_cap == 0 || self.slab.find(line).is_some() {
            return;
        }
        while self.ghost.len >= self.ghost_cap {
            let t = self.ghost.tail;
            self.remove(GHOST, t);
        }
        self.insert_head(GHOST, line);
    }

    pub(crate) fn evict_small(&mut self) -> Option<u64> {
        while self.small.len > 0 {
            let t = self.small.tail;
            let Node { line, freq, .. } = self.slab.nodes[t as usize];
            self.remove(SMALL, t);
            if freq >= 2 {
                self.insert_head(MAIN, line);
            } else {
                self.ghost_add(line);
                return Some(line);
            }
        }
        None
    }

    pub(crate) fn evict_main(&mut self) -> Option<u64> {
        while self.main.len > 0 {
            let t = self.main.tail;
            let Node { line, freq, .. } = self.slab.nodes[t as usize];
            self.remove(MAIN, t);
            if freq >= 1 {
                let i = self.insert_head(MAIN, line);
                self.slab.nodes[i as usize].freq = freq.min(3) - 1;
            } else {
                return Some(line);
            }
        }
        None
    }
}

impl Policy for S3Fifo {
    fn access(&mut self, line: u64) -> Access {
        let mut hit_on_ghost = false;
        if let Some(i) = self.slab.find(line) {
            match self.slab.nodes[i as usize].list {
                SMALL | MAIN => {
                    self.slab.nodes[i as usize].freq += 1;
                    return Access { hit: true, resident: true, evicted: None };
                }
                _ => {
                    self.remove(GHOST, i);
                    hit_on_ghost = true;
                }
            }
        }
        // can_insert: the line must fit the small FIFO and the cache.
        if self.small_cap < 1 || self.c < 1 {
            return Access::default();
        }
        let mut evicted = None;
        while self.small.len + self.main.len + 1 > self.c {
            let e = if self.main.len > self.main_cap || self.small.len == 0 {
                self.evict_main()
            } else {
                self.evict_small()
            };
            evicted = e.or(evicted);
        }
        let target = if hit_on_ghost {
            MAIN
        } else if 1 >= self.small_cap {
            // A line as large as the small FIFO is not admitted.
            return Access { hit: false, resident: false, evicted };
        } else {
            SMALL
        };
        self.insert_head(target, line);
        Access { hit: false, resident: true, evicted }
    }

    fn remove(&mut self, line: u64) -> bool {
        let Some(i) = self.slab.find(line) else { return false };
        let id = self.slab.nodes[i as usize].list;
        if id == GHOST {
            return false;
        }
        S3Fifo::remove(self, id, i);
        true
    }
}
