//! Random eviction (a fixed-seed xorshift, so runs repeat).

use super::policy::{Access, Policy};
use crate::linemap::LineMap;

pub(crate) struct RandomEvict {
    cap: usize,
    lines: Vec<u64>,
    pos: LineMap,
    state: u64,
}

impl RandomEvict {
    pub(crate) fn new(cap: usize, seed: u64) -> RandomEvict {
        RandomEvict { cap, lines: Vec::new(), pos: LineMap::new(), state: seed | 1 }
    }
}

impl Policy for RandomEvict {
    fn access(&mut self, line: u64) -> Access {
        if self.pos.get(line).is_some() {
            return Access { hit: true, resident: true, evicted: None };
        }
        if self.cap == 0 {
            return Access::default();
        }
        let mut evicted = None;
        if self.lines.len() >= self.cap {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            let k = (self.state % self.lines.len() as u64) as usize;
            let victim = self.lines.swap_remove(k);
            self.pos.remove(victim);
            if k < self.lines.len() {
                self.pos.insert(self.lines[k], k as u32);
            }
            evicted = Some(victim);
        }
        self.pos.insert(line, self.lines.len() as u32);
        self.lines.push(line);
        Access { hit: false, resident: true, evicted }
    }

    fn remove(&mut self, line: u64) -> bool {
        let Some(k) = self.pos.remove(line) else { return false };
        let k = k as usize;
        self.lines.swap_remove(k);
        if k < self.lines.len() {
            self.pos.insert(self.lines[k], k as u32);
        }
        true
    }
}
