//! Line policies against deliberately naive list models on random request
//! streams, and the classic properties: LRU and OPT never miss more with
//! more capacity, and OPT never misses more than any other policy.

use memtrace_analyzers::linecache::{Belady, Policy, PolicyKind, SetArrays, SetAssociative};
use proptest::prelude::*;

fn misses(p: &mut dyn Policy, reqs: &[u64]) -> usize {
    reqs.iter().filter(|&&l| !p.access(l).hit).count()
}

/// Most recent first; evicts from the back. `lru` moves hits to the front.
fn naive(reqs: &[u64], cap: usize, lru: bool) -> usize {
    let mut list: Vec<u64> = Vec::new();
    let mut m = 0;
    for &l in reqs {
        match list.iter().position(|&x| x == l) {
            Some(i) => {
                if lru {
                    list.remove(i);
                    list.insert(0, l);
                }
            }
            None => {
                m += 1;
                if cap == 0 {
                    continue;
                }
                if list.len() == cap {
                    list.pop();
                }
                list.insert(0, l);
            }
        }
    }
    m
}

/// CLOCK with one bit: a FIFO queue (oldest first); a hit sets the bit; a
/// full cache recycles set lines to the newest end, clearing the bit.
/// Without `second_chance`, a hit sets nothing: plain FIFO.
struct NaiveClock {
    cap: usize,
    q: Vec<(u64, bool)>,
    second_chance: bool,
}

impl NaiveClock {
    /// Whether `l` hit, and what it evicted.
    fn access(&mut self, l: u64) -> (bool, Option<u64>) {
        if let Some(e) = self.q.iter_mut().find(|e| e.0 == l) {
            e.1 = self.second_chance;
            return (true, None);
        }
        if self.cap == 0 {
            return (false, None);
        }
        let mut evicted = None;
        if self.q.len() == self.cap {
            while self.q[0].1 {
                let (line, _) = self.q.remove(0);
                self.q.push((line, false));
            }
            evicted = Some(self.q.remove(0).0);
        }
        self.q.push((l, false));
        (false, evicted)
    }

    fn remove(&mut self, l: u64) -> bool {
        let at = self.q.iter().position(|e| e.0 == l);
        at.map(|i| self.q.remove(i)).is_some()
    }
}

fn naive_clock(reqs: &[u64], cap: usize) -> usize {
    let mut c = NaiveClock { cap, q: Vec::new(), second_chance: true };
    reqs.iter().filter(|&&l| !c.access(l).0).count()
}

/// SIEVE: queue oldest first; the hand walks from old to new, clearing
/// visited bits and wrapping to the oldest; it stays where it evicted.
/// SIEVE as the paper and libCacheSim describe it: a queue, oldest first,
/// a visited bit per line, and a hand that remembers the line it stopped at
/// (the one after its last victim, toward the newest; none: the oldest).
struct NaiveSieve {
    cap: usize,
    q: Vec<(u64, bool)>,
    hand: Option<u64>,
}

impl NaiveSieve {
    /// Whether `l` hit, and what it evicted.
    fn access(&mut self, l: u64) -> (bool, Option<u64>) {
        if let Some(e) = self.q.iter_mut().find(|e| e.0 == l) {
            e.1 = true;
            return (true, None);
        }
        if self.cap == 0 {
            return (false, None);
        }
        let mut evicted = None;
        if self.q.len() == self.cap {
            let mut i = self.hand.and_then(|h| self.q.iter().position(|e| e.0 == h)).unwrap_or(0);
            while self.q[i].1 {
                self.q[i].1 = false;
                i = if i + 1 == self.q.len() { 0 } else { i + 1 };
            }
            evicted = Some(self.q.remove(i).0);
            self.hand = self.q.get(i).map(|e| e.0);
        }
        self.q.push((l, false));
        (false, evicted)
    }

    /// A removed line under the hand hands it to the next newer line.
    fn remove(&mut self, l: u64) -> bool {
        let Some(i) = self.q.iter().position(|e| e.0 == l) else { return false };
        if self.hand == Some(l) {
            self.hand = self.q.get(i + 1).map(|e| e.0);
        }
        self.q.remove(i);
        true
    }
}

fn naive_sieve(reqs: &[u64], cap: usize) -> usize {
    let mut s = NaiveSieve { cap, q: Vec::new(), hand: None };
    reqs.iter().filter(|&&l| !s.access(l).0).count()
}

