//! What `record` prints, as a reader sees it: the training report and the
//! one-line errors, compared with committed snapshots (`tests/snapshots/`).
//! Wall times are the one thing that changes between runs; they are
//! replaced by `<wall>`. Accept an intended change with
//! `INSTA_UPDATE=always cargo test` and commit the snapshot with it.

use assert_cmd::Command;

fn record(args: &str) -> String {
    let out = Command::cargo_bin("record").unwrap().args(args.split_whitespace()).output().unwrap();
    let status = out.status.code().map_or("signal".to_string(), |c| c.to_string());
    let text = format!(
        "$ record {args}\nexit {status}\n--- stdout\n{}--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    without_wall_times(&text)
}

/// `(0.016 s)` and `"wall_s":0.0123` become `(<wall>)` and `"wall_s":<wall>`.
fn without_wall_times(text: &str) -> String {
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        let mut line = line.to_string();
        if let (Some(open), Some(close)) = (line.rfind('('), line.rfind(" s)")) {
            if open < close && line[open + 1..close].parse::<f64>().is_ok() {
                line.replace_range(open + 1..close + 2, "<wall>");
            }
        }
        if let Some(at) = line.find("\"wall_s\":") {
            let start = at + "\"wall_s\":".len();
            let end = line[start..].find([',', '}']).map_or(line.len(), |e| start + e);
            line.replace_range(start..end, "<wall>");
        }
        out.push_str(&line);
    }
    out
}

#[test]
fn training_report() {
    insta::assert_snapshot!(record("--hidden 500 --epochs 12"));
}

#[test]
fn training_report_json() {
    insta::assert_snapshot!(record("--hidden 50 --epochs 3 --json"));
}

#[test]
fn recording_errors_are_one_line() {
    insta::assert_snapshot!(record("--k 21"));
    insta::assert_snapshot!(record("--start 500 -o /nonexistent-dir/t.zst"));
    insta::assert_snapshot!(record("--hidden 50 -o /nonexistent-dir/t.zst"));
}

#[test]
fn wall_times_are_masked() {
    assert_eq!(without_wall_times("reached 1 at epoch 11 (0.016 s)\n"), "reached 1 at epoch 11 (<wall>)\n");
    assert_eq!(without_wall_times("{\"epochs\":2,\"wall_s\":0.0007}\n"), "{\"epochs\":2,\"wall_s\":<wall>}\n");
    assert_eq!(without_wall_times("no time (here)\n"), "no time (here)\n");
}
