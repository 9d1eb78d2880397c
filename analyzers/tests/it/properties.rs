//! Property tests: the analyzers against deliberately naive reference
//! models on random traces with random ranges. The naive models do
//! everything element by element or by linear search, with no cleverness
//! to share bugs with.

use std::collections::HashMap;

use memtrace::{Buffer, Event, Header, Op, Role};
use memtrace_analyzers::ard::Ard;
use memtrace_analyzers::cache::ObjectCaches;
use proptest::prelude::*;

/// A random header (1-4 buffers of 1-48 elements, element size 4 or 8) and
/// events whose ranges lie inside their buffers.
fn trace() -> impl Strategy<Value = (Header, Vec<Event>)> {
    prop::collection::vec((1u64..48, prop::bool::ANY), 1..5).prop_flat_map(|bufs| {
        let mut h = Header::new("prop", "0");
        for (i, &(len, wide)) in bufs.iter().enumerate() {
            h.add_buffer(Buffer { name: format!("b{i}"), len, elem_size: if wide { 8 } else { 4 }, role: Role::Other })
                .unwrap();
        }
        let lens: Vec<u64> = bufs.iter().map(|b| b.0).collect();
        let event = (0..lens.len(), prop::bool::ANY, any::<u64>(), any::<u64>(), 0u32..3).prop_map(
            move |(b, w, x, y, step)| {
                let len = lens[b];
                let start = x % len;
                let n = 1 + y % (len - start);
                Event { buffer: b as u32, op: if w { Op::Write } else { Op::Read }, offset: start, len: n as u32, step }
            },
        );
        (Just(h), prop::collection::vec(event, 0..120))
    })
}

/// Element-by-element clock: what every read element's distance is.
struct NaiveClock {
    now: u64,
    stamp: HashMap<(u32, u64), u64>,
}

impl NaiveClock {
    /// Applies an event; for a read returns the distances of its warm elements.
    fn apply(&mut self, e: &Event) -> Vec<u64> {
        let mut d = Vec::new();
        for k in e.offset..e.end() {
            match e.op {
                Op::Write => {
                    self.stamp.insert((e.buffer, k), self.now);
                }
                Op::Read => {
                    if let Some(t) = self.stamp.get(&(e.buffer, k)) {
                        d.push(self.now - t);
                    }
                }
            }
        }
        self.now += e.len as u64;
        d
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn ard_equals_an_element_by_element_model((header, events) in trace()) {
        let mut ard = Ard::new(&header);
        events.iter().for_each(|e| ard.event(e));
        let r = ard.finish();
        let mut clock = NaiveClock { now: 0, stamp: HashMap::new() };
        let (mut sum, mut warm, mut dmc, mut reads, mut writes, mut cold) = (0u128, 0u64, 0.0, 0u64, 0u64, 0u64);
        let mut per: HashMap<u32, (f64, u64, u64, u64, u64)> = HashMap::new();
        for e in &events {
            let d = clock.apply(e);
            if e.op == Op::Write { writes += 1; continue; }
            if d.is_empty() { cold += 1; continue; }
            reads += 1;
            warm += d.len() as u64;
            sum += d.iter().map(|&x| x as u128).sum::<u128>();
            dmc += d.iter().map(|&x| (x as f64).sqrt()).sum::<f64>();
            let mean = d.iter().sum::<u64>() as f64 / d.len() as f64;
            let p = per.entry(e.buffer).or_insert((0.0, 0, u64::MAX, 0, 0));
            p.0 += mean; p.1 += 1; p.2 = p.2.min(*d.iter().min().unwrap()); p.3 = p.3.max(*d.iter().max().unwrap()); p.4 = e.len as u64;
        }
        prop_assert_eq!(r.total_floats_accessed, clock.now);
        prop_assert_eq!((r.reads, r.writes, r.cold_reads, r.total_floats_read), (reads, writes, cold, warm));
        // Undefined without a warm element: null, not 0.
        match r.weighted_ard {
            None => prop_assert_eq!(warm, 0),
            Some(ard) => prop_assert!(close(ard, sum as f64 / warm as f64), "{} vs {}", ard, sum as f64 / warm as f64),
        }
        prop_assert!(close(r.dmc, dmc), "{} vs {}", r.dmc, dmc);
        prop_assert_eq!(r.per_buffer.len(), per.len());
        for (b, (msum, n, min, max, size)) in per {
            let got = &r.per_buffer[&format!("b{b}")];
            prop_assert_eq!((got.read_count, got.min_dist, got.max_dist, got.size), (n, min, max, size));
            prop_assert!(close(got.avg_dist, msum / n as f64));
        }
    }

    #[test]
    fn object_cache_equals_a_list_based_lru((header, events) in trace(), cap in 1u64..400) {
        let mut caches = ObjectCaches::new(&header, &[cap]);
        events.iter().for_each(|e| caches.event(e));
        let got = caches.finish().remove(0);
        // Most recently used first: (buffer, start, end, bytes).
        let mut list: Vec<(u32, u64, u64, u64)> = Vec::new();
        let mut clock = NaiveClock { now: 0, stamp: HashMap::new() };
        let (mut hits, mut misses, mut miss_sum, mut miss_warm) = (0u64, 0u64, 0u128, 0u64);
        let insert = |list: &mut Vec<(u32, u64, u64, u64)>, b: u32, s: u64, e: u64, bytes: u64| {
            list.retain(|o| !(o.0 == b && o.1 < e && s < o.2));
            list.insert(0, (b, s, e, bytes));
            while list.iter().map(|o| o.3).sum::<u64>() > cap { list.pop(); }
        };
        for e in &events {
            let d = clock.apply(e);
            let bytes = e.len as u64 * header.buffers[e.buffer as usize].elem_size as u64;
            let (s, end) = (e.offset, e.end());
            match e.op {
                Op::Write => {
                    if bytes <= cap { insert(&mut list, e.buffer, s, end, bytes) }
                    else { list.retain(|o| !(o.0 == e.buffer && o.1 < end && s < o.2)) }
                }
                Op::Read => {
                    if let Some(i) = list.iter().position(|o| o.0 == e.buffer && o.1 <= s && end <= o.2) {
                        hits += 1;
                        let o = list.remove(i);
                        list.insert(0, o);
                    } else {
                        misses += 1;
                        miss_sum += d.iter().map(|&x| x as u128).sum::<u128>();
                        miss_warm += d.len() as u64;
                        if bytes <= cap { insert(&mut list, e.buffer, s, end, bytes) }
                    }
                }
            }
        }
        prop_assert_eq!((got.hits, got.misses, got.total_miss_floats), (hits, misses, miss_warm));
        let eff = if miss_warm == 0 { 0.0 } else { miss_sum as f64 / miss_warm as f64 };
        prop_assert!(close(got.effective_ard, eff));
    }
}
