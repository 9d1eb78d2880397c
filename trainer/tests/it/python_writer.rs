//! The Python writer (`python/memtrace`) against the format: replaying every
//! reference stream through it gives the seed trackers' summaries, raw and
//! compressed; and for the same protocol its trace holds exactly the
//! accesses of `record`'s (compared with `analyze diff`'s logic).

use crate::common;
use crate::seed_summary;

use std::path::Path;
use std::process::Command;

use memtrace::TraceReader;

fn python() -> String {
    let py = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&py).arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(ok, "{py} not found: the Python writer tests need Python 3 (set PYTHON to choose one)");
    py
}

fn replay_csv(stream: &str, out: &Path, step_before: Option<&str>) {
    let csv = common::reference().join("streams").join(format!("{stream}.events.csv"));
    let mut cmd = Command::new(python());
    cmd.arg(common::root().join("python/examples/replay_csv.py")).arg(&csv).arg(out);
    if let Some(name) = step_before {
        cmd.args(["--step-before", name]);
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{stream}: {}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn python_traces_of_every_reference_stream_give_the_reference_summaries() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for name in common::stream_names() {
        for ext in ["trace", "zst"] {
            let out = dir.path().join(format!("{name}.{ext}"));
            replay_csv(&name, &out, None);
            failures.extend(common::compare(
                &format!("{name}.{ext}"),
                &seed_summary::reference(&name),
                &seed_summary::of_trace(&out),
            ));
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn python_and_record_write_the_same_accesses_for_the_same_protocol() {
    let dir = tempfile::tempdir().unwrap();
    for (stream, args, step_before) in [
        ("expb_h1000_single32", "--hidden 1000 --steps 32 --reload-params", Some("W1")),
        ("expa_h500_perlayer", "--variant perlayer --hidden 500 --warmup-acc 0.9 --first-active", None),
        ("expb_h1000_batch4", "--hidden 1000 --batch 4", None),
    ] {
        let py = dir.path().join(format!("{stream}.py.zst"));
        replay_csv(stream, &py, step_before);
        let rec = dir.path().join(format!("{stream}.record.zst"));
        assert_cmd::Command::cargo_bin("record").unwrap().args(args.split(' ')).arg("-o").arg(&rec).assert().success();
        let report =
            memtrace_analyzers::diff::diff(TraceReader::open(&py).unwrap(), TraceReader::open(&rec).unwrap()).unwrap();
        assert!(report.identical, "{stream}: {report:?}");
        assert!(report.events_compared > 10);
    }
}
