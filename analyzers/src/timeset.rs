//! `TimeSet`: the set of request times still held by something (a line's
//! or an element's latest request), which every LRU stack here is: the
//! depth of an entry is the number of held times at or after its own.
//!
//! Held times are bits of a bitset, with a Fenwick tree over the bitset's
//! 64-bit words: a count of held times below `t` is one prefix query over
//! `t / 64` words plus a popcount, and setting or clearing a block of `m`
//! consecutive times costs `m / 64` word updates. A tree over words is 64
//! times smaller than one over times, so on streams of millions of distinct
//! lines it stays in the processor's caches. Used by `mrc`/`hist --stack`
//! ([`crate::mrc::StackDistances`]) and `dmd` ([`crate::dmd::stack`]).

/// Counts of 64-bit words, prefix sums in O(log n).
struct Fenwick {
    tree: Vec<u32>,
}

impl Fenwick {
    /// A tree over `counts`, built in O(n).
    fn from_counts(counts: impl Iterator<Item = u32>, n: usize) -> Fenwick {
        let mut tree = vec![0u32; n + 1];
        for (i, c) in counts.enumerate().take(n) {
            tree[i + 1] = c;
        }
        for i in 1..=n {
            let parent = i + (i & i.wrapping_neg());
            if parent <= n {
                tree[parent] = tree[parent].wrapping_add(tree[i]);
            }
        }
        Fenwick { tree }
    }

    #[inline]
    fn add(&mut self, i: usize, v: i32) {
        let mut i = i + 1;
        while i < self.tree.len() {
            self.tree[i] = self.tree[i].wrapping_add(v as u32);
            i += i & i.wrapping_neg();
        }
    }

    /// Sum of words `[0, i)`.
    #[inline]
    fn prefix(&self, mut i: usize) -> u32 {
        let mut s = 0u32;
        while i > 0 {
            s = s.wrapping_add(self.tree[i]);
            i &= i - 1;
        }
        s
    }
}

/// A set of times `0..capacity`.
pub struct TimeSet {
    bits: Vec<u64>,
    tree: Fenwick,
}

impl TimeSet {
    /// Times `0..capacity` (rounded up to a multiple of 64), the first `held` of them held.
    pub fn with_first(capacity: usize, held: usize) -> TimeSet {
        let words = capacity.div_ceil(64).max(1);
        let held = held.min(words * 64);
        let mut bits = vec![0u64; words];
        bits[..held / 64].fill(u64::MAX);
        if !held.is_multiple_of(64) {
            bits[held / 64] = (1u64 << (held % 64)) - 1;
        }
        let tree = Fenwick::from_counts(bits.iter().map(|w| w.count_ones()), words);
        TimeSet { bits, tree }
    }

    /// Times it can hold.
    pub fn capacity(&self) -> usize {
        self.bits.len() * 64
    }

    /// Whether time `t` is held.
    #[inline]
    pub fn contains(&self, t: usize) -> bool {
        self.bits[t / 64] >> (t % 64) & 1 == 1
    }

    /// Held times before `t` (`t` at most the capacity).
    #[inline]
    pub fn before(&self, t: usize) -> usize {
        let w = t / 64;
        let partial = match self.bits.get(w) {
            Some(word) => (word & ((1u64 << (t % 64)) - 1)).count_ones(),
            None => 0,
        };
        self.tree.prefix(w.min(self.bits.len())) as usize + partial as usize
    }

    /// Holds times `[start, end)`.
    #[inline]
    pub fn insert(&mut self, start: usize, end: usize) {
        self.change(start, end, true);
    }

    /// Releases times `[start, end)`.
    #[inline]
    pub fn remove(&mut self, start: usize, end: usize) {
        self.change(start, end, false);
    }

    /// Sets or clears bits `[start, end)`, one Fenwick update per word.
    #[inline]
    fn change(&mut self, start: usize, end: usize, set: bool) {
        let mut t = start;
        while t < end {
            let w = t / 64;
            let lo = t % 64;
            let hi = (end - w * 64).min(64);
            let mask = if hi - lo == 64 { u64::MAX } else { ((1u64 << (hi - lo)) - 1) << lo };
            let word = &mut self.bits[w];
            let before = word.count_ones() as i32;
            if set {
                *word |= mask;
            } else {
                *word &= !mask;
            }
            let delta = word.count_ones() as i32 - before;
            if delta != 0 {
                self.tree.add(w, delta);
            }
            t = w * 64 + hi;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_a_vector_of_flags() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for (capacity, first) in [(1, 0), (64, 64), (100, 37), (1000, 130), (4096, 0)] {
            let mut set = TimeSet::with_first(capacity, first);
            let mut model: Vec<bool> = (0..set.capacity()).map(|t| t < first).collect();
            for _ in 0..2000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let a = (x % model.len() as u64) as usize;
                let b = (a + (x >> 32) as usize % 150).min(model.len());
                if x.is_multiple_of(2) {
                    set.insert(a, b);
                } else {
                    set.remove(a, b);
                }
                model[a..b].fill(x.is_multiple_of(2));
                let t = ((x >> 16) % (model.len() as u64 + 1)) as usize;
                assert_eq!(set.before(t), model[..t].iter().filter(|&&h| h).count(), "{capacity}: before {t}");
                let t = t.min(model.len() - 1);
                assert_eq!(set.contains(t), model[t]);
            }
        }
    }
}
