//! Caches like hardware: accesses expanded to cache lines, simulated under
//! real replacement policies, fully or set associative.
//!
//! Layout (`docs/analyzers.md`, and the reference's `lines/README.md`):
//! buffers are placed in one address space in the order of their first
//! appearance in the trace, each aligned up to a line, as long as the
//! buffer's elements; an access touches every line overlapping its bytes, in
//! ascending order, and every touched line is one request; every request,
//! read or write, allocates on a miss.
//!
//! The policies follow libCacheSim's implementations wherever a miss count
//! depends on a detail (tests compare exact miss counts with it): `lru`,
//! `fifo`, `clock` (one reference bit), `sieve`, `lfu` (FIFO among equal
//! frequencies), `arc`, `s3fifo` (S3FIFO-0.1000-2), `opt` (Belady's MIN that
//! always inserts), and `random`.

use std::collections::BinaryHeap;

use crate::linemap::{LineHashMap, LineMap};

use memtrace::{Event, Header, Op};
use serde::Serialize;

const NIL: u32 = u32::MAX;

/// Where each buffer's bytes are, assigned at the buffer's first appearance.
pub struct LineLayout {
    line: u64,
    base: Vec<u64>,
    len_bytes: Vec<u64>,
    elem: Vec<u64>,
    next_free: u64,
    /// Buffers in the order they were placed, with their base address.
    placed: Vec<(u64, u32)>,
}

impl LineLayout {
    pub fn new(header: &Header, line_bytes: u64) -> LineLayout {
        LineLayout {
            line: line_bytes.max(1),
            base: vec![u64::MAX; header.buffers.len()],
            len_bytes: header.buffers.iter().map(|b| b.len.saturating_mul(b.elem_size as u64)).collect(),
            elem: header.buffers.iter().map(|b| b.elem_size as u64).collect(),
            next_free: 0,
            placed: Vec::new(),
        }
    }

    /// The first and last line (inclusive) an event touches.
    #[inline]
    pub fn lines(&mut self, e: &Event) -> (u64, u64) {
        let b = e.buffer as usize;
        if self.base[b] == u64::MAX {
            let base = self.next_free.div_ceil(self.line).saturating_mul(self.line);
            self.base[b] = base;
            self.next_free = base.saturating_add(self.len_bytes[b]);
            self.placed.push((base, e.buffer));
        }
        let start = self.base[b].saturating_add(e.offset.saturating_mul(self.elem[b]));
        let end = start.saturating_add((e.len as u64).saturating_mul(self.elem[b]));
        (start / self.line, end.saturating_sub(1).max(start) / self.line)
    }

    /// The bytes an event reads or writes.
    #[inline]
    pub fn bytes(&self, e: &Event) -> u64 {
        (e.len as u64).saturating_mul(self.elem.get(e.buffer as usize).copied().unwrap_or(4))
    }

    /// The buffer that owns `line` (the last placed at or before its address).
    pub fn owner(&self, line: u64) -> Option<u32> {
        let addr = line.saturating_mul(self.line);
        let i = self.placed.partition_point(|&(base, _)| base <= addr);
        (i > 0).then(|| self.placed[i - 1].1)
    }

    pub fn line_bytes(&self) -> u64 {
        self.line
    }
}

/// What one request did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Access {
    pub hit: bool,
    /// The line was (or stays) resident after the request.
    pub resident: bool,
    /// A line the request pushed out of the cache.
    pub evicted: Option<u64>,
}

