//! `analyze energy` against a deliberately naive two-level inclusive
//! hierarchy (lists searched linearly, dirty bits beside each entry), on
//! random traces; and one trace small enough to price by hand.

use memtrace::{Buffer, Event, Header, Op, Role};
use memtrace_analyzers::energy::{Hierarchy, LevelConfig};
use memtrace_analyzers::linecache::PolicyKind;
use proptest::prelude::*;

fn trace() -> impl Strategy<Value = (Header, Vec<Event>)> {
    prop::collection::vec((1u64..48, prop::bool::ANY), 1..5).prop_flat_map(|bufs| {
        let mut h = Header::new("prop", "0");
        let roles = [Role::Parameter, Role::Activation, Role::Gradient, Role::Input];
        for (i, &(len, wide)) in bufs.iter().enumerate() {
            let b = Buffer { name: format!("b{i}"), len, elem_size: if wide { 8 } else { 4 }, role: roles[i % 4] };
            h.add_buffer(b).unwrap();
        }
        let lens: Vec<u64> = bufs.iter().map(|b| b.0).collect();
        let event = (0..lens.len(), prop::bool::ANY, any::<u64>(), any::<u64>()).prop_map(move |(b, w, x, y)| {
            let len = lens[b];
            let start = x % len;
            let n = 1 + y % (len - start);
            Event { buffer: b as u32, op: if w { Op::Write } else { Op::Read }, offset: start, len: n as u32, step: 0 }
        });
        (Just(h), prop::collection::vec(event, 0..150))
    })
}

#[derive(Debug, Default, PartialEq)]
struct Counts {
    hits: [u64; 2],
    misses: [u64; 2],
    written_back: [u64; 2],
    dram_read: u64,
    dram_written: u64,
    pj: f64,
}

/// Two LRU levels over DRAM, of `sets` sets of `ways` 64-byte lines each
/// (one set: fully associative; a line's set is its number modulo the
/// sets). Lists are most recent first, entries `(line, dirty)`.
fn naive(h: &Header, events: &[Event], l1: (usize, usize), l2: (usize, usize), pj: [f64; 3]) -> Counts {
    let mut base: Vec<Option<u64>> = vec![None; h.buffers.len()];
    let mut next = 0u64;
    let (c1, c2) = (l1.1, l2.1);
    let mut l1: Vec<Vec<(u64, bool)>> = vec![Vec::new(); l1.0];
    let mut l2: Vec<Vec<(u64, bool)>> = vec![Vec::new(); l2.0];
    let set = |sets: &mut Vec<Vec<(u64, bool)>>, line: u64| {
        let n = sets.len() as u64;
        (line % n) as usize
    };
    let mut c = Counts::default();
    for e in events {
        let b = &h.buffers[e.buffer as usize];
        let start = *base[e.buffer as usize].get_or_insert_with(|| {
            let at = next.div_ceil(64) * 64;
            next = at + b.len * b.elem_size as u64;
            at
        }) + e.offset * b.elem_size as u64;
        let bytes = e.len as u64 * b.elem_size as u64;
        c.pj += bytes as f64 / 8.0 * pj[0];
        for line in start / 64..=(start + bytes - 1) / 64 {
            let s1 = set(&mut l1, line);
            if let Some(i) = l1[s1].iter().position(|x| x.0 == line) {
                let entry = l1[s1].remove(i);
                l1[s1].insert(0, entry);
                c.hits[0] += 1;
            } else {
                c.misses[0] += 1;
                if l1[s1].len() == c1 {
                    let (victim, dirty) = l1[s1].pop().unwrap();
                    if dirty {
                        c.written_back[0] += 1;
                        c.pj += 8.0 * pj[1];
                        let sv = set(&mut l2, victim);
                        l2[sv].iter_mut().find(|x| x.0 == victim).unwrap().1 = true;
                    }
                }
                l1[s1].insert(0, (line, false));
                c.pj += 8.0 * pj[1]; // L2 supplies the line
                let s2 = set(&mut l2, line);
                if let Some(i) = l2[s2].iter().position(|x| x.0 == line) {
                    let entry = l2[s2].remove(i);
                    l2[s2].insert(0, entry);
                    c.hits[1] += 1;
                } else {
                    c.misses[1] += 1;
                    if l2[s2].len() == c2 {
                        let (victim, mut dirty) = l2[s2].pop().unwrap();
                        let sv = set(&mut l1, victim);
                        if let Some(i) = l1[sv].iter().position(|x| x.0 == victim) {
                            dirty |= l1[sv].remove(i).1;
                        }
                        if dirty {
                            c.written_back[1] += 1;
                            c.dram_written += 1;
                            c.pj += 8.0 * pj[2];
                        }
                    }
                    l2[s2].insert(0, (line, false));
                    c.dram_read += 1;
                    c.pj += 8.0 * pj[2];
                }
            }
            if e.op == Op::Write {
                let s1 = set(&mut l1, line);
                l1[s1][0].1 = true;
            }
        }
    }
    c
}