/// LRU as a list, oldest first: a hit moves to the back, a miss when full
/// evicts the front.
struct NaiveLru {
    cap: usize,
    q: Vec<u64>,
}

impl NaiveLru {
    /// Whether `l` hit, and what it evicted.
    fn access(&mut self, l: u64) -> (bool, Option<u64>) {
        if let Some(i) = self.q.iter().position(|&x| x == l) {
            self.q.remove(i);
            self.q.push(l);
            return (true, None);
        }
        if self.cap == 0 {
            return (false, None);
        }
        let evicted = (self.q.len() == self.cap).then(|| self.q.remove(0));
        self.q.push(l);
        (false, evicted)
    }

    fn remove(&mut self, l: u64) -> bool {
        let at = self.q.iter().position(|&x| x == l);
        at.map(|i| self.q.remove(i)).is_some()
    }
}

/// LFU: evicts the least frequently used line (hits while cached, a new line
/// counts 1), the least recently used among equals.
fn naive_lfu(reqs: &[u64], cap: usize) -> usize {
    let mut cached: Vec<(u64, u64, usize)> = Vec::new(); // (line, frequency, last use)
    let mut m = 0;
    for (t, &l) in reqs.iter().enumerate() {
        if let Some(e) = cached.iter_mut().find(|e| e.0 == l) {
            e.1 += 1;
            e.2 = t;
            continue;
        }
        m += 1;
        if cap == 0 {
            continue;
        }
        if cached.len() == cap {
            let victim = (0..cached.len()).min_by_key(|&i| (cached[i].1, cached[i].2)).unwrap();
            cached.remove(victim);
        }
        cached.push((l, 1, t));
    }
    m
}

/// ARC (Megiddo and Modha) as libCacheSim runs it, on four Vecs (most
/// recent first) searched linearly.
fn naive_arc(reqs: &[u64], c: usize) -> usize {
    let (mut t1, mut t2, mut b1, mut b2): (Vec<u64>, Vec<u64>, Vec<u64>, Vec<u64>) = Default::default();
    let mut p = 0.0f64;
    let mut m = 0;
    // REPLACE: the LRU line of T1 (or T2) moves to the front of its ghost list.
    let replace = |t1: &mut Vec<u64>, t2: &mut Vec<u64>, b1: &mut Vec<u64>, b2: &mut Vec<u64>, p: f64, in_b2: bool| {
        let n1 = t1.len() as f64;
        let from_t1 = (!t1.is_empty() && (n1 > p || (n1 == p && in_b2))) || t2.is_empty();
        let (t, b) = if from_t1 { (t1, b1) } else { (t2, b2) };
        if let Some(l) = t.pop() {
            b.insert(0, l);
        }
    };
    for &l in reqs {
        if let Some(i) = t1.iter().position(|&x| x == l) {
            t1.remove(i);
            t2.insert(0, l);
            continue;
        }
        if let Some(i) = t2.iter().position(|&x| x == l) {
            t2.remove(i);
            t2.insert(0, l);
            continue;
        }
        m += 1;
        let (n1, n2) = (b1.len() as f64, b2.len() as f64);
        let ghost = if let Some(i) = b1.iter().position(|&x| x == l) {
            p = (p + (n2 / n1).max(1.0)).min(c as f64);
            b1.remove(i);
            Some(false)
        } else if let Some(i) = b2.iter().position(|&x| x == l) {
            p = (p - (n1 / n2).max(1.0)).max(0.0);
            b2.remove(i);
            Some(true)
        } else {
            None
        };
        if c == 0 {
            continue;
        }
        while t1.len() + t2.len() + 1 > c {
            match ghost {
                Some(in_b2) => replace(&mut t1, &mut t2, &mut b1, &mut b2, p, in_b2),
                None if t1.len() + b1.len() + 1 > c => {
                    if b1.pop().is_some() {
                        replace(&mut t1, &mut t2, &mut b1, &mut b2, p, false);
                    } else {
                        t1.pop();
                    }
                }
                None => {
                    if t1.len() + b1.len() + t2.len() + b2.len() >= 2 * c {
                        b2.pop();
                    }
                    replace(&mut t1, &mut t2, &mut b1, &mut b2, p, false);
                }
            }
        }
        if ghost.is_some() {
            t2.insert(0, l);
        } else {
            t1.insert(0, l);
        }
    }
    m
}

