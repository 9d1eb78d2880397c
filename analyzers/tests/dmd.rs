//! `analyze dmd` against the researchers' own figures: every value of every
//! `.summary.json` in `tests/data/reference/dmd/` (a copy of
//! `../shared/reference/dmd/`), for the single-assignment trace and the
//! hand-placed schedule of each algorithm, at 1 and 4 bytes per element,
//! under both clocks.

#[path = "../../tests/common/mod.rs"]
mod common;

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
    let (second, _, _) = memtrace_analyzers::replay(open(), |h| Scan::new(h, config)).unwrap();
    let second = second.unwrap();
    let (report, _, _) = memtrace_analyzers::replay(open(), |_| second).unwrap();
    report.unwrap()
}

#[test]
fn every_reference_value_through_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for name in algorithms() {
        let summary = common::read_json(common::reference().join("dmd").join(format!("{name}.summary.json")));
        for (kind, file) in [("events", format!("{name}.events.csv")), ("placed", format!("{name}.placed.events.csv"))] {
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