fn level(lines: u64, pj: f64) -> LevelConfig {
    LevelConfig { size_bytes: lines * 64, assoc: None, policy: PolicyKind::Lru, pj_per_word: pj }
}

fn check(header: &Header, events: &[Event], levels: [LevelConfig; 2], want: Counts) -> Result<(), TestCaseError> {
    let mut sim = Hierarchy::new(header, &levels, 64, 1300.0, 1).unwrap();
    events.iter().for_each(|e| sim.event(e));
    let r = sim.finish();
    let got = Counts {
        hits: [r.levels[0].hits, r.levels[1].hits],
        misses: [r.levels[0].misses, r.levels[1].misses],
        written_back: [r.levels[0].lines_written_back, r.levels[1].lines_written_back],
        dram_read: r.dram_lines_read,
        dram_written: r.dram_lines_written,
        pj: want.pj,
    };
    prop_assert_eq!(&got, &want);
    prop_assert!(
        (r.energy_pj.total - want.pj).abs() <= 1e-9 * want.pj.max(1.0),
        "{} vs {}",
        r.energy_pj.total,
        want.pj
    );
    let by_role: f64 = r.per_role.values().map(|j| j.total).sum();
    prop_assert!((by_role - r.energy_pj.total).abs() <= 1e-9 * want.pj.max(1.0));
    let by_level: f64 = r.energy_pj.by_level.iter().sum();
    prop_assert!((by_level - r.energy_pj.total).abs() <= 1e-9 * want.pj.max(1.0));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn the_hierarchy_equals_a_naive_inclusive_model((header, events) in trace(), c1 in 1u64..5, extra in 0u64..8) {
        let c2 = c1 + extra;
        let pj = [20.0, 100.0, 1300.0];
        let want = naive(&header, &events, (1, c1 as usize), (1, c2 as usize), pj);
        check(&header, &events, [level(c1, pj[0]), level(c2, pj[1])], want)?;
    }

    #[test]
    fn set_associative_levels_equal_the_naive_model(
        (header, events) in trace(), w1 in 1u64..4, s1 in 1u64..4, w2 in 1u64..5, s2 in 1u64..5,
    ) {
        // Set arrays with their own per-line loop, as the default levels are
        // (8 and 16 ways, 64 and 1,024 sets).
        let pj = [20.0, 100.0, 1300.0];
        let (s2, w2) = (s2 * s1, w2.max(w1));
        let want = naive(&header, &events, (s1 as usize, w1 as usize), (s2 as usize, w2 as usize), pj);
        let assoc = |sets: u64, ways: u64| if sets > 1 { Some(ways) } else { None };
        let l1 = LevelConfig { assoc: assoc(s1, w1), ..level(s1 * w1, pj[0]) };
        let l2 = LevelConfig { assoc: assoc(s2, w2), ..level(s2 * w2, pj[1]) };
        check(&header, &events, [l1, l2], want)?;
    }
}