/// S3-FIFO as libCacheSim's S3FIFO-0.1000-2 (lines/README.md): Vecs of
/// `(line, frequency)`, newest first.
fn naive_s3fifo(reqs: &[u64], c: usize) -> usize {
    let small_cap = (c as f64 * 0.10) as usize;
    let main_cap = c - small_cap;
    let ghost_cap = (c as f64 * 0.90) as usize;
    let mut small: Vec<(u64, u32)> = Vec::new();
    let mut main: Vec<(u64, u32)> = Vec::new();
    let mut ghost: Vec<u64> = Vec::new();
    let mut m = 0;
    for &l in reqs {
        if let Some(e) = small.iter_mut().chain(main.iter_mut()).find(|e| e.0 == l) {
            e.1 += 1;
            continue;
        }
        m += 1;
        let ghost_hit = ghost.iter().position(|&x| x == l).map(|i| ghost.remove(i)).is_some();
        if small_cap < 1 || c < 1 {
            continue;
        }
        while small.len() + main.len() + 1 > c {
            if main.len() > main_cap || small.is_empty() {
                // Main is a 2-bit clock: a line hit since it was last looked at goes round again.
                while let Some((line, f)) = main.pop() {
                    if f >= 1 {
                        main.insert(0, (line, f.min(3) - 1));
                    } else {
                        break;
                    }
                }
            } else {
                // The small FIFO promotes lines hit twice, drops the rest into the ghost.
                while let Some((line, f)) = small.pop() {
                    if f >= 2 {
                        main.insert(0, (line, 0));
                    } else {
                        let known = small.iter().chain(&main).any(|e| e.0 == line) || ghost.contains(&line);
                        if ghost_cap > 0 && !known {
                            ghost.truncate(ghost_cap - 1);
                            ghost.insert(0, line);
                        }
                        break;
                    }
                }
            }
        }
        if ghost_hit {
            main.insert(0, (l, 0));
        } else if small_cap > 1 {
            small.insert(0, (l, 0));
        }
    }
    m
}

#[test]
fn clock_turned_into_a_list_mid_sweep_keeps_the_lines_it_would_pass() {
    // 128 lines, 10..=20 hit; 5 misses take lines 0..=4, the hand now
    // inside its first word with referenced lines ahead of it. The first
    // removal turns the array into the list: the lines ahead keep their
    // bits (passed, not evicted), and the hand goes on from line 5.
    let mut reqs: Vec<u64> = (0..128).collect();
    reqs.extend(10..=20);
    reqs.extend(1000..1005);
    let removed = 100;
    let after: Vec<u64> = (2000..2040).chain(10..=20).chain(3000..3200).collect();
    let mut clock = PolicyKind::Clock.build(128).unwrap();
    let mut model = NaiveClock { cap: 128, q: Vec::new(), second_chance: true };
    for (i, &l) in reqs.iter().enumerate() {
        let a = clock.access(l);
        assert_eq!((a.hit, a.evicted), model.access(l), "request {i}");
    }
    assert_eq!(clock.remove(removed), model.remove(removed));
    for (i, &l) in after.iter().enumerate() {
        let a = clock.access(l);
        assert_eq!((a.hit, a.evicted), model.access(l), "request {i} after the removal");
    }
    // The lines passed were kept through the list's first pass: they hit.
    let mut c = PolicyKind::Clock.build(128).unwrap();
    for &l in &reqs {
        c.access(l);
    }
    c.remove(removed);
    for l in 2000..2040 {
        c.access(l);
    }
    assert!((10..=20).all(|l| c.access(l).hit));
}

/// CLOCK and FIFO against [`NaiveClock`] request for request (hits and
/// victims); after request `i` of line `l`, `removal(i, l)` names a line to
/// take out of both, if any.
fn clock_and_fifo_against_the_queue_model(
    reqs: &[u64],
    cap: usize,
    removal: impl Fn(usize, u64) -> Option<u64>,
) -> Result<(), TestCaseError> {
    for (kind, second_chance) in [(PolicyKind::Clock, true), (PolicyKind::Fifo, false)] {
        let mut clock = kind.build(cap as u64).unwrap();
        let mut model = NaiveClock { cap, q: Vec::new(), second_chance };
        for (i, &l) in reqs.iter().enumerate() {
            let a = clock.access(l);
            prop_assert_eq!((a.hit, a.evicted), model.access(l), "{} request {}", kind.name(), i);
            if let Some(victim) = removal(i, l) {
                prop_assert_eq!(
                    clock.remove(victim),
                    model.remove(victim),
                    "{} removal after request {}",
                    kind.name(),
                    i
                );
            }
        }
    }
    Ok(())
}

