//! The line-cache analyzer: one policy, size and associativity over a
//! trace, with the traffic of every buffer and role.

use memtrace::{Event, Header, Op};
use serde::Serialize;

use super::belady::Belady;
use super::clock_ring::RingClock;
use super::future::Future;
use super::layout::LineLayout;
use super::policy::{build_cache, Access, Assoc, Policy, PolicyKind, Run, Seen};
use super::queue::Queue;
use super::sieve::Sieve;
use crate::linemap::{words_of, LineSet, FLAT_LINES};

/// One simulated cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineConfig {
    /// Replacement policy.
    pub policy: PolicyKind,
    /// Capacity in bytes.
    pub size_bytes: u64,
    /// Line size in bytes.
    pub line: u64,
    /// Ways per set; `None` is fully associative.
    pub assoc: Option<u64>,
}

impl LineConfig {
    /// Capacity in lines.
    pub fn capacity_lines(&self) -> u64 {
        self.size_bytes / self.line.max(1)
    }
}

/// Hits, misses and traffic of some subset of requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Traffic {
    /// Read requests that hit.
    pub read_hits: u64,
    /// Read requests that missed.
    pub read_misses: u64,
    /// Write requests that hit.
    pub write_hits: u64,
    /// Write requests that missed.
    pub write_misses: u64,
    /// Bytes fetched from the next level: misses times the line size.
    pub bytes_in: u64,
    /// Bytes written to the next level: dirty lines evicted (or writes not admitted).
    pub bytes_written_back: u64,
}

/// The lines of one event on their way through a policy.
struct EventLines {
    first: u64,
    last: u64,
    write: bool,
    line: u64,
    buffer: u32,
}

impl EventLines {
    /// Requests every line; returns hits, bytes written back by the event's
    /// own buffer, and by all buffers (other buffers' are added to them here).
    /// A function of its own for each policy, so that one policy's loop is
    /// compiled the same whatever the others' (inlined into one function,
    /// SIEVE's stretches cost LRU 12%).
    #[inline(never)]
    fn through<P: Run + ?Sized>(
        &self,
        policy: &mut P,
        dirty: &mut LineSet,
        layout: &LineLayout,
        per_buffer: &mut [Traffic],
    ) -> (u64, u64, u64) {
        let mut tally = Tally { run: self, dirty, layout, per_buffer, hits: 0, own_wb: 0, total_wb: 0 };
        policy.access_all(self.first, self.last, &mut tally);
        (tally.hits, tally.own_wb, tally.total_wb)
    }
}

/// The hits and write-backs of one event's lines, as the policy tells them.
struct Tally<'a> {
    run: &'a EventLines,
    dirty: &'a mut LineSet,
    layout: &'a LineLayout,
    per_buffer: &'a mut [Traffic],
    hits: u64,
    own_wb: u64,
    total_wb: u64,
}

impl Tally<'_> {
    /// `victim` left the cache: written back if dirty, to its owner's account.
    #[inline(always)]
    fn evicted(&mut self, victim: u64) {
        if self.dirty.remove(victim) {
            let line = self.run.line;
            self.total_wb += line;
            match self.layout.owner(victim) {
                Some(owner) if owner == self.run.buffer => self.own_wb += line,
                Some(owner) => self.per_buffer[owner as usize].bytes_written_back += line,
                None => {}
            }
        }
    }

    /// The lines of `mask` in word `w` of the dirty set (lines `64 * w..`)
    /// left the cache: those dirty are written back, each buffer's counted
    /// at once.
    #[inline(always)]
    fn evicted_in_word(&mut self, w: u64, mask: u64) {
        let mut dirty = self.dirty.remove_word(w as usize, mask);
        let line = self.run.line;
        while dirty != 0 {
            let v = 64 * w + u64::from(dirty.trailing_zeros());
            let (owner, end) = self.layout.owner_span(v);
            // The dirty lines of this word that `owner` holds.
            let own = if end >= 64 * (w + 1) { dirty } else { dirty & ((1u64 << (end - 64 * w)) - 1) };
            dirty &= !own;
            let bytes = u64::from(own.count_ones()) * line;
            self.total_wb += bytes;
            match owner {
                Some(owner) if owner == self.run.buffer => self.own_wb += bytes,
                Some(owner) => self.per_buffer[owner as usize].bytes_written_back += bytes,
                None => {}
            }
        }
    }
}

impl Seen for Tally<'_> {
    #[inline(always)]
    fn one(&mut self, l: u64, a: Access) {
        self.hits += a.hit as u64;
        if let Some(v) = a.evicted {
            self.evicted(v);
        }
        if self.run.write {
            if a.resident {
                self.dirty.insert(l);
            } else {
                self.total_wb += self.run.line;
                self.own_wb += self.run.line;
            }
        }
    }

    /// The victims first (none of them is one of the lines requested),
    /// a word of the dirty set at a time: removing consecutive lines one
    /// by one would chain each read of a word to the last write of it.
    #[inline(always)]
    fn misses_evicting(&mut self, first: u64, n: u64, victim: u64) {
        if n == 0 {
            return;
        }
        if victim + (n - 1) < FLAT_LINES {
            for (w, mask) in words_of(victim, n) {
                self.evicted_in_word(w, mask);
            }
        } else {
            for v in victim..victim + n {
                self.evicted(v);
            }
        }
        if self.run.write {
            self.dirty.insert_range(first, n);
        }
    }
}

