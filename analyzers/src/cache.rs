//! `analyze cache`: the seeds' CacheTracker, a fully associative LRU cache
//! of whole objects, generalized from buffer names to element ranges.
//!
//! The rules (the seeds' where they apply, `docs/analyzers.md` for the rest):
//! - an object is the range an access touched; objects of one buffer that
//!   are resident never overlap;
//! - a read whose range lies inside a resident object is a hit and makes
//!   that object most recently used (so a read of part of a buffer written
//!   whole hits, as with the seeds' names);
//! - any other read is a miss; its range is then inserted as an object,
//!   replacing resident objects of the same buffer that overlap it, and
//!   evicting least recently used objects until it fits, unless it is larger
//!   than the cache, in which case nothing changes;
//! - a write does the same insertion and counts as neither hit nor miss;
//! - reads of never-written data are misses, but carry no distance, so they
//!   add nothing to `effective_ard` or `total_miss_floats`.
//!
//! Capacity is counted in bytes (elements times element size), so that
//! buffers of different element sizes share one cache honestly.

use std::collections::BTreeMap;

use memtrace::{Event, Header, Op};
use serde::Serialize;

use crate::ard::ratio;
use crate::clock::ReuseClock;
use crate::report::{per_configuration, results_json, Named, Report, Rows};
use crate::table::{thousands, Value};
use crate::units::format_size;
use serde_json::Value as Json;

use crate::linecache::slab::{alloc, linked_by_fields, List, NIL};

/// A resident object, on the LRU list.
#[derive(Clone, Copy)]
struct Node {
    buffer: u32,
    start: u64,
    end: u64,
    bytes: u64,
    prev: u32,
    next: u32,
}

linked_by_fields!(Node);

/// One buffer's resident objects, start -> node. A buffer accessed whole
/// (most of a training trace) has one, held inline so that looking it up
/// touches no tree; `one` is set only while `many` is empty.
#[derive(Default, Clone)]
struct Starts {
    one: Option<(u64, u32)>,
    many: BTreeMap<u64, u32>,
}

impl Starts {
    #[inline]
    fn get(&self, start: u64) -> Option<u32> {
        match self.one {
            Some((s, i)) => (s == start).then_some(i),
            None => self.many.get(&start).copied(),
        }
    }

    /// The entry with the greatest start at or before `key`.
    #[inline]
    fn at_or_before(&self, key: u64) -> Option<(u64, u32)> {
        match self.one {
            Some((s, i)) => (s <= key).then_some((s, i)),
            None => self.many.range(..=key).next_back().map(|(&s, &i)| (s, i)),
        }
    }

    /// The entry with the greatest start before `key`.
    #[inline]
    fn before(&self, key: u64) -> Option<(u64, u32)> {
        match self.one {
            Some((s, i)) => (s < key).then_some((s, i)),
            None => self.many.range(..key).next_back().map(|(&s, &i)| (s, i)),
        }
    }

    fn insert(&mut self, start: u64, i: u32) {
        match self.one.take() {
            None if self.many.is_empty() => self.one = Some((start, i)),
            None => {
                self.many.insert(start, i);
            }
            Some((s, _)) if s == start => self.one = Some((start, i)),
            Some((s, j)) => {
                self.many.insert(s, j);
                self.many.insert(start, i);
            }
        }
    }

    fn remove(&mut self, start: u64) {
        match self.one {
            Some((s, _)) if s == start => self.one = None,
            Some(_) => {}
            None => {
                self.many.remove(&start);
                if self.many.len() == 1 {
                    self.one = self.many.pop_first();
                }
            }
        }
    }
}

/// A fully associative LRU cache of byte-sized objects keyed by buffer range.
pub struct ObjectLru {
    capacity: u64,
    used: u64,
    nodes: Vec<Node>,
    free: Vec<u32>,
    /// Most recently used at the head.
    lru: List,
    /// Per buffer: start -> node.
    resident: Vec<Starts>,
    elem_size: Vec<u64>,
}

impl ObjectLru {
    /// An empty cache of `capacity_bytes` for a trace with this header.
    pub fn new(capacity_bytes: u64, header: &Header) -> ObjectLru {
        ObjectLru {
            capacity: capacity_bytes,
            used: 0,
            nodes: Vec::new(),
            free: Vec::new(),
            lru: List::EMPTY,
            resident: vec![Starts::default(); header.buffers.len()],
            elem_size: header.buffers.iter().map(|b| b.elem_size as u64).collect(),
        }
    }

    fn remove(&mut self, i: u32) {
        self.lru.unlink(&mut self.nodes, i);
        let n = self.nodes[i as usize];
        self.resident[n.buffer as usize].remove(n.start);
        self.used -= n.bytes;
        self.free.push(i);
    }