fn stream() -> impl Strategy<Value = Vec<u64>> {
    prop::collection::vec(0u64..24, 0..400)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn lru_and_fifo_equal_list_models(reqs in stream(), cap in 0usize..20) {
        prop_assert_eq!(misses(&mut *PolicyKind::Lru.build(cap as u64).unwrap(), &reqs), naive(&reqs, cap, true));
        prop_assert_eq!(misses(&mut *PolicyKind::Fifo.build(cap as u64).unwrap(), &reqs), naive(&reqs, cap, false));
    }

    #[test]
    fn clock_sieve_and_lfu_equal_naive_models(reqs in stream(), cap in 0usize..20) {
        prop_assert_eq!(misses(&mut *PolicyKind::Clock.build(cap as u64).unwrap(), &reqs), naive_clock(&reqs, cap));
        prop_assert_eq!(misses(&mut *PolicyKind::Sieve.build(cap as u64).unwrap(), &reqs), naive_sieve(&reqs, cap));
        prop_assert_eq!(misses(&mut *PolicyKind::Lfu.build(cap as u64).unwrap(), &reqs), naive_lfu(&reqs, cap));
    }

    #[test]
    fn arc_and_s3fifo_equal_naive_models(reqs in stream(), cap in 0usize..30) {
        prop_assert_eq!(misses(&mut *PolicyKind::Arc.build(cap as u64).unwrap(), &reqs), naive_arc(&reqs, cap));
        prop_assert_eq!(misses(&mut *PolicyKind::S3fifo.build(cap as u64).unwrap(), &reqs), naive_s3fifo(&reqs, cap));
    }

    #[test]
    fn opt_equals_a_naive_farthest_next_use(reqs in stream(), cap in 0usize..20) {
        // On a miss, insert; if full, evict the resident line whose next request is farthest (never: farthest).
        let next = |from: usize, l: u64| reqs[from..].iter().position(|&x| x == l).unwrap_or(usize::MAX);
        let mut cached: Vec<u64> = Vec::new();
        let mut m = 0;
        for (k, &l) in reqs.iter().enumerate() {
            if cached.contains(&l) {
                continue;
            }
            m += 1;
            if cap == 0 {
                continue;
            }
            if cached.len() == cap {
                let victim = (0..cached.len()).max_by_key(|&i| next(k + 1, cached[i])).unwrap();
                cached.remove(victim);
            }
            cached.push(l);
        }
        prop_assert_eq!(misses(&mut Belady::new(cap as u64, &reqs), &reqs), m);
    }

    #[test]
    fn clock_and_fifo_equal_the_queue_model_request_for_request(reqs in stream(), cap in 0usize..12, every in 2usize..7) {
        // Against a queue whose tail is moved to the head: hits, victims
        // and back-invalidations (`energy`'s), the first of which turns the
        // array into the circular list; FIFO is the hand without reference bits.
        clock_and_fifo_against_the_queue_model(&reqs, cap, |i, l| (i % every == 0).then_some((l * 7) % 24))?;
    }

    #[test]
    fn clock_and_fifo_equal_the_queue_model_across_words(
        reqs in prop::collection::vec(prop_oneof![0u64..48, 0u64..200, 0u64..700], 0..2500),
        cap in 1usize..300,
        every in 3usize..60,
        first_removal in 0usize..3000,
    ) {
        // The array form (`cache`'s) over capacities of several 64-line
        // words, one that is not a multiple of 64, growth while filling, a
        // hot set that leaves runs of referenced lines (whole words of them)
        // for the hand to pass, and wrapping; then, from the first removal
        // on (if any), the list it turns into, carrying the hand, its
        // half-swept word and the bits.
        clock_and_fifo_against_the_queue_model(&reqs, cap, |i, _| {
            (i >= first_removal && i % every == 0).then(|| reqs[(i * 31) % reqs.len()])
        })?;
    }

    #[test]
    fn lru_and_sieve_equal_their_list_models_request_for_request(reqs in stream(), cap in 0usize..12, every in 2usize..7) {
        // Circular lists against the plain queues: hits, victims and
        // back-invalidations (`energy`'s), with the hand of SIEVE carried
        // across removals.
        let mut lru = PolicyKind::Lru.build(cap as u64).unwrap();
        let mut lru_model = NaiveLru { cap, q: Vec::new() };
        let mut sieve = PolicyKind::Sieve.build(cap as u64).unwrap();
        let mut sieve_model = NaiveSieve { cap, q: Vec::new(), hand: None };
        for (i, &l) in reqs.iter().enumerate() {
            let a = lru.access(l);
            prop_assert_eq!((a.hit, a.evicted), lru_model.access(l), "lru request {}", i);
            let a = sieve.access(l);
            prop_assert_eq!((a.hit, a.evicted), sieve_model.access(l), "sieve request {}", i);
            if i % every == 0 {
                let victim = (l * 7) % 24;
                prop_assert_eq!(lru.remove(victim), lru_model.remove(victim), "lru removal after request {}", i);
                prop_assert_eq!(sieve.remove(victim), sieve_model.remove(victim), "sieve removal after request {}", i);
            }
        }
    }

    #[test]
    fn removing_a_line_is_forgetting_it(reqs in stream(), cap in 1u64..12, every in 2usize..7) {
        // After remove(l), the next request of l misses, for every policy; a
        // resident line is removed, a missing one is not.
        // Every policy of the table but opt, which needs the future.
        for kind in PolicyKind::all().filter(|k| *k != PolicyKind::Opt) {
            let mut p = kind.build(cap).unwrap();
            for (i, &l) in reqs.iter().enumerate() {
                let a = p.access(l);
                if i % every == 0 {
                    prop_assert_eq!(p.remove(l), a.resident, "{}", kind.name());
                    prop_assert!(!p.remove(l));
                    prop_assert!(!p.access(l).hit, "{} hit a removed line", kind.name());
                }
            }
        }
    }

    #[test]
    fn set_associative_lru_equals_independent_list_models(reqs in stream(), ways in 1usize..5, sets in 1usize..5) {
        for (kind, lru) in [(PolicyKind::Lru, true), (PolicyKind::Fifo, false)] {
            let expected: usize = (0..sets as u64)
                .map(|s| naive(&reqs.iter().copied().filter(|l| l % sets as u64 == s).collect::<Vec<_>>(), ways, lru))
                .sum();
            let mut queues = SetAssociative::new(kind, (ways * sets) as u64, ways as u64).unwrap();
            prop_assert_eq!(misses(&mut queues, &reqs), expected);
            let mut arrays = SetArrays::new((ways * sets) as u64, ways as u64, lru);
            prop_assert_eq!(misses(&mut arrays, &reqs), expected);
        }
    }

    #[test]
    fn set_arrays_equal_set_associative_queues_request_for_request(
        reqs in stream(), ways in prop::sample::select(vec![1usize, 2, 3, 5, 8, 16]), sets in 1usize..6, every in 2usize..9,
        spread in 0usize..3,
    ) {
        // 8 and 16 ways have their own eviction path, which 24 distinct lines exercise in few sets.
        // Hits, evicted lines and back-invalidations, which `energy` relies on.
        // Lines as small numbers, spread out (the arrays' hints grow), or a third of them
        // far beyond the hints, sharing sets with near ones (found by a scan).
        let line = |l: u64| match spread {
            0 => l,
            1 => l * 5003,
            _ if l.is_multiple_of(3) => l + (1 << 40),
            _ => l,
        };
        for (kind, lru) in [(PolicyKind::Lru, true), (PolicyKind::Fifo, false)] {
            let mut queues = SetAssociative::new(kind, (ways * sets) as u64, ways as u64).unwrap();
            let mut arrays = SetArrays::new((ways * sets) as u64, ways as u64, lru);
            for (i, &l) in reqs.iter().enumerate() {
                let l = line(l);
                prop_assert_eq!(arrays.access(l), queues.access(l), "{} request {}", kind.name(), i);
                if i % every == 0 {
                    let victim = line((l * 7) % 24);
                    prop_assert_eq!(arrays.remove(victim), queues.remove(victim));
                }
            }
        }
    }

    #[test]
    fn lru_and_opt_never_miss_more_with_more_capacity(reqs in stream(), cap in 1u64..20) {
        let lru = |c| misses(&mut *PolicyKind::Lru.build(c).unwrap(), &reqs);
        let opt = |c| misses(&mut Belady::new(c, &reqs), &reqs);
        prop_assert!(lru(cap + 1) <= lru(cap));
        prop_assert!(opt(cap + 1) <= opt(cap));
    }

    #[test]
    fn opt_never_misses_more_than_any_policy(reqs in stream(), cap in 1u64..20) {
        let best = misses(&mut Belady::new(cap, &reqs), &reqs);
        for kind in PolicyKind::all().filter(|k| *k != PolicyKind::Opt) {
            let m = misses(&mut *kind.build(cap).unwrap(), &reqs);
            prop_assert!(best <= m, "{} missed {} < opt {}", kind.name(), m, best);
        }
    }

    #[test]
    fn every_policy_hits_only_what_it_holds(reqs in stream(), cap in 1u64..12) {
        // A hit needs an earlier request of the line; the first request always misses.
        // Every policy of the table but opt, which needs the future.
        for kind in PolicyKind::all().filter(|k| *k != PolicyKind::Opt) {
            let mut p = kind.build(cap).unwrap();
            let mut seen = std::collections::HashSet::new();
            for &l in &reqs {
                let a = p.access(l);
                prop_assert!(!a.hit || seen.contains(&l), "{} hit a line never requested", kind.name());
                seen.insert(l);
            }
        }
    }
}