/// The result of one line cache. Field names are the JSON keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineResult {
    /// Replacement policy.
    pub policy: &'static str,
    /// `line`.
    pub granularity: &'static str,
    /// Line size in bytes.
    pub line: u64,
    /// `"full"` or the number of ways.
    pub assoc: Assoc,
    /// Capacity in bytes.
    pub size_bytes: u64,
    /// Capacity in lines.
    pub capacity_lines: u64,
    /// Line requests.
    pub requests: u64,
    /// Requests that hit.
    pub hits: u64,
    /// Requests that missed.
    pub misses: u64,
    /// `hits / requests`.
    pub hit_rate: Option<f64>,
    /// `misses / requests`.
    pub miss_ratio: Option<f64>,
    /// Hits, misses and traffic by operation.
    #[serde(flatten)]
    pub traffic: Traffic,
    /// By buffer role (parameter, activation, ...), the roles that occur.
    pub per_role: std::collections::BTreeMap<&'static str, Traffic>,
    /// By buffer name.
    pub per_buffer: std::collections::BTreeMap<String, Traffic>,
}

/// The policy of a simulation: LRU, FIFO, CLOCK and SIEVE by value, so
/// that the per-line loop is compiled for each (the common cases, up to
/// twice as fast); the rest behind the trait object.
enum SimPolicy {
    Lru(Queue),
    Fifo(RingClock<false>),
    Clock(RingClock<true>),
    Sieve(Sieve),
    Other(Box<dyn Policy>),
}

/// One line cache replaying a trace.
pub struct LineCacheSim {
    cfg: LineConfig,
    policy: SimPolicy,
    layout: LineLayout,
    /// Lines written since they were fetched.
    dirty: LineSet,
    total: Traffic,
    per_buffer: Vec<Traffic>,
    names: Vec<String>,
    roles: Vec<memtrace::Role>,
}

impl LineCacheSim {
    /// `future` is the line-request stream's future, needed by `opt` only
    /// (without it, `opt` sees no future: every line is never used again).
    pub fn new(header: &Header, cfg: LineConfig, future: Option<&Future>) -> LineCacheSim {
        let cap = cfg.capacity_lines();
        let belady = || {
            let next = future.map_or_else(|| Future::from_requests(&[]).next_uses(), Future::next_uses);
            SimPolicy::Other(Box::new(Belady::with_future(cap, next)))
        };
        let policy = match (cfg.policy, cfg.assoc) {
            (PolicyKind::Opt, _) => belady(),
            (kind, Some(ways)) if ways < cap => match build_cache(kind, cap, Some(ways)) {
                Some(cache) => SimPolicy::Other(cache),
                None => belady(),
            },
            (PolicyKind::Lru, _) => SimPolicy::Lru(Queue::new(cap as usize)),
            // The array form: a simulation never takes a line out.
            (PolicyKind::Fifo, _) => SimPolicy::Fifo(RingClock::new(cap as usize)),
            (PolicyKind::Clock, _) => SimPolicy::Clock(RingClock::new(cap as usize)),
            (PolicyKind::Sieve, _) => SimPolicy::Sieve(Sieve::new(cap as usize)),
            (kind, _) => match kind.build(cap) {
                Some(cache) => SimPolicy::Other(cache),
                None => belady(),
            },
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

    /// One event.
    #[inline]
    pub fn event(&mut self, e: &Event) {
        let (first, last) = self.layout.lines(e);
        let write = e.op == Op::Write;
        let line = self.cfg.line;
        // Counted locally and added once per event: every line of an event
        // belongs to the same buffer and has the same operation.
        let run = EventLines { first, last, write, line, buffer: e.buffer };
        let (hits, own_wb, total_wb) = match &mut self.policy {
            SimPolicy::Lru(q) => run.through(q, &mut self.dirty, &self.layout, &mut self.per_buffer),
            SimPolicy::Fifo(c) => run.through(c, &mut self.dirty, &self.layout, &mut self.per_buffer),
            SimPolicy::Clock(c) => run.through(c, &mut self.dirty, &self.layout, &mut self.per_buffer),
            SimPolicy::Sieve(c) => run.through(c, &mut self.dirty, &self.layout, &mut self.per_buffer),
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

    /// The result.
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
        let ratio = |a: u64| (requests > 0).then(|| a as f64 / requests as f64);
        LineResult {
            policy: self.cfg.policy.name(),
            granularity: "line",
            line: self.cfg.line,
            assoc: Assoc::of(self.cfg.assoc, self.cfg.capacity_lines()),
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
