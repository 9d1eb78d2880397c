//! Intrusive doubly linked lists over a node slab: [`List`]s (head is the
//! newest end) for s3fifo, arc and lfu, and (through [`Linked`]) the object
//! cache's LRU list in `cache.rs`; circular lists (`ring_push_last`,
//! `ring_take_out`) for lru, fifo, clock and sieve, whose misses then
//! relink nothing.

use crate::linemap::LineMap;

pub(crate) const NIL: u32 = u32::MAX;

#[derive(Clone, Copy)]
pub(crate) struct Node {
    pub(crate) line: u64,
    /// On a [`List`]: toward the head (newer). On a ring: the node before.
    pub(crate) prev: u32,
    /// On a [`List`]: toward the tail (older). On a ring: the node after.
    pub(crate) next: u32,
    pub(crate) freq: u32,
    /// Which list the node is on (policy-specific).
    pub(crate) list: u8,
}

#[derive(Clone, Copy)]
pub(crate) struct List {
    pub(crate) head: u32,
    pub(crate) tail: u32,
    pub(crate) len: usize,
}

impl List {
    pub(crate) const EMPTY: List = List { head: NIL, tail: NIL, len: 0 };

    /// Puts node `i` (on no list) at the head.
    #[inline]
    pub(crate) fn push_head<N: Linked>(&mut self, nodes: &mut [N], i: u32) {
        let old = self.head;
        nodes[i as usize].set_links(NIL, old);
        match old {
            NIL => self.tail = i,
            o => nodes[o as usize].set_prev(i),
        }
        self.head = i;
        self.len += 1;
    }

    /// Takes node `i` off the list.
    #[inline]
    pub(crate) fn unlink<N: Linked>(&mut self, nodes: &mut [N], i: u32) {
        let (prev, next) = nodes[i as usize].links();
        match prev {
            NIL => self.head = next,
            p => nodes[p as usize].set_next(next),
        }
        match next {
            NIL => self.tail = prev,
            n => nodes[n as usize].set_prev(prev),
        }
        self.len -= 1;
    }

    /// Moves node `i` (on the list) to the head. A node that is not the
    /// head has a node before it, and the list a head, so this is `unlink`
    /// and `push_head` without their checks, and without touching the
    /// length (written twice, it was a store chain from hit to hit).
    #[inline]
    pub(crate) fn move_to_head<N: Linked>(&mut self, nodes: &mut [N], i: u32) {
        let head = self.head;
        if head == i {
            return;
        }
        let (prev, next) = nodes[i as usize].links();
        nodes[prev as usize].set_next(next);
        match next {
            NIL => self.tail = prev,
            n => nodes[n as usize].set_prev(prev),
        }
        nodes[i as usize].set_links(NIL, head);
        nodes[head as usize].set_prev(i);
        self.head = i;
    }
}

/// A node of an intrusive list: its neighbours toward the head and the tail.
///
/// The object cache's LRU list uses [`List`]'s operations through this
/// trait. The slab below keeps its own copy of `push_head`, `push_tail`
/// and `unlink` for the line policies: routing them through the generic
/// ones cost s3fifo 6% and arc 2% more instructions (callgrind), in their
/// hottest loop. `move_to_head` is shared: the generic one measured the
/// same for arc (and for lru and sieve, which have since moved to rings).
pub(crate) trait Linked {
    /// `(prev, next)`.
    fn links(&self) -> (u32, u32);
    /// Sets both.
    fn set_links(&mut self, prev: u32, next: u32);
    /// Sets the neighbour toward the head.
    fn set_prev(&mut self, prev: u32);
    /// Sets the neighbour toward the tail.
    fn set_next(&mut self, next: u32);
}

/// `impl Linked` for a node type with `prev` and `next` fields.
macro_rules! linked_by_fields {
    ($node:ty) => {
        impl $crate::linecache::slab::Linked for $node {
            #[inline]
            fn links(&self) -> (u32, u32) {
                (self.prev, self.next)
            }
            #[inline]
            fn set_links(&mut self, prev: u32, next: u32) {
                (self.prev, self.next) = (prev, next);
            }
            #[inline]
            fn set_prev(&mut self, prev: u32) {
                self.prev = prev;
            }
            #[inline]
            fn set_next(&mut self, next: u32) {
                self.next = next;
            }
        }
    };
}
pub(crate) use linked_by_fields;

linked_by_fields!(Node);

