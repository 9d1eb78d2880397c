//! `RankSet`: the live values of `space_dmd`, ordered by rank, answering
//! "how many live values rank at or above this one" in O(log n).
//!
//! A treap (a binary search tree balanced by random priorities) with
//! subtree sizes, in an arena with a free list, so memory follows the live
//! values, not the values of the trace.

use std::cmp::Ordering;

/// What ranks a value: higher density `reads / span` first, then more
/// reads, then earlier birth, then earlier first event (`id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rank {
    /// Reads of the value.
    pub reads: u64,
    /// `last use - birth + 1`.
    pub span: u64,
    /// Time of the value's birth.
    pub birth: u64,
    /// The value's number, in order of first event.
    pub id: u64,
}

impl Ord for Rank {
    /// `Less` ranks higher (nearer the top).
    #[inline]
    fn cmp(&self, o: &Rank) -> Ordering {
        let mine = self.reads as u128 * o.span as u128;
        let theirs = o.reads as u128 * self.span as u128;
        theirs.cmp(&mine).then(o.reads.cmp(&self.reads)).then(self.birth.cmp(&o.birth)).then(self.id.cmp(&o.id))
    }
}

impl PartialOrd for Rank {
    fn partial_cmp(&self, o: &Rank) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

const NIL: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Node {
    key: Rank,
    priority: u32,
    left: u32,
    right: u32,
    size: u32,
}

/// An ordered set of [`Rank`]s with positions.
pub struct RankSet {
    nodes: Vec<Node>,
    free: Vec<u32>,
    root: u32,
    seed: u64,
}

impl Default for RankSet {
    fn default() -> Self {
        RankSet::new()
    }
}

impl RankSet {
    /// An empty set.
    pub fn new() -> RankSet {
        RankSet { nodes: Vec::new(), free: Vec::new(), root: NIL, seed: 0x9e37_79b9_7f4a_7c15 }
    }

    /// Values in the set.
    pub fn len(&self) -> usize {
        self.size(self.root) as usize
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.root == NIL
    }

    #[inline]
    fn size(&self, n: u32) -> u32 {
        if n == NIL {
            0
        } else {
            self.nodes[n as usize].size
        }
    }

    #[inline]
    fn update(&mut self, n: u32) {
        let (l, r) = (self.nodes[n as usize].left, self.nodes[n as usize].right);
        self.nodes[n as usize].size = 1 + self.size(l) + self.size(r);
    }

    /// The 1-based position of `key` among the values of the set and
    /// `key` itself: 1 + the number of values ranked above it.
    #[inline]
    pub fn position(&self, key: &Rank) -> u64 {
        let mut above = 0u64;
        let mut n = self.root;
        while n != NIL {
            let node = &self.nodes[n as usize];
            match key.cmp(&node.key) {
                Ordering::Less => n = node.left,
                Ordering::Equal => {
                    above += self.size(node.left) as u64;
                    break;
                }
                Ordering::Greater => {
                    above += self.size(node.left) as u64 + 1;
                    n = node.right;
                }
            }
        }
        above + 1
    }

    /// Adds `key` (which must not be in the set).
    pub fn insert(&mut self, key: Rank) {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let node = Node { key, priority: (self.seed >> 32) as u32, left: NIL, right: NIL, size: 1 };
        let id = match self.free.pop() {
            Some(id) => {
                self.nodes[id as usize] = node;
                id
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        let (l, r) = self.split(self.root, &key);
        let left = self.merge(l, id);
        self.root = self.merge(left, r);
    }

    /// Removes `key`; nothing if it is not in the set.
    pub fn remove(&mut self, key: &Rank) {
        self.root = self.remove_from(self.root, key);
    }

    fn remove_from(&mut self, n: u32, key: &Rank) -> u32 {
        if n == NIL {
            return NIL;
        }
        let node = self.nodes[n as usize];
        match key.cmp(&node.key) {
            Ordering::Equal => {
                self.free.push(n);
                return self.merge(node.left, node.right);
            }
            Ordering::Less => {
                let l = self.remove_from(node.left, key);
                self.nodes[n as usize].left = l;
            }
            Ordering::Greater => {
                let r = self.remove_from(node.right, key);
                self.nodes[n as usize].right = r;
            }
        }
        self.update(n);
        n
    }

    /// Splits the tree at `n` into the keys before `key` and the rest.
    fn split(&mut self, n: u32, key: &Rank) -> (u32, u32) {
        if n == NIL {
            return (NIL, NIL);
        }
        if self.nodes[n as usize].key < *key {
            let (l, r) = self.split(self.nodes[n as usize].right, key);
            self.nodes[n as usize].right = l;
            self.update(n);
            (n, r)
        } else {
            let (l, r) = self.split(self.nodes[n as usize].left, key);
            self.nodes[n as usize].left = r;
            self.update(n);
            (l, n)
        }
    }

    /// Joins two trees whose keys are all in order (`a` before `b`).
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.nodes[a as usize].priority > self.nodes[b as usize].priority {
            let r = self.merge(self.nodes[a as usize].right, b);
            self.nodes[a as usize].right = r;
            self.update(a);
            a
        } else {
            let l = self.merge(a, self.nodes[b as usize].left);
            self.nodes[b as usize].left = l;
            self.update(b);
            b
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_order_by_density_then_reads_then_birth_then_id() {
        let r = |reads, span, birth, id| Rank { reads, span, birth, id };
        assert!(r(2, 2, 9, 9) < r(1, 2, 0, 0), "density first");
        assert!(r(2, 2, 9, 9) < r(1, 1, 0, 0), "equal density: more reads first");
        assert!(r(1, 1, 3, 9) < r(1, 1, 4, 0), "then earlier birth");
        assert!(r(1, 1, 3, 1) < r(1, 1, 3, 2), "then earlier first event");
    }

    #[test]
    fn positions_match_a_sorted_list() {
        let mut set = RankSet::new();
        let mut list: Vec<Rank> = Vec::new();
        let mut x = 0x853c_49e6_748f_ea9bu64;
        for id in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = Rank { reads: 1 + x % 5, span: 1 + (x >> 8) % 9, birth: (x >> 16) % 50, id };
            if x % 3 == 0 && !list.is_empty() {
                let gone = list.remove((x >> 20) as usize % list.len());
                set.remove(&gone);
            } else {
                set.insert(key);
                list.push(key);
                list.sort();
            }
            assert_eq!(set.len(), list.len());
            if let Some(probe) = list.get((x >> 24) as usize % list.len().max(1)) {
                let want = list.iter().filter(|k| *k < probe).count() as u64 + 1;
                assert_eq!(set.position(probe), want);
            }
        }
    }
}