/// A replacement policy over unit-size lines.
pub trait Policy: Send {
    fn access(&mut self, line: u64) -> Access;
    /// Drops `line` if resident (an inclusive hierarchy's back-invalidation);
    /// returns whether it was. Ghost entries are left as they are.
    fn remove(&mut self, line: u64) -> bool;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum PolicyKind {
    Lru,
    Fifo,
    Clock,
    Sieve,
    Lfu,
    Arc,
    S3fifo,
    Random,
    Opt,
}

impl PolicyKind {
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Lru => "lru",
            PolicyKind::Fifo => "fifo",
            PolicyKind::Clock => "clock",
            PolicyKind::Sieve => "sieve",
            PolicyKind::Lfu => "lfu",
            PolicyKind::Arc => "arc",
            PolicyKind::S3fifo => "s3fifo",
            PolicyKind::Random => "random",
            PolicyKind::Opt => "opt",
        }
    }

    /// A fully associative cache of `capacity` lines under this policy.
    /// `opt` needs the future: see [`Belady::new`].
    pub fn build(self, capacity: u64) -> Box<dyn Policy> {
        let c = capacity as usize;
        match self {
            PolicyKind::Lru => Box::new(Queue::new(c, QueueKind::Lru)),
            PolicyKind::Fifo => Box::new(Queue::new(c, QueueKind::Fifo)),
            PolicyKind::Clock => Box::new(Queue::new(c, QueueKind::Clock)),
            PolicyKind::Sieve => Box::new(Sieve::new(c)),
            PolicyKind::Lfu => Box::new(Lfu::new(c)),
            PolicyKind::Arc => Box::new(Arc::new(c)),
            PolicyKind::S3fifo => Box::new(S3Fifo::new(c)),
            PolicyKind::Random => Box::new(RandomEvict::new(c, 0x9E37_79B9_7F4A_7C15 ^ capacity)),
            PolicyKind::Opt => unreachable!("opt is built from the request stream"),
        }
    }
}

// ---------------------------------------------------------------------------
// Intrusive doubly linked lists over a node slab: head is the newest end.

#[derive(Clone, Copy)]
struct Node {
    line: u64,
    /// Toward the head (newer).
    prev: u32,
    /// Toward the tail (older).
    next: u32,
    freq: u32,
    /// Which list the node is on (policy-specific).
    list: u8,
}

#[derive(Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
    len: usize,
}

impl List {
    const EMPTY: List = List { head: NIL, tail: NIL, len: 0 };
}

#[derive(Default)]
struct Slab {
    nodes: Vec<Node>,
    free: Vec<u32>,
    map: LineMap,
}

