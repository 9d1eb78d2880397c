//! The reproduction at reduced size (fewer seeds where a table averages over
//! seeds): every table is produced, every compared figure matches except
//! the two documented single-sample write counts of seed 000, and the report
//! and plots are written.

#[path = "../../tests/common/mod.rs"]
mod common;

use assert_cmd::Command;

#[test]
fn the_quick_reproduction_matches_the_published_tables() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("reports/seeds.md");
    let bin_dir = assert_cmd::cargo::cargo_bin("reproduce").parent().unwrap().to_path_buf();
    for tool in ["record", "analyze"] {
        assert!(bin_dir.join(tool).exists(), "{tool} is not built next to reproduce: run `cargo test --workspace`");
    }
    let out = Command::cargo_bin("reproduce")
        .unwrap()
        .arg("--quick")
        .arg("--root")
        .arg(common::root())
        .arg("--traces")
        .arg(dir.path().join("traces"))
        .arg("--report")
        .arg(&report)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}\n{}", text, String::from_utf8_lossy(&out.stderr));
    for title in [
        "000 Experiment B: 32 single-sample",
        "000 Experiment B: batch-size sweep",
        "001 Cache-ARD",
        "002 Experiment A",
        "003 tiled W1: weighted ARD",
        "003 tiled W1: accuracy",
        "004 per-layer + batch: epochs",
        "004 per-layer + batch: summary",
    ] {
        assert!(text.contains(title), "missing table {title:?}:\n{text}");
    }
    let mismatches: Vec<&str> = text.lines().filter(|l| l.split_whitespace().any(|w| w == "NO")).collect();
    assert_eq!(mismatches.len(), 2, "unexpected mismatches:\n{}", mismatches.join("\n"));
    assert!(mismatches[0].starts_with("parameter writes") && mismatches[1].starts_with("W1 writes"), "{mismatches:?}");
    // Every table contributed compared figures: the summary line counts them.
    let summary = text.lines().find(|l| l.contains("published figures compared")).unwrap();
    let compared: usize = summary.split_whitespace().next().unwrap().parse().unwrap();
    assert!(compared >= 70, "{summary}");
    let md = std::fs::read_to_string(&report).unwrap();
    assert!(md.contains("| 64 | 62,907 | 62,907 | yes |"), "{md}");
    for svg in ["ard_by_variant", "hit_rate_by_cache_size", "ard_by_tile_size", "epochs_by_variant"] {
        let p = report.parent().unwrap().join(format!("{svg}.svg"));
        let body = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(body.starts_with("<svg") && body.contains("</svg>"), "{svg}");
    }
}