/// The simulator (`cache --granularity line`) against the naive models
/// line by line: the layout expands events to lines, every line is a
/// request that allocates on a miss, and a dirty line evicted is written
/// back to its owner's account. Events are long runs of lines over buffers
/// larger than the cache, so that CLOCK and FIFO take stretches of absent
/// lines at once; one buffer is so large that the ones placed after it
/// lie beyond the flat line table.
mod simulator {
    use std::collections::{BTreeMap, HashSet};

    use memtrace::{Buffer, Event, Header, Op, Role};
    use memtrace_analyzers::linecache::{requests, LineCacheSim, LineConfig, LineLayout, PolicyKind, Traffic};
    use proptest::prelude::*;

    use super::{NaiveClock, NaiveLru, NaiveSieve};

    const BUFFERS: [(&str, u64, u32); 4] = [("a", 2000, 4), ("b", 300, 64), ("c", 700, 8), ("huge", 1 << 30, 4)];

    fn header() -> Header {
        let mut h = Header::new("sim", "0");
        for (name, len, elem_size) in BUFFERS {
            h.add_buffer(Buffer { name: name.into(), len, elem_size, role: Role::Other }).unwrap();
        }
        h
    }

    /// Events within their buffers (the huge one touched near its start),
    /// a third of them from a buffer's start and a third to its end, so
    /// that the lines of two buffers often come in, and leave, together.
    fn events() -> impl Strategy<Value = Vec<Event>> {
        let event =
            (0usize..4, 0u64..3, 0u64..2000, 1u64..400, any::<bool>()).prop_map(|(b, at, offset, len, write)| {
                let size = BUFFERS[b].1.min(2000);
                let len = len.min(size);
                let offset = match at {
                    0 => 0,
                    1 => size - len,
                    _ => offset % (size - len + 1),
                };
                let len = len as u32;
                let op = if write { Op::Write } else { Op::Read };
                Event { buffer: b as u32, op, offset, len, step: 0 }
            });
        prop::collection::vec(event, 0..40)
    }