    /// The resident object of `buffer` that contains [start, end), if any.
    #[inline(always)]
    fn containing(&self, buffer: u32, start: u64, end: u64) -> Option<u32> {
        let (_, i) = self.resident[buffer as usize].at_or_before(start)?;
        (self.nodes[i as usize].end >= end).then_some(i)
    }

    /// Looks up a read: true (and the object becomes most recent) on a hit.
    #[inline]
    pub fn touch(&mut self, buffer: u32, start: u64, end: u64) -> bool {
        match self.containing(buffer, start, end) {
            Some(i) => {
                self.lru.move_to_head(&mut self.nodes, i);
                true
            }
            None => false,
        }
    }

    /// Makes [start, end) of `buffer` a resident, most recent object;
    /// false (and nothing changes) when it is larger than the cache.
    #[inline]
    pub fn insert(&mut self, buffer: u32, start: u64, end: u64) -> bool {
        let bytes = (end - start) * self.elem_size[buffer as usize];
        if bytes > self.capacity {
            return false;
        }
        // Fast path: the same object is already resident.
        if let Some(i) = self.resident[buffer as usize].get(start) {
            if self.nodes[i as usize].end == end {
                self.lru.move_to_head(&mut self.nodes, i);
                return true;
            }
        }
        self.insert_new(buffer, start, end, bytes);
        true
    }

    /// Inserts an object that is not resident, dropping what it overlaps
    /// and evicting until it fits.
    fn insert_new(&mut self, buffer: u32, start: u64, end: u64, bytes: u64) {
        self.drop_overlapping(buffer, start, end);
        while self.used + bytes > self.capacity {
            let lru = self.lru.tail;
            self.remove(lru);
        }
        let i = alloc(&mut self.nodes, &mut self.free, Node { buffer, start, end, bytes, prev: NIL, next: NIL });
        self.resident[buffer as usize].insert(start, i);
        self.used += bytes;
        self.lru.push_head(&mut self.nodes, i);
    }

    /// Removes resident objects of `buffer` overlapping [start, end).
    pub fn drop_overlapping(&mut self, buffer: u32, start: u64, end: u64) {
        loop {
            let found = self.resident[buffer as usize]
                .before(end)
                .map(|(_, i)| i)
                .filter(|&i| self.nodes[i as usize].end > start);
            match found {
                Some(i) => self.remove(i),
                None => break,
            }
        }
    }

    /// Bytes held.
    pub fn used_bytes(&self) -> u64 {
        self.used
    }
}

/// One cache size's result. Field names are the JSON keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CacheResult {
    /// The cache size.
    pub size_bytes: u64,
    /// `size_bytes / 4`: the seeds size caches in fp32 floats.
    pub cache_size_floats: u64,
    /// Reads of resident objects.
    pub hits: u64,
    /// Reads of objects not resident.
    pub misses: u64,
    /// Reads, hits plus misses (writes are not counted).
    pub total_accesses: u64,
    /// `hits / reads`; `null` when nothing was read.
    pub hit_rate: Option<f64>,
    /// Weighted ARD over the warm elements of the reads that missed.
    pub effective_ard: f64,
    /// Warm elements of the reads that missed.
    pub total_miss_floats: u64,
}

/// The object-cache simulation at several sizes in one pass.
pub struct ObjectCaches {
    clock: ReuseClock,
    caches: Vec<(ObjectLru, Counters)>,
}

#[derive(Default, Clone, Copy)]
struct Counters {
    size_bytes: u64,
    hits: u64,
    misses: u64,
    miss_sum: u128,
    miss_warm: u64,
}

impl ObjectCaches {
    /// Caches of every size in `sizes_bytes`, empty.
    pub fn new(header: &Header, sizes_bytes: &[u64]) -> ObjectCaches {
        ObjectCaches {
            clock: ReuseClock::new(header.buffers.len()),
            caches: sizes_bytes
                .iter()
                .map(|&s| (ObjectLru::new(s, header), Counters { size_bytes: s, ..Counters::default() }))
                .collect(),
        }
    }

    /// One event.
    #[inline]
    pub fn event(&mut self, e: &Event) {
        let (start, end) = (e.offset, e.end());
        match e.op {
            Op::Write => {
                self.clock.write(e.buffer, e.offset, e.len as u64);
                for (lru, _) in &mut self.caches {
                    if !lru.insert(e.buffer, start, end) {
                        // Too large to cache, but the write still makes older copies stale.
                        lru.drop_overlapping(e.buffer, start, end);
                    }
                }
            }
            Op::Read => {
                // The read's distances matter only to a cache it misses.
                let (clock, mut seen) = (&self.clock, None);
                for (lru, c) in &mut self.caches {
                    if lru.touch(e.buffer, start, end) {
                        c.hits += 1;
                    } else {
                        let r = *seen.get_or_insert_with(|| clock.peek(e.buffer, e.offset, e.len as u64));
                        c.misses += 1;
                        c.miss_sum += r.sum;
                        c.miss_warm += r.warm;
                        lru.insert(e.buffer, start, end);
                    }
                }
                self.clock.skip(e.len as u64);
            }
        }
    }

