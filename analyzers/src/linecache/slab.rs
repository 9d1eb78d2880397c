//! Intrusive doubly linked lists over a node slab (head is the newest
//! end): the queues of every list-based policy.

use crate::linemap::LineMap;

pub(crate) const NIL: u32 = u32::MAX;

#[derive(Clone, Copy)]
pub(crate) struct Node {
    pub(crate) line: u64,
    /// Toward the head (newer).
    pub(crate) prev: u32,
    /// Toward the tail (older).
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
        let node = Node { line, prev: NIL, next: NIL, freq: 0, list };
        let i = match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        self.map.insert(line, i);
        i
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

    #[inline]
    pub(crate) fn move_to_head(&mut self, l: &mut List, i: u32) {
        if l.head != i {
            self.unlink(l, i);
            self.push_head(l, i);
        }
    }
}
