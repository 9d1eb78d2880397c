//! What collaborators use to share traces: `verify` (exit status is the
//! verdict), `export` (CSV that `import` reads back, JSON Lines), `diff`
//! (first difference; 0 same, 1 different, 2 trouble), and the content
//! hash of `info`, equal for a trace and its compressed copy; and `-` for
//! standard input and output, so that traces go through pipes.

use crate::common;

use std::path::Path;

use assert_cmd::Command;

fn analyze(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("analyze").unwrap().args(args).output().unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn golden(name: &str) -> std::path::PathBuf {
    common::root().join("traces/golden").join(name)
}

#[test]
fn verify_reports_sound_and_damaged_traces_by_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let raw = golden("expb_h1000_batch4.trace");
    let out = analyze(&["verify", s(&raw)]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(": ok, format v1, ") && text.contains("sha256:"), "{text}");

    let mut bytes = std::fs::read(&raw).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0x20;
    let bad = dir.path().join("bad.trace");
    std::fs::write(&bad, &bytes).unwrap();
    let out = analyze(&["verify", s(&bad)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.trace: byte"));
}

#[test]
fn the_content_hash_is_the_same_raw_and_compressed() {
    let dir = tempfile::tempdir().unwrap();
    let raw = golden("expb_h1000_batch4.trace");
    let zst = dir.path().join("copy.zst");
    std::fs::write(&zst, zstd::encode_all(&std::fs::read(&raw).unwrap()[..], 9).unwrap()).unwrap();
    let hash = |p: &Path| {
        let v: serde_json::Value = serde_json::from_slice(&analyze(&["info", "--json", s(p)]).stdout).unwrap();
        v["content_hash"].as_str().unwrap().to_string()
    };
    let (a, b) = (hash(&raw), hash(&zst));
    assert!(a.starts_with("sha256:") && a.len() == 7 + 64, "{a}");
    assert_eq!(a, b);
    assert_ne!(a, hash(&golden("expa_h500_standard.trace")));
}

#[test]
fn export_then_import_gives_an_identical_trace() {
    let dir = tempfile::tempdir().unwrap();
    let original = golden("tiled_s43_T250.zst"); // ranges and steps
    let csv = dir.path().join("t.csv");
    assert!(analyze(&["export", "--csv", s(&original), "-o", s(&csv)]).status.success());
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("op,buffer,size,offset,step,role\nW,W1,5000,0,0,parameter\n"), "{}", &text[..80]);
    let back = dir.path().join("back.zst");
    assert!(analyze(&["import", s(&csv), "-o", s(&back)]).status.success());
    let out = analyze(&["diff", s(&original), s(&back)]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));

    let jsonl = analyze(&["export", "--jsonl", s(&original)]);
    let lines: Vec<serde_json::Value> =
        String::from_utf8(jsonl.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let info: serde_json::Value = serde_json::from_slice(&analyze(&["info", "--json", s(&original)]).stdout).unwrap();
    assert_eq!(lines.len() as u64, info["events"].as_u64().unwrap());
    assert_eq!(lines[1]["buffer"], "b1");
    assert_eq!(lines[1]["size"], 250);
}

#[test]
fn diff_names_the_first_difference() {
    let a = golden("tiled_s43_T250.zst");
    let b = golden("tiled_s43_T250_seedquirk.zst"); // tiles as separate buffers
    let out = analyze(&["diff", "--json", s(&a), s(&b)]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["identical"], false);
    assert_eq!(v["first_difference"]["event"], 0);
    assert_eq!(v["first_difference"]["a"]["buffer"], "W1");
    assert_eq!(v["first_difference"]["b"]["buffer"], "W1_tile0");
    let out = analyze(&["diff", s(&a), "/nonexistent.trace"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("analyze: /nonexistent.trace: "));
}

/// Runs `analyze` with `stdin` as standard input and a private temporary
/// directory; returns the output and whether that directory is empty after.
fn analyze_stdin(args: &[&str], stdin: Vec<u8>) -> (std::process::Output, bool) {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("analyze")
        .unwrap()
        .env("TMPDIR", tmp.path())
        .args(args)
        .write_stdin(stdin)
        .output()
        .unwrap();
    let empty = std::fs::read_dir(tmp.path()).unwrap().next().is_none();
    (out, empty)
}

/// A JSON report without its "trace" labels, which name the input.
fn numbers(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_object_mut().unwrap().remove("trace");
    for r in v.get_mut("results").and_then(|r| r.as_array_mut()).into_iter().flatten() {
        r.as_object_mut().unwrap().remove("trace");
    }
    v
}

#[test]
fn standard_input_is_the_trace_named_dash() {
    for name in ["expb_h1000_batch4.trace", "tiled_s43_T250.zst"] {
        let path = golden(name);
        let bytes = std::fs::read(&path).unwrap();
        // One pass (ard), and several passes over the same input (one per
        // line-cache configuration, plus the request stream for opt).
        for args in [
            &["ard", "--json"][..],
            &["cache", "--json", "--granularity", "line", "--size", "32KiB,256KiB", "--policy", "lru,opt"][..],
        ] {
            let from_file = analyze(&[args, &[s(&path)]].concat());
            let (from_stdin, cleaned) = analyze_stdin(&[args, &["-"]].concat(), bytes.clone());
            assert_eq!(numbers(&from_stdin), numbers(&from_file), "{name} {args:?}");
            assert!(cleaned, "{name} {args:?}: the copy of standard input was left behind");
        }
    }
    // Nothing on standard input: one line that names it.
    let (out, _) = analyze_stdin(&["info", "-"], Vec::new());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with("analyze: standard input: ") && err.trim_end().lines().count() == 1, "{err}");
}

#[test]
fn import_reads_and_writes_standard_streams() {
    let csv = analyze(&["export", "--csv", s(&golden("expb_h1000_batch4.trace"))]);
    assert!(csv.status.success());
    // CSV in on standard input, trace out on standard output.
    let (trace, cleaned) = analyze_stdin(&["import", "-", "-o", "-"], csv.stdout.clone());
    assert!(trace.status.success(), "{}", String::from_utf8_lossy(&trace.stderr));
    assert!(cleaned);
    assert!(trace.stdout.starts_with(b"MEMTRACE"), "a raw trace on standard output");
    let (back, _) = analyze_stdin(&["export", "--csv", "-"], trace.stdout);
    assert!(back.status.success(), "{}", String::from_utf8_lossy(&back.stderr));
    assert!(back.stdout == csv.stdout, "the trace through the pipes exports the same CSV");
}