    /// Short runs over one buffer of line-sized elements and a small cache:
    /// hits that mark lines visited (SIEVE) or referenced (CLOCK) between
    /// stretches, and stretches that go round the whole cache.
    fn short_events() -> impl Strategy<Value = Vec<Event>> {
        let event = (0u64..60, 1u32..14, any::<bool>()).prop_map(|(offset, len, write)| {
            let op = if write { Op::Write } else { Op::Read };
            Event { buffer: 1, op, offset, len, step: 0 }
        });
        prop::collection::vec(event, 0..150)
    }

    /// Whole-cache and per-buffer traffic of `model` (hit, victim) over the events' lines.
    fn naive_traffic(
        h: &Header,
        events: &[Event],
        mut model: impl FnMut(u64) -> (bool, Option<u64>),
    ) -> (Traffic, BTreeMap<String, Traffic>) {
        let mut layout = LineLayout::new(h, 64);
        let reqs: Vec<(u64, bool, u32)> = requests(&mut layout, events).collect();
        let mut dirty = HashSet::new();
        let (mut total, mut per) = (Traffic::default(), vec![Traffic::default(); h.buffers.len()]);
        for (line, write, buffer) in reqs {
            let (hit, victim) = model(line);
            if let Some(v) = victim.filter(|v| dirty.remove(v)) {
                total.bytes_written_back += 64;
                per[layout.owner(v).unwrap() as usize].bytes_written_back += 64;
            }
            if write {
                dirty.insert(line);
            }
            for t in [&mut total, &mut per[buffer as usize]] {
                match (write, hit) {
                    (false, true) => t.read_hits += 1,
                    (false, false) => t.read_misses += 1,
                    (true, true) => t.write_hits += 1,
                    (true, false) => t.write_misses += 1,
                }
                t.bytes_in += if hit { 0 } else { 64 };
            }
        }
        let per = h.buffers.iter().zip(per).filter(|(_, t)| *t != Traffic::default());
        (total, per.map(|(b, t)| (b.name.clone(), t)).collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(150))]

