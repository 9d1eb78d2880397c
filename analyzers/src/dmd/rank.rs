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

/// Values `id, id+1, ...` with the same reads and span, born `stride`
/// (0 or 1) apart: consecutive in rank order, since nothing can rank
/// between two of them (a value between would need their density, their
/// reads, a birth between theirs and an id between theirs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RankRun {
    /// Reads of each value.
    pub reads: u64,
    /// `last use - birth + 1` of each value.
    pub span: u64,
    /// Birth of the first value.
    pub birth: u64,
    /// Births advance by this from one value to the next (0 or 1).
    pub stride: u64,
    /// Number of the first value.
    pub id: u64,
    /// Values in the run (at least 1).
    pub count: u64,
}

impl RankRun {
    /// The rank of value `j` of the run.
    #[inline]
    pub fn rank(&self, j: u64) -> Rank {
        Rank { reads: self.reads, span: self.span, birth: self.birth + self.stride * j, id: self.id + j }
    }

    /// Where `key` falls against the run: `Less` before its first value,
    /// `Greater` after its last, `Equal` inside.
    #[inline]
    fn locate(&self, key: &Rank) -> Ordering {
        match key.cmp(&self.rank(0)) {
            Ordering::Less => Ordering::Less,
            Ordering::Equal => Ordering::Equal,
            Ordering::Greater
                if key.id < self.id + self.count && key.cmp(&self.rank(self.count - 1)) != Ordering::Greater =>
            {
                Ordering::Equal
            }
            Ordering::Greater => Ordering::Greater,
        }
    }
}

const NIL: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Node {
    run: RankRun,
    priority: u32,
    left: u32,
    right: u32,
    /// Values in the subtree.
    size: u64,
}