proptest! {
    #[test]
    fn without_caches_every_line_is_read_from_dram((header, events) in trace()) {
        // The naive model's L1 requests are the trace's line requests.
        let want = naive(&header, &events, (1, 1), (1, 1), [20.0, 100.0, 1300.0]);
        let mut layout = memtrace_analyzers::linecache::LineLayout::new(&header, 64);
        let written: u64 = events
            .iter()
            .filter(|e| e.op == Op::Write)
            .map(|e| {
                let (first, last) = layout.lines(e);
                last - first + 1
            })
            .sum();
        let mut sim = Hierarchy::new(&header, &[], 64, 1300.0, 1).unwrap();
        events.iter().for_each(|e| sim.event(e));
        let r = sim.finish();
        prop_assert_eq!(r.dram_lines_read, want.hits[0] + want.misses[0]);
        prop_assert_eq!(r.dram_lines_written, written);
        prop_assert_eq!(r.energy_pj.by_level.len(), 1);
    }
}

/// One 64-byte buffer written then read twice, two steps of a batch of 4,
/// priced by hand: 3 x 64 bytes at L1 (24 words x 20 pJ), one line from L2
/// (8 x 100 pJ) and from DRAM (8 x 1,300 pJ).
#[test]
fn a_tiny_trace_priced_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.trace");
    let mut h = Header::new("test", "0");
    h.set_metadata("batch", "4");
    h.add_buffer(Buffer { name: "w".into(), len: 16, elem_size: 4, role: Role::Parameter }).unwrap();
    let mut w = memtrace::TraceWriter::create(&path, h).unwrap();
    for (op, step) in [(Op::Write, 0), (Op::Read, 0), (Op::Read, 1)] {
        w.event(Event { buffer: 0, op, offset: 0, len: 16, step }).unwrap();
    }
    w.finish().unwrap();
    let out =
        assert_cmd::Command::cargo_bin("analyze").unwrap().args(["energy", "--json"]).arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let total = 24.0 * 20.0 + 8.0 * 100.0 + 8.0 * 1300.0;
    assert_eq!(v["energy_pj"]["total"].as_f64().unwrap(), total);
    assert_eq!(v["energy_pj"]["by_level"], serde_json::json!([480.0, 800.0, 10400.0]));
    assert_eq!(v["per_role"]["parameter"]["total"].as_f64().unwrap(), total);
    assert_eq!(v["steps"], 2);
    assert_eq!(v["samples"], 8);
    assert_eq!(v["pj_per_sample"].as_f64().unwrap(), total / 8.0);
    assert_eq!(v["levels"][0]["hits"], 2);
    assert_eq!(v["levels"][0]["assoc"], 8);
    assert_eq!(v["levels"][1]["size_bytes"], 1 << 20);
    assert_eq!(v["dram_lines_read"], 1);
    assert_eq!(v["dram_lines_written"], 0);

    // Every figure can be replaced; a wrong count of them is one clear line.
    let out = assert_cmd::Command::cargo_bin("analyze")
        .unwrap()
        .args(["energy", "--json", "--level", "4KiB:full:fifo", "--pj-per-word", "1,2", "--batch", "2"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["energy_pj"]["total"].as_f64().unwrap(), 24.0 + 16.0);
    assert_eq!(v["samples"], 4);
    let out = assert_cmd::Command::cargo_bin("analyze")
        .unwrap()
        .args(["energy", "--pj-per-word", "1,2"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--pj-per-word takes 3") && err.lines().count() == 1, "{err}");
    let out = assert_cmd::Command::cargo_bin("analyze")
        .unwrap()
        .args(["energy", "--level", "32KiB:8:opt"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "clap refuses it as a bad value");
}
