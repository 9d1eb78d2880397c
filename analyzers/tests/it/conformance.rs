//! Conformance: every reference stream, imported from its CSV and replayed,
//! gives every field of the seed trackers' summary: `ard` exactly (floats
//! to 1e-9 relative) and `cache` at 8192 and 65536 floats. Once through the
//! library, once through the `analyze` command line and its JSON.

use crate::common;
use crate::seed_summary;

use assert_cmd::Command;
use memtrace::Header;
use serde_json::{json, Value};

fn import(name: &str, dir: &tempfile::TempDir) -> std::path::PathBuf {
    let csv = common::reference().join("streams").join(format!("{name}.events.csv"));
    let out = dir.path().join(format!("{name}.zst"));
    memtrace::import::import_csv(&csv, &out, Header::new("conformance", "0")).unwrap();
    out
}

#[test]
fn every_reference_stream_matches_through_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for name in common::stream_names() {
        let trace = import(&name, &dir);
        failures.extend(common::compare(&name, &seed_summary::reference(&name), &seed_summary::of_trace(&trace)));
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn every_reference_stream_matches_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for name in common::stream_names() {
        let csv = common::reference().join("streams").join(format!("{name}.events.csv"));
        let trace = dir.path().join(format!("{name}.trace"));
        Command::cargo_bin("analyze").unwrap().arg("import").arg(&csv).arg("-o").arg(&trace).assert().success();
        let ard = Command::cargo_bin("analyze").unwrap().args(["ard", "--json"]).arg(&trace).output().unwrap();
        assert!(ard.status.success(), "{name}: {}", String::from_utf8_lossy(&ard.stderr));
        let mut actual: Value = serde_json::from_slice(&ard.stdout).unwrap();
        assert_eq!(actual["trace"], json!(trace.display().to_string()));
        let cache = Command::cargo_bin("analyze")
            .unwrap()
            .args(["cache", "--size", "32KiB,256KiB", "--json"])
            .arg(&trace)
            .output()
            .unwrap();
        assert!(cache.status.success(), "{name}: {}", String::from_utf8_lossy(&cache.stderr));
        let cache: Value = serde_json::from_slice(&cache.stdout).unwrap();
        let results = cache["results"].as_array().unwrap();
        assert_eq!(results.len(), 2);
        let mut by_floats = serde_json::Map::new();
        for r in results {
            assert_eq!(r["size_bytes"].as_u64().unwrap() / 4, r["cache_size_floats"].as_u64().unwrap());
            by_floats.insert(r["cache_size_floats"].to_string(), r.clone());
        }
        actual["cache"] = Value::Object(by_floats);
        failures.extend(common::compare(&name, &seed_summary::reference(&name), &actual));
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn ard_json_has_exactly_the_documented_keys() {
    let dir = tempfile::tempdir().unwrap();
    let trace = import("expa_h500_perlayer", &dir);
    let out = Command::cargo_bin("analyze").unwrap().args(["ard", "--json"]).arg(&trace).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "cold_reads",
            "dmc",
            "per_buffer",
            "reads",
            "total_floats_accessed",
            "total_floats_read",
            "trace",
            "weighted_ard",
            "writes"
        ]
    );
    let mut buf_keys: Vec<&str> = v["per_buffer"]["W1"].as_object().unwrap().keys().map(|k| k.as_str()).collect();
    buf_keys.sort();
    assert_eq!(buf_keys, ["avg_dist", "max_dist", "min_dist", "read_count", "size"]);
}

#[test]
fn several_traces_give_an_array_with_trace_keys() {
    let dir = tempfile::tempdir().unwrap();
    let a = import("expa_h500_standard", &dir);
    let b = import("expa_h500_perlayer", &dir);
    let out = Command::cargo_bin("analyze").unwrap().args(["ard", "--json"]).arg(&a).arg(&b).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 2);
    assert_eq!(arr[1]["trace"], json!(b.display().to_string()));
    assert_eq!(arr[1]["reads"], json!(15));
    let text = Command::cargo_bin("analyze").unwrap().arg("ard").arg(&a).arg(&b).output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    // perlayer reads 15 times, standard 24: the ratio column says so.
    assert!(text.contains("0.62x"), "{text}");
}
