//! `analyze dmd` against the researchers' own figures: every value of every
//! `.summary.json` in `tests/data/reference/dmd/` (a copy of
//! `../shared/reference/dmd/`), for the single-assignment trace and the
//! hand-placed schedule of each algorithm, at 1 and 4 bytes per element,
//! under both clocks.

use crate::common;

use memtrace::Header;
use memtrace_analyzers::dmd::{Clock, DmdConfig, DmdReport, Scan};
use serde_json::Value;

fn algorithms() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(common::reference().join("dmd"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".summary.json").map(String::from))
        .collect();
    names.sort();
    assert_eq!(names.len(), 5, "the five algorithms of the reference grid");
    names
}

fn import(csv: &std::path::Path, dir: &tempfile::TempDir) -> std::path::PathBuf {
    let out = dir.path().join(format!("{}.trace", csv.file_name().unwrap().to_string_lossy()));
    memtrace::import::import_csv(csv, &out, Header::new("dmd-conformance", "0")).unwrap();
    out
}

fn dmd(trace: &std::path::Path, bytes: u32, clock: Clock) -> DmdReport {
    let config = DmdConfig { bytes_per_element: Some(bytes), clock };
    let open = || memtrace::TraceReader::open(trace).unwrap();
    let second = memtrace_analyzers::replay(open(), |h| Scan::new(h, config)).unwrap();
    memtrace_analyzers::replay(open(), |_| second).unwrap()
}