/// Stores `node` in a free slot of `nodes` (from `free`) or at the end; its index.
#[inline]
pub(crate) fn alloc<T>(nodes: &mut Vec<T>, free: &mut Vec<u32>, node: T) -> u32 {
    match free.pop() {
        Some(i) => {
            nodes[i as usize] = node;
            i
        }
        None => {
            nodes.push(node);
            (nodes.len() - 1) as u32
        }
    }
}

/// Puts node `i` last in the circular list whose first node is `first`
/// (`NIL`: empty), through `next`: just before `first`.
#[inline(always)]
pub(crate) fn ring_push_last(nodes: &mut [Node], first: &mut u32, i: u32) {
    if *first == NIL {
        (nodes[i as usize].prev, nodes[i as usize].next) = (i, i);
        *first = i;
    } else {
        let last = nodes[*first as usize].prev;
        (nodes[i as usize].prev, nodes[i as usize].next) = (last, *first);
        nodes[last as usize].next = i;
        nodes[*first as usize].prev = i;
    }
}

/// Takes node `i` off the circular list whose first node is `first`; the
/// next node is first after it, `NIL` when it was alone.
#[inline(always)]
pub(crate) fn ring_take_out(nodes: &mut [Node], first: &mut u32, i: u32) {
    let (prev, next) = (nodes[i as usize].prev, nodes[i as usize].next);
    if next == i {
        *first = NIL;
    } else {
        nodes[prev as usize].next = next;
        nodes[next as usize].prev = prev;
        if *first == i {
            *first = next;
        }
    }
}

#[derive(Default)]
pub(crate) struct Slab {
    pub(crate) nodes: Vec<Node>,
    pub(crate) free: Vec<u32>,
    pub(crate) map: LineMap,
}

impl Slab {
    #[inline]
    pub(crate) fn alloc(&mut self, line: u64, list: u8) -> u32 {
        let i = alloc(&mut self.nodes, &mut self.free, Node { line, prev: NIL, next: NIL, freq: 0, list });
        self.map.insert(line, i);
        i
    }

    /// Node `i` takes `line` in place of its own, which it returns, with
    /// its count cleared: what freeing it and allocating `line` would do,
    /// without the trip through the free list.
    #[inline(always)]
    pub(crate) fn reuse(&mut self, i: u32, line: u64) -> u64 {
        let victim = self.nodes[i as usize].line;
        self.map.relocate(victim, line, i);
        let n = &mut self.nodes[i as usize];
        n.line = line;
        n.freq = 0;
        victim
    }

    #[inline]
    pub(crate) fn release(&mut self, i: u32) {
        let line = self.nodes[i as usize].line;
        self.map.remove(line);
        self.free.push(i);
    }

    /// Takes node `i` off list `l` and frees it.
    #[inline]
    pub(crate) fn discard(&mut self, l: &mut List, i: u32) {
        self.unlink(l, i);
        self.release(i);
    }

    #[inline]
    pub(crate) fn find(&self, line: u64) -> Option<u32> {
        self.map.get(line)
    }

    #[inline]
    pub(crate) fn push_head(&mut self, l: &mut List, i: u32) {
        let old = l.head;
        let n = &mut self.nodes[i as usize];
        n.prev = NIL;
        n.next = old;
        match old {
            NIL => l.tail = i,
            o => self.nodes[o as usize].prev = i,
        }
        l.head = i;
        l.len += 1;
    }

    pub(crate) fn push_tail(&mut self, l: &mut List, i: u32) {
        let old = l.tail;
        let n = &mut self.nodes[i as usize];
        n.next = NIL;
        n.prev = old;
        match old {
            NIL => l.head = i,
            o => self.nodes[o as usize].next = i,
        }
        l.tail = i;
        l.len += 1;
    }

    #[inline]
    pub(crate) fn unlink(&mut self, l: &mut List, i: u32) {
        let Node { prev, next, .. } = self.nodes[i as usize];
        match prev {
            NIL => l.head = next,
            p => self.nodes[p as usize].next = next,
        }
        match next {
            NIL => l.tail = prev,
            n => self.nodes[n as usize].prev = prev,
        }
        l.len -= 1;
    }

    /// Moves node `i` (on `l`) to the head.
    #[inline]
    pub(crate) fn move_to_head(&mut self, l: &mut List, i: u32) {
        l.move_to_head(&mut self.nodes, i);
    }
}