    /// The results, one per size.
    pub fn finish(self) -> Vec<CacheResult> {
        self.caches
            .into_iter()
            .map(|(_, c)| {
                let total = c.hits + c.misses;
                CacheResult {
                    size_bytes: c.size_bytes,
                    cache_size_floats: c.size_bytes / 4,
                    hits: c.hits,
                    misses: c.misses,
                    total_accesses: total,
                    hit_rate: (total > 0).then(|| c.hits as f64 / total as f64),
                    effective_ard: ratio(c.miss_sum, c.miss_warm),
                    total_miss_floats: c.miss_warm,
                }
            })
            .collect()
    }
}

impl crate::Analyzer for ObjectCaches {
    type Output = Vec<CacheResult>;
    #[inline]
    fn event(&mut self, e: &Event) {
        ObjectCaches::event(self, e)
    }
    fn finish(self, _: &Header, _: &memtrace::TraceSummary) -> crate::Result<Vec<CacheResult>> {
        Ok(ObjectCaches::finish(self))
    }
}

/// The metrics of an object-cache result, one row each, over `results`.
fn cache_rows(results: &[&CacheResult]) -> Rows {
    let col = |f: fn(&CacheResult) -> Value| results.iter().map(|r| f(r)).collect::<Vec<_>>();
    vec![
        ("hit rate".to_string(), col(|r| r.hit_rate.map_or(Value::Missing, Value::Percent))),
        ("hits".to_string(), col(|r| Value::Int(r.hits))),
        ("misses".to_string(), col(|r| Value::Int(r.misses))),
        ("reads".to_string(), col(|r| Value::Int(r.total_accesses))),
        ("effective ARD".to_string(), col(|r| Value::Float(r.effective_ard))),
        ("floats missed (warm)".to_string(), col(|r| Value::Int(r.total_miss_floats))),
    ]
}

/// `32KiB (8,192 floats)`.
fn cache_size(size: u64) -> String {
    format!("{} ({} floats)", format_size(size), thousands(size / 4))
}

/// One trace: its sizes side by side. Several traces: a table per size,
/// the traces side by side with ratios to the first.
impl Report for Vec<CacheResult> {
    fn text(runs: &[Named<Vec<CacheResult>>]) -> String {
        per_configuration(
            runs,
            "object LRU caches",
            "cache",
            |r| cache_size(r.size_bytes),
            |r| format!("cache {}", cache_size(r.size_bytes)),
            cache_rows,
        )
    }

    fn json(runs: &[Named<Vec<CacheResult>>]) -> Json {
        results_json(runs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use memtrace::{Buffer, Role};

    fn header(lens: &[u64]) -> Header {
        let mut h = Header::new("t", "0");
        for (i, &l) in lens.iter().enumerate() {
            h.add_buffer(Buffer::new(format!("b{i}"), l, Role::Other)).unwrap();
        }
        h
    }

    #[test]
    fn lru_evicts_least_recent_until_it_fits() {
        let h = header(&[2, 2, 2]);
        let mut c = ObjectLru::new(16, &h); // two objects of 8 bytes
        c.insert(0, 0, 2);
        c.insert(1, 0, 2);
        assert!(c.touch(0, 0, 2)); // 0 is now most recent
        c.insert(2, 0, 2); // evicts 1
        assert!(c.touch(0, 0, 2));
        assert!(!c.touch(1, 0, 2));
        assert!(c.touch(2, 0, 2));
        assert_eq!(c.used_bytes(), 16);
    }

    #[test]
    fn a_read_inside_a_resident_object_hits() {
        let h = header(&[100]);
        let mut c = ObjectLru::new(1000, &h);
        c.insert(0, 0, 100);
        assert!(c.touch(0, 25, 50));
        assert!(!c.touch(0, 90, 110));
    }

    #[test]
    fn objects_larger_than_the_cache_are_never_cached() {
        let h = header(&[100]);
        let mut c = ObjectLru::new(40, &h);
        c.insert(0, 0, 100);
        assert_eq!(c.used_bytes(), 0);
        assert!(!c.touch(0, 0, 100));
    }

    #[test]
    fn overlapping_objects_are_replaced() {
        let h = header(&[100]);
        let mut c = ObjectLru::new(1000, &h);
        c.insert(0, 0, 50);
        c.insert(0, 50, 100);
        c.insert(0, 25, 75);
        assert_eq!(c.used_bytes(), 200);
        assert!(!c.touch(0, 0, 10));
        assert!(c.touch(0, 30, 70));
    }
}