impl Slab {
    #[inline]
    fn alloc(&mut self, line: u64, list: u8) -> u32 {
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
    fn release(&mut self, i: u32) {
        let line = self.nodes[i as usize].line;
        self.map.remove(line);
        self.free.push(i);
    }

    /// Takes node `i` off list `l` and frees it.
    #[inline]
    fn discard(&mut self, l: &mut List, i: u32) {
        self.unlink(l, i);
        self.release(i);
    }

    #[inline]
    fn find(&self, line: u64) -> Option<u32> {
        self.map.get(line)
    }

    #[inline]
    fn push_head(&mut self, l: &mut List, i: u32) {
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

    fn push_tail(&mut self, l: &mut List, i: u32) {
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
    fn unlink(&mut self, l: &mut List, i: u32) {
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
    fn move_to_head(&mut self, l: &mut List, i: u32) {
        if l.head != i {
            self.unlink(l, i);
            self.push_head(l, i);
        }
    }
}

// ---------------------------------------------------------------------------
// LRU, FIFO and Clock: one queue each.

#[derive(Clone, Copy, PartialEq, Eq)]
enum QueueKind {
    Lru,
    Fifo,
    Clock,
}

struct Queue {
    cap: usize,
    kind: QueueKind,
    slab: Slab,
    q: List,
}

impl Queue {
    fn new(cap: usize, kind: QueueKind) -> Queue {
        Queue { cap, kind, slab: Slab::default(), q: List::EMPTY }
    }
}

impl Policy for Queue {
    #[inline(always)]
    fn access(&mut self, line: u64) -> Access {
        if let Some(i) = self.slab.find(line) {
            match self.kind {
                QueueKind::Lru => self.slab.move_to_head(&mut self.q, i),
                QueueKind::Fifo => {}
                QueueKind::Clock => self.slab.nodes[i as usize].freq = 1,
            }
            return Access { hit: true, resident: true, evicted: None };
        }
        if self.cap == 0 {
            return Access::default();
        }
        if self.q.len >= self.cap {
            let mut t = self.q.tail;
            if self.kind == QueueKind::Clock {
                while self.slab.nodes[t as usize].freq >= 1 {
                    self.slab.nodes[t as usize].freq -= 1;
                    self.slab.move_to_head(&mut self.q, t);
                    t = self.q.tail;
                }
            }
            // The victim's node becomes the new line's: no trip through the free list.
            let victim = self.slab.nodes[t as usize].line;
            self.slab.map.remove(victim);
            self.slab.map.insert(line, t);
            let n = &mut self.slab.nodes[t as usize];
            n.line = line;
            n.freq = 0;
            self.slab.move_to_head(&mut self.q, t);
            return Access { hit: false, resident: true, evicted: Some(victim) };
        }
        let i = self.slab.alloc(line, 0);
        self.slab.push_head(&mut self.q, i);
        Access { hit: false, resident: true, evicted: None }
    }

    fn remove(&mut self, line: u64) -> bool {
        let Some(i) = self.slab.find(line) else { return false };
        self.slab.discard(&mut self.q, i);
        true
    }
}

// ---------------------------------------------------------------------------
// SIEVE (Zhang et al., NSDI 2024), with libCacheSim's hand.

struct Sieve {
    cap: usize,
    slab: Slab,
    q: List,
    hand: u32,
}

impl Sieve {
    fn new(cap: usize) -> Sieve {
        Sieve { cap, slab: Slab::default(), q: List::EMPTY, hand: NIL }
    }
}

impl Policy for Sieve {
    fn access(&mut self, line: u64) -> Access {
        if let Some(i) = self.slab.find(line) {
            self.slab.nodes[i as usize].freq = 1;
            return Access { hit: true, resident: true, evicted: None };
        }
        if self.cap == 0 {
            return Access::default();
        }
        let mut evicted = None;
        if self.q.len >= self.cap {
            let mut o = if self.hand == NIL { self.q.tail } else { self.hand };
            while self.slab.nodes[o as usize].freq > 0 {
                self.slab.nodes[o as usize].freq -= 1;
                let prev = self.slab.nodes[o as usize].prev;
                o = if prev == NIL { self.q.tail } else { prev };
            }
            self.hand = self.slab.nodes[o as usize].prev;
            evicted = Some(self.slab.nodes[o as usize].line);
            self.slab.discard(&mut self.q, o);
        }
        let i = self.slab.alloc(line, 0);
        self.slab.push_head(&mut self.q, i);
        Access { hit: false, resident: true, evicted }
    }

    fn remove(&mut self, line: u64) -> bool {
        let Some(i) = self.slab.find(line) else { return false };
        if self.hand == i {
            self.hand = self.slab.nodes[i as usize].prev;
        }
        self.slab.discard(&mut self.q, i);
        true
    }
}

// ---------------------------------------------------------------------------
// LFU: frequency buckets, FIFO within a bucket; a new line starts at 1.
// Only non-empty buckets exist (a map from frequency), so memory follows the
// resident lines, not the highest count a hot line reaches.

struct Lfu {
    cap: usize,
    slab: Slab,
    buckets: LineHashMap<List>,
    min_freq: u64,
    len: usize,
}

impl Lfu {
    fn new(cap: usize) -> Lfu {
        Lfu { cap, slab: Slab::default(), buckets: LineHashMap::default(), min_freq: 1, len: 0 }
    }

    /// Takes node `i` out of bucket `f`, dropping the bucket when it empties; true if it did.
    fn take(&mut self, f: u64, i: u32) -> bool {
        let Some(b) = self.buckets.get_mut(&f) else { return false };
        let mut l = *b;
        self.slab.unlink(&mut l, i);
        if l.len == 0 {
            self.buckets.remove(&f);
            true
        } else {
            *b = l;
            false
        }
    }

    fn put(&mut self, f: u64, i: u32) {
        let b = self.buckets.entry(f).or_insert(List::EMPTY);
        let mut l = *b;
        self.slab.push_tail(&mut l, i);
        *b = l;
        self.slab.nodes[i as usize].freq = f as u32;
    }
}

impl Policy for Lfu {
    fn access(&mut self, line: u64) -> Access {
        if let Some(i) = self.slab.find(line) {
            let f = self.slab.nodes[i as usize].freq as u64;
            // Counts saturate at u32::MAX (the node's field): such lines share one bucket.
            let next = (f + 1).min(u32::MAX as u64);
            if self.take(f, i) && self.min_freq == f {
                self.min_freq = next;
            }
            self.put(next, i);
            return Access { hit: true, resident: true, evicted: None };
        }
        if self.cap == 0 {
            return Access::default();
        }
        let mut evicted = None;
        if self.len >= self.cap {
            let f = self.min_freq;
            let o = self.buckets.get(&f).map_or(NIL, |b| b.head);
            if o != NIL {
                self.take(f, o);
                evicted = Some(self.slab.nodes[o as usize].line);
                self.slab.release(o);
                self.len -= 1;
            }
        }
        // The new line counts 1, the least there is.
        self.min_freq = 1;
        let i = self.slab.alloc(line, 0);
        self.put(1, i);
        self.len += 1;
        Access { hit: false, resident: true, evicted }
    }

    fn remove(&mut self, line: u64) -> bool {
        let Some(i) = self.slab.find(line) else { return false };
        let f = self.slab.nodes[i as usize].freq as u64;
        if self.take(f, i) && self.min_freq == f {
            self.min_freq = self.buckets.keys().copied().min().unwrap_or(1);
        }
        self.slab.release(i);
        self.len -= 1;
        true
    }
}

// ---------------------------------------------------------------------------
// ARC (Megiddo and Modha, 2003), as libCacheSim implements it: p and its
// adaptation step are real numbers, REPLACE takes from T1 when T2 is empty,
// and only a full cache evicts.

const T1: u8 = 1;
const T2: u8 = 2;
const B1: u8 = 3;
const B2: u8 = 4;

struct Arc {
    c: usize,
    p: f64,
    slab: Slab,
    t1: List,
    t2: List,
    b1: List,
    b2: List,
}

impl Arc {
    fn new(c: usize) -> Arc {
        Arc { c, p: 0.0, slab: Slab::default(), t1: List::EMPTY, t2: List::EMPTY, b1: List::EMPTY, b2: List::EMPTY }
    }

    fn list(&mut self, id: u8) -> &mut List {
        match id {
            T1 => &mut self.t1,
            T2 => &mut self.t2,
            B1 => &mut self.b1,
            _ => &mut self.b2,
        }
    }

    fn unlink_from(&mut self, id: u8, i: u32) {
        let mut l = *self.list(id);
        self.slab.unlink(&mut l, i);
        *self.list(id) = l;
    }

    fn push_head_to(&mut self, id: u8, i: u32) {
        let mut l = *self.list(id);
        self.slab.push_head(&mut l, i);
        *self.list(id) = l;
        self.slab.nodes[i as usize].list = id;
    }

    /// REPLACE: moves the LRU line of T1 or T2 to its ghost list; returns it.
    fn replace(&mut self, in_b2: bool) -> Option<u64> {
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

    fn discard_from(&mut self, id: u8, i: u32) {
        let mut l = *self.list(id);
        self.slab.discard(&mut l, i);
        *self.list(id) = l;
    }

    fn drop_tail(&mut self, id: u8) -> Option<u64> {
        let o = self.list(id).tail;
        if o == NIL {
            return None;
        }
        let line = self.slab.nodes[o as usize].line;
        self.discard_from(id, o);
        Some(line)
    }

    /// Case IV of the paper: a miss on every list, with a full cache.
    fn evict_on_miss(&mut self) -> Option<u64> {
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

impl Policy for Arc {
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

// ---------------------------------------------------------------------------
// S3-FIFO (libCacheSim's S3FIFO-0.1000-2 of 2024-10): small FIFO, main
// 2-bit clock, ghost. Every miss that is not a ghost hit goes to the small
// FIFO (later versions send it to main while the small FIFO is full and
// nothing was evicted yet; the reference's counts are the earlier rule's).

const SMALL: u8 = 1;
const MAIN: u8 = 2;
const GHOST: u8 = 3;

struct S3Fifo {
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
    fn new(c: usize) -> S3Fifo {
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

    fn list(&mut self, id: u8) -> &mut List {
        match id {
            SMALL => &mut self.small,
            MAIN => &mut self.main,
            _ => &mut self.ghost,
        }
    }

    fn insert_head(&mut self, id: u8, line: u64) -> u32 {
        let i = self.slab.alloc(line, id);
        let mut l = *self.list(id);
        self.slab.push_head(&mut l, i);
        *self.list(id) = l;
        i
    }

    fn remove(&mut self, id: u8, i: u32) {
        let mut l = *self.list(id);
        self.slab.discard(&mut l, i);
        *self.list(id) = l;
    }

    fn ghost_add(&mut self, line: u64) {
        if self.ghost_cap == 0 || self.slab.find(line).is_some() {
            return;
        }
        while self.ghost.len >= self.ghost_cap {
            let t = self.ghost.tail;
            self.remove(GHOST, t);
        }
        self.insert_head(GHOST, line);
    }

    fn evict_small(&mut self) -> Option<u64> {
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

    fn evict_main(&mut self) -> Option<u64> {
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

// ---------------------------------------------------------------------------
// Random eviction (a fixed-seed xorshift, so runs repeat).

struct RandomEvict {
    cap: usize,
    lines: Vec<u64>,
    pos: LineMap,
    state: u64,
}

impl RandomEvict {
    fn new(cap: usize, seed: u64) -> RandomEvict {
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

// ---------------------------------------------------------------------------
// Belady's MIN as libCacheSim runs it: a miss always inserts, evicting the
// resident line used farthest in the future (never again counts farthest).

pub struct Belady {
    cap: usize,
    /// For request k, the index of the next request of the same line.
    next_use: Vec<u64>,
    k: usize,
    resident: LineHashMap<u64>,
    heap: BinaryHeap<(u64, u64)>,
}

impl Belady {
    /// Builds the oracle from the whole request stream.
    pub fn new(cap: u64, requests: &[u64]) -> Belady {
        let mut next_use = vec![u64::MAX; requests.len()];
        let mut last: LineHashMap<u64> = LineHashMap::default();
        for (k, &line) in requests.iter().enumerate().rev() {
            if let Some(&n) = last.get(&line) {
                next_use[k] = n;
            }
            last.insert(line, k as u64);
        }
        Belady { cap: cap as usize, next_use, k: 0, resident: LineHashMap::default(), heap: BinaryHeap::new() }
    }
}

impl Policy for Belady {
    fn access(&mut self, line: u64) -> Access {
        let next = self.next_use.get(self.k).copied().unwrap_or(u64::MAX);
        self.k += 1;
        if let Some(n) = self.resident.get_mut(&line) {
            *n = next;
            self.heap.push((next, line));
            return Access { hit: true, resident: true, evicted: None };
        }
        if self.cap == 0 {
            return Access::default();
        }
        let mut evicted = None;
        if self.resident.len() >= self.cap {
            while let Some((n, victim)) = self.heap.pop() {
                if self.resident.get(&victim) == Some(&n) {
                    self.resident.remove(&victim);
                    evicted = Some(victim);
                    break;
                }
            }
        }
        self.resident.insert(line, next);
        self.heap.push((next, line));
        Access { hit: false, resident: true, evicted }
    }

    fn remove(&mut self, line: u64) -> bool {
        // The heap's entry for it goes stale: eviction skips entries that do not match `resident`.
        self.resident.remove(&line).is_some()
    }
}

// ---------------------------------------------------------------------------
// Set associativity: independent sets of `ways` lines, indexed by the low
// bits of the line number (line modulo the number of sets).

pub struct SetAssociative {
    sets: Vec<Box<dyn Policy>>,
}

impl SetAssociative {
    pub fn new(kind: PolicyKind, capacity: u64, ways: u64) -> SetAssociative {
        let n = (capacity / ways.max(1)).max(1);
        SetAssociative { sets: (0..n).map(|_| kind.build(ways)).collect() }
    }
}

impl Policy for SetAssociative {
    fn access(&mut self, line: u64) -> Access {
        let n = self.sets.len() as u64;
        self.sets[(line % n) as usize].access(line)
    }

    fn remove(&mut self, line: u64) -> bool {
        let n = self.sets.len() as u64;
        self.sets[(line % n) as usize].remove(line)
    }
}

/// A cache of `capacity` lines under `kind`: `ways` per set, or fully
/// associative when `None` or not below the capacity. Not for `opt`.
pub fn build_cache(kind: PolicyKind, capacity: u64, ways: Option<u64>) -> Box<dyn Policy> {
    match ways {
        Some(w) if w < capacity => Box::new(SetAssociative::new(kind, capacity, w)),
        _ => kind.build(capacity),
    }
}

/// How results name an associativity: the ways, or `"full"`.
pub fn assoc_json(ways: Option<u64>, capacity: u64) -> serde_json::Value {
    match ways {
        Some(w) if w < capacity => serde_json::json!(w),
        _ => serde_json::json!("full"),
    }
}

/// Expands every event of a trace to its line requests: `(line, write, buffer)`.
pub fn requests<'a>(layout: &'a mut LineLayout, events: &'a [Event]) -> impl Iterator<Item = (u64, bool, u32)> + 'a {
    events.iter().flat_map(move |e| {
        let (a, b) = layout.lines(e);
        let w = e.op == Op::Write;
        (a..=b).map(move |l| (l, w, e.buffer))
    })
}

// ---------------------------------------------------------------------------
// The line-cache analyzer: one policy, size and associativity over a trace.

/// One simulated cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineConfig {
    pub policy: PolicyKind,
    pub size_bytes: u64,
    pub line: u64,
    /// Ways per set; `None` is fully associative.
    pub assoc: Option<u64>,
}

impl LineConfig {
    pub fn capacity_lines(&self) -> u64 {
        self.size_bytes / self.line.max(1)
    }
}

/// Hits, misses and traffic of some subset of requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Traffic {
    pub read_hits: u64,
    pub read_misses: u64,
    pub write_hits: u64,
    pub write_misses: u64,
    /// Bytes fetched from the next level: misses times the line size.
    pub bytes_in: u64,
    /// Bytes written to the next level: dirty lines evicted (or writes not admitted).
    pub bytes_written_back: u64,
}

/// The lines of one event on their way through a policy.
struct LineRun {
    first: u64,
    last: u64,
    write: bool,
    line: u64,
    buffer: u32,
}

impl LineRun {
    /// Requests every line; returns hits, bytes written back by the event's
    /// own buffer, and by all buffers (other buffers' are added to them here).
    #[inline(always)]
    fn through<P: Policy + ?Sized>(
        &self,
        policy: &mut P,
        dirty: &mut LineMap,
        layout: &LineLayout,
        per_buffer: &mut [Traffic],
    ) -> (u64, u64, u64) {
        let (mut hits, mut own_wb, mut total_wb) = (0u64, 0u64, 0u64);
        for l in self.first..=self.last {
            let a = policy.access(l);
            hits += a.hit as u64;
            if let Some(v) = a.evicted {
                if dirty.remove(v).is_some() {
                    total_wb += self.line;
                    match layout.owner(v) {
                        Some(owner) if owner == self.buffer => own_wb += self.line,
                        Some(owner) => per_buffer[owner as usize].bytes_written_back += self.line,
                        None => {}
                    }
                }
            }
            if self.write {
                if a.resident {
                    dirty.insert(l, 1);
                } else {
                    total_wb += self.line;
                    own_wb += self.line;
                }
            }
        }
        (hits, own_wb, total_wb)
    }
}

/// The result of one line cache. Field names are the JSON keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineResult {
    pub policy: &'static str,
    pub granularity: &'static str,
    pub line: u64,
    /// `"full"` or the number of ways.
    pub assoc: serde_json::Value,
    pub size_bytes: u64,
    pub capacity_lines: u64,
    pub requests: u64,
    pub hits: u64,
    pub misses: u64,
    pub hit_rate: f64,
    pub miss_ratio: f64,
    #[serde(flatten)]
    pub traffic: Traffic,
    /// By buffer role (parameter, activation, ...), the roles that occur.
    pub per_role: std::collections::BTreeMap<&'static str, Traffic>,
    /// By buffer name.
    pub per_buffer: std::collections::BTreeMap<String, Traffic>,
}

/// The policy of a simulation: LRU, FIFO and CLOCK by value, so that the
/// per-line loop is compiled for them (the common case, twice as fast);
/// the rest behind the trait object.
enum SimPolicy {
    Queue(Queue),
    Other(Box<dyn Policy>),
}

pub struct LineCacheSim {
    cfg: LineConfig,
    policy: SimPolicy,
    layout: LineLayout,
    /// Lines written since they were fetched (value 1).
    dirty: LineMap,
    total: Traffic,
    per_buffer: Vec<Traffic>,
    names: Vec<String>,
    roles: Vec<memtrace::Role>,
}

impl LineCacheSim {
    /// `requests` is the whole line-request stream, needed by `opt` only.
    pub fn new(header: &Header, cfg: LineConfig, requests: Option<&[u64]>) -> LineCacheSim {
        let cap = cfg.capacity_lines();
        let policy = match (cfg.policy, cfg.assoc) {
            (PolicyKind::Opt, _) => SimPolicy::Other(Box::new(Belady::new(cap, requests.unwrap_or(&[])))),
            (kind, Some(ways)) if ways < cap => SimPolicy::Other(build_cache(kind, cap, Some(ways))),
            (PolicyKind::Lru, _) => SimPolicy::Queue(Queue::new(cap as usize, QueueKind::Lru)),
            (PolicyKind::Fifo, _) => SimPolicy::Queue(Queue::new(cap as usize, QueueKind::Fifo)),
            (PolicyKind::Clock, _) => SimPolicy::Queue(Queue::new(cap as usize, QueueKind::Clock)),
            (kind, _) => SimPolicy::Other(kind.build(cap)),
        };
        LineCacheSim {
            cfg,
            policy,
            layout: LineLayout::new(header, cfg.line),
            dirty: Default::default(),
            total: Traffic::default(),
            per_buffer: vec![Traffic::default(); header.buffers.len()],
            names: header.buffers.iter().map(|b| b.name.clone()).collect(),
            roles: header.buffers.iter().map(|b| b.role).collect(),
        }
    }

    #[inline]
    pub fn event(&mut self, e: &Event) {
        let (first, last) = self.layout.lines(e);
        let write = e.op == Op::Write;
        let line = self.cfg.line;
        // Counted locally and added once per event: every line of an event
        // belongs to the same buffer and has the same operation.
        let run = LineRun { first, last, write, line, buffer: e.buffer };
        let (hits, own_wb, total_wb) = match &mut self.policy {
            SimPolicy::Queue(q) => run.through(q, &mut self.dirty, &self.layout, &mut self.per_buffer),
            SimPolicy::Other(p) => run.through(&mut **p, &mut self.dirty, &self.layout, &mut self.per_buffer),
        };
        let misses = last - first + 1 - hits;
        let b = &mut self.per_buffer[e.buffer as usize];
        b.bytes_written_back += own_wb;
        self.total.bytes_written_back += total_wb;
        for t in [&mut self.total, b] {
            if write {
                t.write_hits += hits;
                t.write_misses += misses;
            } else {
                t.read_hits += hits;
                t.read_misses += misses;
            }
            t.bytes_in += misses * line;
        }
    }

    pub fn finish(self) -> LineResult {
        let t = self.total;
        let hits = t.read_hits + t.write_hits;
        let misses = t.read_misses + t.write_misses;
        let requests = hits + misses;
        let mut per_role: std::collections::BTreeMap<&'static str, Traffic> = Default::default();
        let mut per_buffer = std::collections::BTreeMap::new();
        for ((b, name), role) in self.per_buffer.iter().zip(&self.names).zip(&self.roles) {
            if *b == Traffic::default() {
                continue;
            }
            let r = per_role.entry(role.name()).or_default();
            r.read_hits += b.read_hits;
            r.read_misses += b.read_misses;
            r.write_hits += b.write_hits;
            r.write_misses += b.write_misses;
            r.bytes_in += b.bytes_in;
            r.bytes_written_back += b.bytes_written_back;
            per_buffer.insert(name.clone(), *b);
        }
        let ratio = |a: u64| if requests == 0 { 0.0 } else { a as f64 / requests as f64 };
        LineResult {
            policy: self.cfg.policy.name(),
            granularity: "line",
            line: self.cfg.line,
            assoc: assoc_json(self.cfg.assoc, self.cfg.capacity_lines()),
            size_bytes: self.cfg.size_bytes,
            capacity_lines: self.cfg.capacity_lines(),
            requests,
            hits,
            misses,
            hit_rate: ratio(hits),
            miss_ratio: ratio(misses),
            traffic: t,
            per_role,
            per_buffer,
        }
    }
}

/// Collects the line-request stream of a trace (for `opt`, which needs the future).
pub struct RequestCollector {
    layout: LineLayout,
    pub requests: Vec<u64>,
}

impl RequestCollector {
    pub fn new(header: &Header, line: u64) -> RequestCollector {
        RequestCollector { layout: LineLayout::new(header, line), requests: Vec::new() }
    }

    pub fn event(&mut self, e: &Event) {
        let (a, b) = self.layout.lines(e);
        self.requests.extend(a..=b);
    }
}

/// `--assoc`: a number of ways or `full`.
pub fn parse_assoc(s: &str) -> Result<Option<u64>, String> {
    if s.eq_ignore_ascii_case("full") {
        return Ok(None);
    }
    match s.parse::<u64>() {
        Ok(0) | Err(_) => Err(format!("--assoc takes a number of ways (1, 2, 4, ...) or full; got {s:?}")),
        Ok(w) => Ok(Some(w)),
    }
}
