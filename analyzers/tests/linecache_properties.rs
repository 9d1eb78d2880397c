//! Line policies against deliberately naive list models on random request
//! streams, and the classic properties: LRU and OPT never miss more with
//! more capacity, and OPT never misses more than any other policy.

use memtrace_analyzers::linecache::{Belady, Policy, PolicyKind, SetAssociative};
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

fn stream() -> impl Strategy<Value = Vec<u64>> {
    prop::collection::vec(0u64..24, 0..400)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn lru_and_fifo_equal_list_models(reqs in stream(), cap in 0usize..20) {
        prop_assert_eq!(misses(&mut *PolicyKind::Lru.build(cap as u64), &reqs), naive(&reqs, cap, true));
        prop_assert_eq!(misses(&mut *PolicyKind::Fifo.build(cap as u64), &reqs), naive(&reqs, cap, false));
    }

    #[test]
    fn set_associative_lru_equals_independent_list_models(reqs in stream(), ways in 1usize..5, sets in 1usize..5) {
        let mut sa = SetAssociative::new(PolicyKind::Lru, (ways * sets) as u64, ways as u64);
        let expected: usize = (0..sets as u64)
            .map(|s| naive(&reqs.iter().copied().filter(|l| l % sets as u64 == s).collect::<Vec<_>>(), ways, true))
            .sum();
        prop_assert_eq!(misses(&mut sa, &reqs), expected);
    }

    #[test]
    fn lru_and_opt_never_miss_more_with_more_capacity(reqs in stream(), cap in 1u64..20) {
        let lru = |c| misses(&mut *PolicyKind::Lru.build(c), &reqs);
        let opt = |c| misses(&mut Belady::new(c, &reqs), &reqs);
        prop_assert!(lru(cap + 1) <= lru(cap));
        prop_assert!(opt(cap + 1) <= opt(cap));
    }

    #[test]
    fn opt_never_misses_more_than_any_policy(reqs in stream(), cap in 1u64..20) {
        let best = misses(&mut Belady::new(cap, &reqs), &reqs);
        for kind in [PolicyKind::Lru, PolicyKind::Fifo, PolicyKind::Clock, PolicyKind::Sieve, PolicyKind::Lfu,
                     PolicyKind::Arc, PolicyKind::S3fifo, PolicyKind::Random] {
            let m = misses(&mut *kind.build(cap), &reqs);
            prop_assert!(best <= m, "{} missed {} < opt {}", kind.name(), m, best);
        }
    }

    #[test]
    fn every_policy_hits_only_what_it_holds(reqs in stream(), cap in 1u64..12) {
        // A hit needs an earlier request of the line; the first request always misses.
        for kind in [PolicyKind::Lru, PolicyKind::Fifo, PolicyKind::Clock, PolicyKind::Sieve, PolicyKind::Lfu,
                     PolicyKind::Arc, PolicyKind::S3fifo, PolicyKind::Random] {
            let mut p = kind.build(cap);
            let mut seen = std::collections::HashSet::new();
            for &l in &reqs {
                let a = p.access(l);
                prop_assert!(!a.hit || seen.contains(&l), "{} hit a line never requested", kind.name());
                seen.insert(l);
            }
        }
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
                let mut lru = PolicyKind::Lru.build(cap);
                let sim = lines.iter().filter(|&&l| !lru.access(l).hit).count() as u64;
                prop_assert_eq!(curve.misses_at(cap * 64), sim, "capacity {}", cap);
            }
        }
    }
}