#[test]
fn every_reference_value_through_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for name in algorithms() {
        let summary = common::read_json(common::reference().join("dmd").join(format!("{name}.summary.json")));
        for (kind, file) in [("events", format!("{name}.events.csv")), ("placed", format!("{name}.placed.events.csv"))]
        {
            let trace = import(&common::reference().join("dmd").join(file), &dir);
            for bytes in [1u32, 4] {
                let expected = &summary[kind][format!("bpe{bytes}")];
                let by_events = dmd(&trace, bytes, Clock::Events);
                let mut actual = serde_json::to_value(&by_events).unwrap();
                if expected.get("space_dmd_clock_steps").is_some() {
                    actual["space_dmd_clock_steps"] = Value::from(dmd(&trace, bytes, Clock::Steps).space_dmd);
                }
                for (key, want) in expected.as_object().unwrap() {
                    checked += 1;
                    if actual[key] != *want {
                        failures.push(format!("{name} {kind} b={bytes} {key}: want {want}, got {}", actual[key]));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {checked} values differ:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(checked, 5 * 2 * (7 + 5));
}

/// The contract of `tests/data/reference/dmd/README.md`, written for
/// clarity: stacks are lists searched from the top, ranks a global sort,
/// the live set a list. The oracle of the fast analyzer.
mod naive {
    use std::collections::HashMap;

    use memtrace::{Event, Header, Op, Role};

    /// `ceil(sqrt(j))`: the least `r` with `r * r >= j`.
    fn ceil_sqrt(j: u64) -> u64 {
        let mut r = 0;
        while r * r < j {
            r += 1;
        }
        r
    }

    /// A read at element depth `d`, every one of its `b` bytes at its own depth.
    fn price(d: u64, b: u64) -> u64 {
        ((d - 1) * b + 1..=d * b).map(ceil_sqrt).sum()
    }

    /// One element access, ranges taken apart.
    struct Access {
        read: bool,
        buffer: usize,
        offset: u64,
        time: u64,
    }

    struct Value {
        birth: u64,
        last: u64,
        reads: u64,
        /// Index of the access that is its last read.
        last_read: Option<usize>,
    }

    #[derive(Default, Debug, PartialEq, Eq)]
    pub struct Costs {
        pub loads: u64,
        pub stores: u64,
        pub cold_loads: u64,
        pub classic: u64,
        pub live: u64,
        pub space: u64,
        pub address: u64,
        pub per_buffer: Vec<[u64; 5]>,
    }

    pub fn costs(header: &Header, events: &[Event], bytes: Option<u32>, steps_clock: bool) -> Costs {
        let b = |buf: usize| bytes.unwrap_or(header.buffers[buf].elem_size) as u64;
        // Argument positions: input buffers in id order, then offset.
        let mut arg_base = HashMap::new();
        let mut next = 1;
        for (i, buf) in header.buffers.iter().enumerate() {
            if buf.role == Role::Input {
                arg_base.insert(i, next);
                next += buf.len;
            }
        }
        let cold_depth = |buf: usize, off: u64| arg_base.get(&buf).map_or(1, |base| base + off);
        let mut accesses = Vec::new();
        for e in events {
            for offset in e.offset..e.end() {
                let time = if steps_clock { e.step as u64 } else { accesses.len() as u64 };
                accesses.push(Access { read: e.op == Op::Read, buffer: e.buffer as usize, offset, time });
            }
        }
        // Values: which value each access touches, and each value's future.
        let mut values: Vec<Value> = Vec::new();
        let mut holds: HashMap<(usize, u64), usize> = HashMap::new();
        let mut value_of = Vec::new();
        let mut cold = Vec::new();
        for (i, a) in accesses.iter().enumerate() {
            let key = (a.buffer, a.offset);
            let fresh = !a.read || !holds.contains_key(&key);
            cold.push(a.read && fresh);
            if fresh {
                values.push(Value { birth: a.time, last: a.time, reads: 0, last_read: None });
                holds.insert(key, values.len() - 1);
            }
            let v = holds[&key];
            if a.read {
                values[v].reads += 1;
                values[v].last = a.time;
                values[v].last_read = Some(i);
            }
            value_of.push(v);
        }
        // Ranks: higher density, more reads, earlier birth, earlier first event.
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|&x, &y| {
            let (vx, vy) = (&values[x], &values[y]);
            let dx = vx.reads as u128 * (vy.last - vy.birth + 1) as u128;
            let dy = vy.reads as u128 * (vx.last - vx.birth + 1) as u128;
            dy.cmp(&dx).then(vy.reads.cmp(&vx.reads)).then(vx.birth.cmp(&vy.birth)).then(x.cmp(&y))
        });
        let mut rank = vec![0; values.len()];
        for (r, &v) in order.iter().enumerate() {
            rank[v] = r;
        }

        let mut out = Costs { per_buffer: vec![[0; 5]; header.buffers.len()], ..Costs::default() };
        let mut classic: Vec<(usize, u64)> = Vec::new(); // elements, top first
        let mut live: Vec<usize> = Vec::new(); // values, top first
        let mut placed: Vec<usize> = Vec::new(); // live values of space_dmd
        let mut i = 0;
        while i < accesses.len() {
            let t = accesses[i].time;
            let group_end = (i..accesses.len()).find(|&j| accesses[j].time != t).unwrap_or(accesses.len());
            for (v, val) in values.iter().enumerate() {
                if val.birth == t {
                    placed.push(v);
                }
            }
            for j in i..group_end {
                let a = &accesses[j];
                let v = value_of[j];
                let key = (a.buffer, a.offset);
                let bb = b(a.buffer);
                let pb = &mut out.per_buffer[a.buffer];
                if !a.read {
                    out.stores += 1;
                    classic.retain(|&k| k != key);
                    classic.insert(0, key);
                    if values[v].reads > 0 {
                        live.insert(0, v);
                    }
                    continue;
                }
                out.loads += 1;
                pb[0] += 1;
                let (dc, dl, ds) = if cold[j] {
                    out.cold_loads += 1;
                    let d = cold_depth(a.buffer, a.offset);
                    let is_arg = arg_base.contains_key(&a.buffer);
                    let s = if is_arg { d } else { placed.iter().filter(|&&u| rank[u] <= rank[v]).count() as u64 };
                    (d, d, s)
                } else {
                    let dc = classic.iter().position(|&k| k == key).unwrap() as u64 + 1;
                    let dl = live.iter().position(|&u| u == v).unwrap() as u64 + 1;
                    (dc, dl, placed.iter().filter(|&&u| rank[u] <= rank[v]).count() as u64)
                };
                classic.retain(|&k| k != key);
                classic.insert(0, key);
                live.retain(|&u| u != v);
                if values[v].last_read != Some(j) {
                    live.insert(0, v);
                }
                let address = price(a.offset + 1, bb);
                let row = [price(dc, bb), price(dl, bb), price(ds, bb), address];
                for (k, c) in row.iter().enumerate() {
                    pb[k + 1] += c;
                }
                out.classic += row[0];
                out.live += row[1];
                out.space += row[2];
                out.address += row[3];
            }
            placed.retain(|&u| values[u].last != t);
            i = group_end;
        }
        out
    }
}

mod properties {
    use memtrace::{Buffer, Event, Header, Op, Role};
    use memtrace_analyzers::dmd::spool::Spool;
    use memtrace_analyzers::dmd::{Clock, DmdConfig, DmdReport, Scan};
    use proptest::prelude::*;

    use super::naive;

    /// Buffers (length, element size, input or not) and events over them.
    fn trace() -> impl Strategy<Value = (Header, Vec<Event>)> {
        prop::collection::vec((1u64..12, 1u32..5, prop::bool::weighted(0.4)), 1..5).prop_flat_map(|bufs| {
            let n = bufs.len();
            let lens: Vec<u64> = bufs.iter().map(|b| b.0).collect();
            let event = (0..n, prop::bool::weighted(0.55), 0u64..12, 1u64..6, 0u32..3);
            (Just(bufs), prop::collection::vec(event, 0..70)).prop_map(move |(bufs, raw)| {
                let mut h = Header::new("proptest", "0");
                for (i, &(len, elem, input)) in bufs.iter().enumerate() {
                    let role = if input { Role::Input } else { Role::Activation };
                    h.add_buffer(Buffer { name: format!("b{i}"), len, elem_size: elem, role }).unwrap();
                }
                let mut step = 0;
                let events = raw
                    .into_iter()
                    .map(|(b, read, off, len, dstep)| {
                        step += dstep;
                        // One event in five covers its whole buffer, as tensors are
                        // written and read: the runs the fast analyzer moves as blocks.
                        let (offset, len) = if len == 5 {
                            (0, lens[b] as u32)
                        } else {
                            let offset = off % lens[b];
                            (offset, len.min(lens[b] - offset) as u32)
                        };
                        Event { buffer: b as u32, op: if read { Op::Read } else { Op::Write }, offset, len, step }
                    })
                    .collect();
                (h, events)
            })
        })
    }

    fn fast(h: &Header, events: &[Event], config: DmdConfig, run: usize) -> DmdReport {
        let mut scan = Scan::with_spool(h, config, Spool::with_run(run));
        events.iter().for_each(|e| scan.event(e));
        let mut replay = scan.finish().unwrap();
        events.iter().for_each(|e| replay.event(e));
        replay.finish().unwrap()
    }

    fn check(h: &Header, events: &[Event], bytes: Option<u32>, clock: Clock, run: usize) -> Result<(), TestCaseError> {
        let want = naive::costs(h, events, bytes, clock == Clock::Steps);
        let got = fast(h, events, DmdConfig { bytes_per_element: bytes, clock }, run);
        let totals = |r: &DmdReport| {
            [r.loads, r.stores, r.cold_loads, r.bytedmd_classic, r.bytedmd_live, r.space_dmd, r.address_cost]
        };
        let model = [want.loads, want.stores, want.cold_loads, want.classic, want.live, want.space, want.address];
        prop_assert_eq!(totals(&got), model, "loads stores cold classic live space address, {:?} {:?}", bytes, clock);
        for (i, pb) in want.per_buffer.iter().enumerate() {
            if let Some(g) = got.per_buffer.get(&format!("b{i}")) {
                let row = [g.loads, g.bytedmd_classic, g.bytedmd_live, g.space_dmd, g.address_cost];
                prop_assert_eq!(row, *pb, "buffer b{}", i);
            } else {
                prop_assert_eq!(pb[0], 0, "buffer b{} read but missing", i);
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(600))]
        #[test]
        fn fast_analyzer_equals_the_naive_model((h, events) in trace(), run in 1usize..6) {
            for clock in [Clock::Events, Clock::Steps] {
                for bytes in [None, Some(1), Some(3)] {
                    check(&h, &events, bytes, clock, run)?;
                }
            }
        }
    }
}

/// The model is tied to the researchers' numbers too, not only to the
/// fast analyzer: on the two smaller algorithms it gives every reference value.
#[test]
fn the_naive_model_itself_gives_the_reference_values() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["mergesort_N64", "transpose_blocked_n32"] {
        let summary = common::read_json(common::reference().join("dmd").join(format!("{name}.summary.json")));
        for (kind, file) in [("events", format!("{name}.events.csv")), ("placed", format!("{name}.placed.events.csv"))]
        {
            let trace = import(&common::reference().join("dmd").join(file), &dir);
            let mut reader = memtrace::TraceReader::open(&trace).unwrap();
            let header = reader.header().clone();
            let mut events = Vec::new();
            while let Some(batch) = reader.next_batch().unwrap() {
                events.extend_from_slice(batch);
            }
            for bytes in [1u32, 4] {
                let want = &summary[kind][format!("bpe{bytes}")];
                let got = naive::costs(&header, &events, Some(bytes), false);
                let field = |k: &str| want[k].as_u64().unwrap();
                assert_eq!(got.loads, field("loads"), "{name} {kind} b={bytes}");
                assert_eq!(got.cold_loads, field("cold_loads"), "{name} {kind} b={bytes}");
                assert_eq!(got.classic, field("bytedmd_classic"), "{name} {kind} b={bytes}");
                assert_eq!(got.live, field("bytedmd_live"), "{name} {kind} b={bytes}");
                if kind == "events" {
                    assert_eq!(got.space, field("space_dmd"), "{name} {kind} b={bytes}");
                    let steps = naive::costs(&header, &events, Some(bytes), true);
                    assert_eq!(steps.space, field("space_dmd_clock_steps"), "{name} {kind} b={bytes}");
                } else {
                    assert_eq!(got.address, field("address_cost"), "{name} {kind} b={bytes}");
                }
            }
        }
    }
}

mod cli {
    use assert_cmd::Command;
    use serde_json::Value;

    use super::common;

    fn analyze(args: &[&str]) -> std::process::Output {
        Command::cargo_bin("analyze").unwrap().current_dir(common::root()).args(args).output().unwrap()
    }

    fn import(csv: &std::path::Path, out: &std::path::Path) -> std::process::Output {
        Command::cargo_bin("analyze").unwrap().arg("import").arg(csv).arg("-o").arg(out).output().unwrap()
    }

    /// The documented JSON, with exactly the documented keys, equals the
    /// reference through the command line too.
    #[test]
    fn json_through_the_command_line_has_the_documented_keys_and_values() {
        let dir = tempfile::tempdir().unwrap();
        let name = "tiled_matmul_n16";
        let trace = dir.path().join("t.zst");
        assert!(import(&common::reference().join(format!("dmd/{name}.events.csv")), &trace).status.success());
        let summary = common::read_json(common::reference().join(format!("dmd/{name}.summary.json")));
        for (bytes, clock) in [("1", "events"), ("4", "steps")] {
            let out =
                analyze(&["dmd", "--json", "--bytes-per-element", bytes, "--clock", clock, trace.to_str().unwrap()]);
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
            keys.sort();
            assert_eq!(
                keys,
                [
                    "address_cost",
                    "bytedmd_classic",
                    "bytedmd_live",
                    "bytes_per_element",
                    "clock",
                    "cold_loads",
                    "loads",
                    "per_buffer",
                    "space_dmd",
                    "stores",
                    "trace"
                ]
            );
            let want = &summary["events"][format!("bpe{bytes}")];
            for k in ["loads", "stores", "cold_loads", "bytedmd_classic", "bytedmd_live"] {
                assert_eq!(v[k], want[k], "{k} at b={bytes}");
            }
            let space = if clock == "steps" { "space_dmd_clock_steps" } else { "space_dmd" };
            assert_eq!(v["space_dmd"], want[space]);
            assert_eq!(v["clock"], clock);
            assert_eq!(v["bytes_per_element"], bytes.parse::<u64>().unwrap());
            for b in v["per_buffer"].as_object().unwrap().values() {
                let mut keys: Vec<&str> = b.as_object().unwrap().keys().map(String::as_str).collect();
                keys.sort();
                assert_eq!(keys, ["address_cost", "bytedmd_classic", "bytedmd_live", "loads", "space_dmd"]);
            }
        }
    }

    #[test]
    fn a_trace_without_reads_prints_zeros_and_every_golden_trace_replays() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("w.csv");
        std::fs::write(&csv, "op,buffer,size\nW,out,3\n").unwrap();
        let trace = dir.path().join("w.trace");
        assert!(import(&csv, &trace).status.success());
        let out = analyze(&["dmd", "--json", trace.to_str().unwrap()]);
        assert!(out.status.success());
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            (v["loads"].as_u64(), v["stores"].as_u64(), v["bytedmd_live"].as_u64()),
            (Some(0), Some(3), Some(0))
        );
        assert_eq!(v["bytes_per_element"], Value::Null);
        // Traces of record (and the Python writer), in both encodings: each
        // read is priced, and classic is never below live (live's stack is a
        // subset of classic's, in the same order).
        for t in std::fs::read_dir(common::root().join("traces/golden")).unwrap() {
            let t = t.unwrap().path();
            let name = t.to_string_lossy().to_string();
            if !(name.ends_with(".trace") || name.ends_with(".zst")) {
                continue;
            }
            let out = analyze(&["dmd", "--json", &name]);
            assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert!(v["loads"].as_u64().unwrap() > 0, "{name}");
            assert!(v["bytedmd_classic"].as_u64() >= v["bytedmd_live"].as_u64(), "{name}");
        }
    }

    #[test]
    fn bad_input_gets_one_line_and_a_non_zero_exit() {
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("back.trace");
        let csv = dir.path().join("back.csv");
        std::fs::write(&csv, "op,buffer,size,step\nW,a,1,5\nR,a,1,7\nR,a,1,6\n").unwrap();
        assert!(import(&csv, &trace).status.success());
        let t = trace.to_str().unwrap();
        // A step that goes backwards: fine by the event clock, not by steps.
        assert!(analyze(&["dmd", t]).status.success());
        let out = analyze(&["dmd", "--clock", "steps", t]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(t) && err.contains("event 2") && err.contains("step 6 comes after step 7"), "{err}");
        assert!(out.stdout.is_empty());

        let out = analyze(&["dmd", "--bytes-per-element", "0", t]);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("--bytes-per-element"));

        // A role that contradicts an earlier one names the line.
        std::fs::write(&csv, "op,buffer,size,role\nR,x,2,input\nR,x,2,\nW,x,1,parameter\n").unwrap();
        let out = import(&csv, &dir.path().join("r.trace"));
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("line 4") && err.contains("parameter") && err.contains("input since line 2"), "{err}");
        std::fs::write(&csv, "op,buffer,size,role\nR,x,2,weights\n").unwrap();
        let out = import(&csv, &dir.path().join("r.trace"));
        assert!(String::from_utf8_lossy(&out.stderr).contains("line 2: role \"weights\""));
    }

    #[test]
    fn plot_draws_every_trace() {
        let dir = tempfile::tempdir().unwrap();
        let svg = dir.path().join("d.svg");
        let (a, t) = ("traces/golden/expa_h500_standard.trace", "traces/golden/tiled_s43_T250.zst");
        let out = analyze(&["dmd", "--plot", svg.to_str().unwrap(), a, t]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = std::fs::read_to_string(&svg).unwrap();
        for want in ["cumulative bytedmd_live", "reads by live depth", a, t] {
            assert!(text.contains(want), "the plot lacks {want:?}");
        }
        // A missing folder is refused before any work, in one line that says what to do.
        for cmd in ["dmd", "mrc"] {
            let out = analyze(&[cmd, "--plot", "no/such/dir/d.svg", a]);
            assert_eq!(out.status.code(), Some(1));
            assert!(out.stdout.is_empty(), "{cmd} printed before refusing");
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                err,
                "analyze: no/such/dir/d.svg: cannot write into no/such/dir: no such directory; create it or name another\n"
            );
        }
    }

    /// The first non-empty role sets the buffer's role; without one, the name decides.
    #[test]
    fn roles_come_from_the_role_column_or_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("r.csv");
        std::fs::write(&csv, "op,buffer,size,role\nR,A,4,\nR,A,4,input\nW,W1,2,\nW,acc,1,other\n").unwrap();
        let trace = dir.path().join("r.trace");
        assert!(import(&csv, &trace).status.success());
        let out = analyze(&["info", "--json", trace.to_str().unwrap()]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let roles: Vec<(&str, &str)> = v["buffers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| (b["name"].as_str().unwrap(), b["role"].as_str().unwrap()))
            .collect();
        assert_eq!(roles, [("A", "input"), ("W1", "parameter"), ("acc", "other")]);
    }
}
