//! `DepthStack`: an LRU stack of element slots that answers "how deep is
//! this slot" in O(log n), and lets slots leave (liveness).
//!
//! Each slot on the stack holds the time it was last moved to the top; a
//! Fenwick tree counts the occupied times, so a slot's depth is the number
//! of occupied times at or after its own. Times run out at `capacity`;
//! then they are renumbered 0..len in order (a linear sweep of `owner`), so
//! memory follows the slots on the stack, never the length of the trace.

const NONE: u32 = u32::MAX;

/// Counts over positions `0..n`, prefix sums in O(log n).
struct Fenwick {
    tree: Vec<u32>,
}

impl Fenwick {
    fn new(n: usize) -> Fenwick {
        Fenwick { tree: vec![0; n + 1] }
    }

    /// A tree over `0..n` with a one at each of `0..marked`, built in O(n).
    fn from_marks(n: usize, marked: usize) -> Fenwick {
        let mut tree = vec![0u32; n + 1];
        tree[1..=marked].fill(1);
        for i in 1..=n {
            let parent = i + (i & i.wrapping_neg());
            if parent <= n {
                tree[parent] += tree[i];
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

    /// Number of marks at positions `[0, i)`.
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

/// An LRU stack over slots `0..` (dense element numbers).
pub struct DepthStack {
    tree: Fenwick,
    /// Time -> slot occupying it, or `NONE`.
    owner: Vec<u32>,
    /// Slot -> its time, or `NONE` when it is not on the stack.
    time: Vec<u32>,
    now: usize,
    len: usize,
}

impl Default for DepthStack {
    fn default() -> Self {
        DepthStack::new()
    }
}

impl DepthStack {
    /// An empty stack.
    pub fn new() -> DepthStack {
        let capacity = 1024;
        DepthStack { tree: Fenwick::new(capacity), owner: vec![NONE; capacity], time: Vec::new(), now: 0, len: 0 }
    }

    /// Slots on the stack.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no slot is on the stack.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The depth of `slot` (1 = top), or `None` when it is not on the stack.
    #[inline]
    pub fn depth(&self, slot: u32) -> Option<u64> {
        let t = *self.time.get(slot as usize)?;
        if t == NONE {
            return None;
        }
        Some((self.len as u32 - self.tree.prefix(t as usize)) as u64)
    }

    /// Moves `slot` to the top, pushing it if it is not on the stack.
    #[inline]
    pub fn to_top(&mut self, slot: u32) {
        if self.now == self.owner.len() {
            self.compact();
        }
        let s = slot as usize;
        if s >= self.time.len() {
            self.time.resize((s + 1).max(self.time.len() * 2), NONE);
        }
        let old = self.time[s];
        if old != NONE {
            self.tree.add(old as usize, -1);
            self.owner[old as usize] = NONE;
        } else {
            self.len += 1;
        }
        let t = self.now;
        self.now += 1;
        self.tree.add(t, 1);
        self.owner[t] = slot;
        self.time[s] = t as u32;
    }

    /// Takes `slot` off the stack (nothing if it is not on it).
    #[inline]
    pub fn remove(&mut self, slot: u32) {
        let Some(t) = self.time.get_mut(slot as usize) else { return };
        if *t == NONE {
            return;
        }
        let old = std::mem::replace(t, NONE) as usize;
        self.tree.add(old, -1);
        self.owner[old] = NONE;
        self.len -= 1;
    }

    /// Renumbers the occupied times `0..len`, in order, with room to double.
    #[cold]
    fn compact(&mut self) {
        // Times are u32 (NONE excluded): room for 2^31 slots on the stack.
        let capacity = (self.len * 2).clamp(1024, (u32::MAX - 1) as usize);
        let mut owner = vec![NONE; capacity];
        let mut next = 0;
        for &slot in self.owner[..self.now].iter().filter(|&&s| s != NONE) {
            owner[next] = slot;
            self.time[slot as usize] = next as u32;
            next += 1;
        }
        self.owner = owner;
        self.now = next;
        self.tree = Fenwick::from_marks(capacity, next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depths_match_a_list_through_compactions() {
        let mut fast = DepthStack::new();
        // The model: index 0 is the top.
        let mut list: Vec<u32> = Vec::new();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..60_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let slot = (x % 1500) as u32;
            let want = list.iter().position(|&s| s == slot).map(|i| i as u64 + 1);
            assert_eq!(fast.depth(slot), want);
            if x % 7 == 0 {
                fast.remove(slot);
                list.retain(|&s| s != slot);
            } else {
                fast.to_top(slot);
                list.retain(|&s| s != slot);
                list.insert(0, slot);
            }
            assert_eq!(fast.len(), list.len());
        }
    }
}
