//! Format stability: the committed version-1 traces in `traces/golden/` are
//! still read by this build, which prints exactly the analyzer outputs
//! committed beside them; where a golden trace is a reference protocol, its
//! numbers are also the seed trackers'.

use crate::common;
use crate::seed_summary;

use assert_cmd::Command;

const GOLDEN: [&str; 5] = [
    "expa_h500_standard.trace",
    "tiled_s43_T250_seedquirk.zst",
    "tiled_s43_T250.zst",
    "expb_h1000_batch4.trace",
    "expb_h200_single32.python.zst",
];

#[test]
fn golden_traces_give_the_committed_outputs_byte_for_byte() {
    let dir = common::root().join("traces/golden");
    let mut failures = Vec::new();
    for trace in GOLDEN {
        for (what, args) in [
            ("info", vec!["info", "--json"]),
            ("ard", vec!["ard", "--json"]),
            ("cache", vec!["cache", "--size", "32KiB,256KiB", "--json"]),
            ("hist", vec!["hist", "--json"]),
        ] {
            let out = Command::cargo_bin("analyze").unwrap().current_dir(&dir).args(&args).arg(trace).output().unwrap();
            assert!(out.status.success(), "{trace}: {}", String::from_utf8_lossy(&out.stderr));
            let expected = std::fs::read(dir.join(format!("{trace}.{what}.json"))).unwrap();
            if out.stdout != expected {
                failures.push(format!("{trace}: `analyze {}` differs from {trace}.{what}.json", args.join(" ")));
            }
        }
    }
    assert!(failures.is_empty(), "{}\n(after a deliberate output change: make golden)", failures.join("\n"));
}

#[test]
fn golden_reference_protocols_still_give_the_seed_numbers() {
    let dir = common::root().join("traces/golden");
    let mut failures = Vec::new();
    for (trace, stream) in [
        ("expa_h500_standard.trace", "expa_h500_standard"),
        ("tiled_s43_T250_seedquirk.zst", "tiled_s43_T250_seedquirk"),
        ("expb_h1000_batch4.trace", "expb_h1000_batch4"),
        ("expb_h200_single32.python.zst", "expb_h200_single32"),
    ] {
        failures.extend(common::compare(
            trace,
            &seed_summary::reference(stream),
            &seed_summary::of_trace(&dir.join(trace)),
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
