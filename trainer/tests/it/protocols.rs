//! Every reference protocol, recorded by the `record` command line a user
//! would type, gives the reference stream's numbers: every field of `ard`
//! and of `cache` at 8192 and 65536 floats (for the tiled streams, the `ard`
//! fields against the corrected streams, with per-tile buffers of the
//! reference compared as ranges of one buffer).

use crate::common;

use assert_cmd::Command;
use memtrace::TraceReader;
use memtrace_analyzers::ard::Ard;
use memtrace_analyzers::cache::ObjectCaches;
use memtrace_analyzers::replay;
use serde_json::{Map, Value};

/// The reference protocols and the `record` arguments that reproduce them.
fn protocols() -> Vec<(String, Vec<String>)> {
    let mut p: Vec<(String, String)> = vec![
        ("expb_h1000_single32".into(), "--hidden 1000 --steps 32 --reload-params".into()),
        ("expb_h200_single32".into(), "--hidden 200 --steps 32 --reload-params".into()),
        ("expb_h200_batch32".into(), "--hidden 200 --batch 32".into()),
    ];
    for v in ["standard", "fused", "perlayer"] {
        p.push((format!("expa_h500_{v}"), format!("--variant {v} --hidden 500 --warmup-acc 0.9 --first-active")));
    }
    for b in [1, 4, 8, 16, 32, 64] {
        p.push((format!("expb_h1000_batch{b}"), format!("--hidden 1000 --batch {b}")));
    }
    for s in [42, 43, 44] {
        p.push((format!("tiled_s{s}_baseline"), format!("--hidden 1000 --seed {s}")));
        for t in [50, 100, 250, 500] {
            p.push((format!("tiled_s{s}_T{t}"), format!("--hidden 1000 --seed {s} --tiles {t}")));
        }
    }
    p.into_iter().map(|(n, a)| (n, a.split(' ').map(String::from).collect())).collect()
}

fn summary(name: &str) -> Value {
    common::read_json(common::reference().join("streams").join(format!("{name}.summary.json")))
}

/// Folds the reference's per-tile buffers (`W1_tile3`) into one buffer per
/// name, as our ranges of `W1` are counted: reads add up, min and max
/// extend, averages are weighted by read count.
fn fold_tiles(per_buffer: &Value) -> Value {
    let mut out: Map<String, Value> = Map::new();
    let mut acc: std::collections::BTreeMap<String, (f64, u64, u64, u64)> = Default::default();
    for (name, b) in per_buffer.as_object().unwrap() {
        match name.split_once("_tile") {
            None => {
                out.insert(name.clone(), b.clone());
            }
            Some((base, _)) => {
                let e = acc.entry(base.to_string()).or_insert((0.0, 0, u64::MAX, 0));
                let n = b["read_count"].as_u64().unwrap();
                e.0 += b["avg_dist"].as_f64().unwrap() * n as f64;
                e.1 += n;
                e.2 = e.2.min(b["min_dist"].as_u64().unwrap());
                e.3 = e.3.max(b["max_dist"].as_u64().unwrap());
            }
        }
    }
    for (name, (sum, n, min, max)) in acc {
        out.insert(
            name,
            serde_json::json!({"avg_dist": sum / n as f64, "read_count": n, "min_dist": min, "max_dist": max}),
        );
    }
    Value::Object(out)
}

#[test]
fn every_reference_protocol_is_reproduced_by_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (name, args) in protocols() {
        let trace = dir.path().join(format!("{name}.zst"));
        let out = Command::cargo_bin("record").unwrap().args(&args).arg("-o").arg(&trace).output().unwrap();
        assert!(out.status.success(), "{name}: record {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
        let ard = replay(TraceReader::open(&trace).unwrap(), Ard::new).unwrap();
        let mut actual = serde_json::to_value(&ard).unwrap();
        let mut expected = summary(&name);
        let obj = expected.as_object_mut().unwrap();
        obj.remove("protocol");
        if name.starts_with("tiled") {
            obj.remove("cache");
            for b in actual["per_buffer"].as_object_mut().unwrap().values_mut() {
                b.as_object_mut().unwrap().remove("size");
            }
            let folded = fold_tiles(&obj["per_buffer"]);
            obj.insert("per_buffer".into(), folded);
            for b in obj["per_buffer"].as_object_mut().unwrap().values_mut() {
                b.as_object_mut().unwrap().remove("size");
            }
        } else {
            let caches =
                replay(TraceReader::open(&trace).unwrap(), |h| ObjectCaches::new(h, &[32768, 262144])).unwrap();
            let mut cache = Map::new();
            for c in caches {
                cache.insert(c.cache_size_floats.to_string(), serde_json::to_value(&c).unwrap());
            }
            actual["cache"] = Value::Object(cache);
        }
        failures.extend(common::compare(&name, &expected, &actual));
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn seed_004_command_line_solves_at_the_published_epoch() {
    let out = Command::cargo_bin("record")
        .unwrap()
        .args("--variant perlayer --batch 32 --rng numpy --shuffle --hidden 200 --n-train 1000 --epochs 200 --seed 42 --json".split(' '))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["solved_epoch"], 55);
    assert_eq!(v["epochs"], 55);
    assert_eq!(v["test_accs"].as_array().unwrap().last().unwrap(), 1.0);
}