        #[test]
        fn line_caches_equal_the_naive_models_over_runs_of_lines(events in events(), cap in 1usize..150) {
            line_caches_against_the_naive_models(&events, cap)?;
        }

        #[test]
        fn line_caches_equal_the_naive_models_over_short_runs(events in short_events(), cap in 1usize..30) {
            line_caches_against_the_naive_models(&events, cap)?;
        }
    }

    /// The four policies of the simulator against their naive models.
    fn line_caches_against_the_naive_models(events: &[Event], cap: usize) -> Result<(), TestCaseError> {
        let h = header();
        for policy in [PolicyKind::Clock, PolicyKind::Fifo, PolicyKind::Lru, PolicyKind::Sieve] {
            let cfg = LineConfig { policy, size_bytes: 64 * cap as u64, line: 64, assoc: None };
            let mut sim = LineCacheSim::new(&h, cfg, None);
            for e in events {
                sim.event(e);
            }
            let got = sim.finish();
            let (total, per_buffer) = match policy {
                PolicyKind::Clock | PolicyKind::Fifo => {
                    let mut m = NaiveClock { cap, q: Vec::new(), second_chance: policy == PolicyKind::Clock };
                    naive_traffic(&h, events, |l| m.access(l))
                }
                PolicyKind::Lru => {
                    let mut m = NaiveLru { cap, q: Vec::new() };
                    naive_traffic(&h, events, |l| m.access(l))
                }
                _ => {
                    let mut m = NaiveSieve { cap, q: Vec::new(), hand: None };
                    naive_traffic(&h, events, |l| m.access(l))
                }
            };
            prop_assert_eq!(got.traffic, total, "{} in total", policy.name());
            prop_assert_eq!(got.per_buffer, per_buffer, "{} by buffer", policy.name());
        }
        Ok(())
    }
}

mod mrc {
    use memtrace::{Buffer, Event, Header, Op, Role};
    use memtrace_analyzers::linecache::PolicyKind;
    use memtrace_analyzers::mrc::Mrc;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// One pass gives, at every size, what a separate LRU simulation gives.
        #[test]
        fn the_curve_equals_separate_simulations_at_every_size(lines in prop::collection::vec(0u64..40, 0..300)) {
            let mut h = Header::new("p", "0");
            h.add_buffer(Buffer { name: "b".into(), len: 40, elem_size: 64, role: Role::Other }).unwrap();
            let mut m = Mrc::new(&h, 64, 1.0);
            for &l in &lines {
                m.event(&Event { buffer: 0, op: Op::Read, offset: l, len: 1, step: 0 });
            }
            let curve = m.finish();
            // The buffer's first appearance puts it at address 0: element l is line l.
            for cap in 0u64..42 {
                let mut lru = PolicyKind::Lru.build(cap).unwrap();
                let sim = lines.iter().filter(|&&l| !lru.access(l).hit).count() as u64;
                prop_assert_eq!(curve.misses_at(cap * 64), sim, "capacity {}", cap);
            }
        }
    }
}