/// An ordered set of [`Rank`]s with positions, held as runs.
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
    fn size(&self, n: u32) -> u64 {
        if n == NIL {
            0
        } else {
            self.nodes[n as usize].size
        }
    }

    #[inline]
    fn update(&mut self, n: u32) {
        let node = self.nodes[n as usize];
        self.nodes[n as usize].size = node.run.count + self.size(node.left) + self.size(node.right);
    }

    /// The 1-based position of `key` (a value of the set): 1 + the number
    /// of values ranked above it.
    #[inline]
    pub fn position(&self, key: &Rank) -> u64 {
        let mut above = 0u64;
        let mut n = self.root;
        while n != NIL {
            let node = &self.nodes[n as usize];
            match node.run.locate(key) {
                Ordering::Less => n = node.left,
                Ordering::Equal => {
                    above += self.size(node.left) + (key.id - node.run.id);
                    break;
                }
                Ordering::Greater => {
                    above += self.size(node.left) + node.run.count;
                    n = node.right;
                }
            }
        }
        above + 1
    }

    /// Adds the values of `run` (none of them in the set; no value of the
    /// set ranks between two of them).
    pub fn insert(&mut self, run: RankRun) {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let node = Node { run, priority: (self.seed >> 32) as u32, left: NIL, right: NIL, size: run.count };
        let id = self.alloc(node);
        let (l, r) = self.split(self.root, &run.rank(0));
        let left = self.merge(l, id);
        self.root = self.merge(left, r);
    }

    fn alloc(&mut self, node: Node) -> u32 {
        crate::linecache::slab::alloc(&mut self.nodes, &mut self.free, node)
    }

    /// Removes the value `key`; nothing if it is not in the set.
    pub fn remove(&mut self, key: &Rank) {
        self.root = self.remove_from(self.root, key);
    }

    fn remove_from(&mut self, n: u32, key: &Rank) -> u32 {
        if n == NIL {
            return NIL;
        }
        let node = self.nodes[n as usize];
        match node.run.locate(key) {
            Ordering::Equal => {
                let j = key.id - node.run.id;
                let run = &mut self.nodes[n as usize].run;
                if run.count == 1 {
                    self.free.push(n);
                    return self.merge(node.left, node.right);
                } else if j == 0 {
                    run.id += 1;
                    run.birth += run.stride;
                    run.count -= 1;
                } else if j == run.count - 1 {
                    run.count -= 1;
                } else {
                    // From the middle: the values after it become a node of their own.
                    let mut rest = *run;
                    rest.id += j + 1;
                    rest.birth += run.stride * (j + 1);
                    rest.count -= j + 1;
                    run.count = j;
                    let right = NIL;
                    let tail =
                        self.alloc(Node { run: rest, priority: node.priority, left: NIL, right, size: rest.count });
                    let r = self.merge(tail, node.right);
                    self.nodes[n as usize].right = r;
                }
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

    /// Removes the values of `run`, which follow one another in the order:
    /// from the front of the node holding them, or one by one.
    pub fn remove_following(&mut self, run: &RankRun) {
        let mut done = false;
        self.root = self.remove_front(self.root, &run.rank(0), run.count, &mut done);
        if !done {
            for j in 0..run.count {
                self.remove(&run.rank(j));
            }
        }
    }

    fn remove_front(&mut self, n: u32, first: &Rank, count: u64, done: &mut bool) -> u32 {
        if n == NIL {
            return NIL;
        }
        let node = self.nodes[n as usize];
        match node.run.locate(first) {
            Ordering::Equal if node.run.id == first.id && count <= node.run.count => {
                *done = true;
                if count == node.run.count {
                    self.free.push(n);
                    return self.merge(node.left, node.right);
                }
                let run = &mut self.nodes[n as usize].run;
                run.id += count;
                run.birth += run.stride * count;
                run.count -= count;
            }
            Ordering::Equal => return n,
            Ordering::Less => {
                let l = self.remove_front(node.left, first, count, done);
                self.nodes[n as usize].left = l;
            }
            Ordering::Greater => {
                let r = self.remove_front(node.right, first, count, done);
                self.nodes[n as usize].right = r;
            }
        }
        self.update(n);
        n
    }

    /// Removes the values of `run`: the node holding exactly them, or one by one.
    pub fn remove_run(&mut self, run: &RankRun) {
        let mut found = false;
        self.root = self.remove_exact(self.root, run, &mut found);
        if !found {
            for j in 0..run.count {
                self.remove(&run.rank(j));
            }
        }
    }

    fn remove_exact(&mut self, n: u32, run: &RankRun, found: &mut bool) -> u32 {
        if n == NIL {
            return NIL;
        }
        let node = self.nodes[n as usize];
        match node.run.locate(&run.rank(0)) {
            Ordering::Equal if node.run == *run => {
                *found = true;
                self.free.push(n);
                return self.merge(node.left, node.right);
            }
            Ordering::Equal => return n,
            Ordering::Less => {
                let l = self.remove_exact(node.left, run, found);
                self.nodes[n as usize].left = l;
            }
            Ordering::Greater => {
                let r = self.remove_exact(node.right, run, found);
                self.nodes[n as usize].right = r;
            }
        }
        self.update(n);
        n
    }

    /// Splits the tree at `n` into the runs before `key` and the rest.
    fn split(&mut self, n: u32, key: &Rank) -> (u32, u32) {
        if n == NIL {
            return (NIL, NIL);
        }
        if self.nodes[n as usize].run.rank(0) < *key {
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
            if x.is_multiple_of(3) && !list.is_empty() {
                let gone = list.remove((x >> 20) as usize % list.len());
                set.remove(&gone);
            } else {
                set.insert(RankRun {
                    reads: key.reads,
                    span: key.span,
                    birth: key.birth,
                    stride: 0,
                    id: key.id,
                    count: 1,
                });
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

    #[test]
    fn runs_hold_their_values_in_order_through_removals_anywhere() {
        let mut set = RankSet::new();
        let mut list: Vec<Rank> = Vec::new();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next_id = 0u64;
        let mut next_birth = 0u64;
        for _ in 0..1500 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x.is_multiple_of(2) && !list.is_empty() {
                let gone = list.remove((x >> 20) as usize % list.len());
                set.remove(&gone);
            } else {
                let stride = (x >> 5) & 1;
                let count = 1 + (x >> 8) % 20;
                let run = RankRun {
                    reads: 1 + (x >> 12) % 3,
                    span: 1 + (x >> 16) % 4,
                    birth: next_birth,
                    stride,
                    id: next_id,
                    count,
                };
                next_id += count;
                next_birth += 1 + stride * count;
                set.insert(run);
                list.extend((0..count).map(|j| run.rank(j)));
                list.sort();
            }
            assert_eq!(set.len(), list.len());
            // The list is sorted: a value's position is its index + 1.
            for i in (0..list.len()).step_by(1 + list.len() / 16) {
                assert_eq!(set.position(&list[i]), i as u64 + 1);
            }
        }
    }
}
