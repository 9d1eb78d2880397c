//! What `analyze` prints, as a reader sees it: the text tables and the
//! one-line errors of every subcommand on the golden traces, compared with
//! committed snapshots (`tests/snapshots/`). A change to a table's layout,
//! a number's formatting or an error's wording shows up here as a diff to
//! review; accept it with `INSTA_UPDATE=always cargo test` (or
//! `cargo insta review`) and commit the snapshot with the change.

use crate::common;

use assert_cmd::Command;

/// Runs `analyze` from the repository root, so that paths, which tables
/// print, are the same relative paths on every machine.
fn analyze(args: &str) -> String {
    let out = Command::cargo_bin("analyze")
        .unwrap()
        .current_dir(common::root())
        .env_remove("COLUMNS")
        .args(args.split_whitespace())
        .output()
        .unwrap();
    let status = out.status.code().map_or("signal".to_string(), |c| c.to_string());
    format!(
        "$ analyze {args}\nexit {status}\n--- stdout\n{}--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

const A: &str = "traces/golden/expa_h500_standard.trace";
const B: &str = "traces/golden/expb_h1000_batch4.trace";
const T: &str = "traces/golden/tiled_s43_T250.zst";

#[test]
fn info() {
    insta::assert_snapshot!(analyze(&format!("info {B}")));
}

#[test]
fn ard_side_by_side() {
    insta::assert_snapshot!(analyze(&format!("ard {A} {T}")));
}

#[test]
fn dmd_of_one_trace() {
    insta::assert_snapshot!(analyze(&format!("dmd {A}")));
}

#[test]
fn dmd_side_by_side() {
    insta::assert_snapshot!(analyze(&format!("dmd --bytes-per-element 1 {A} {T}")));
}

#[test]
fn mrc_sampled_says_estimated() {
    insta::assert_snapshot!(analyze(&format!("mrc --sample 0.5 --size 32KiB,64KiB {A} {T}")));
}

#[test]
fn hist() {
    insta::assert_snapshot!(analyze(&format!("hist {T}")));
}

#[test]
fn hist_stack() {
    insta::assert_snapshot!(analyze(&format!("hist --stack {A}")));
}

#[test]
fn object_cache_two_sizes_side_by_side() {
    insta::assert_snapshot!(analyze(&format!("cache --size 32KiB,256KiB {A} {B}")));
}

#[test]
fn object_cache_sizes_of_one_trace() {
    insta::assert_snapshot!(analyze(&format!("cache --size 8KiB,32KiB,256KiB {T}")));
}

#[test]
fn line_cache_policies() {
    insta::assert_snapshot!(analyze(&format!(
        "cache --granularity line --size 32KiB --assoc 8 --policy lru,sieve,opt {T}"
    )));
}

#[test]
fn line_cache_traces_side_by_side() {
    insta::assert_snapshot!(analyze(&format!("cache --granularity line --size 32KiB {A} {T}")));
}

#[test]
fn mrc() {
    insta::assert_snapshot!(analyze(&format!("mrc {A} {T}")));
}

#[test]
fn mrc_at_chosen_sizes_side_by_side() {
    insta::assert_snapshot!(analyze(&format!("mrc --size 8KiB,32KiB,256KiB,1MiB {A} {T}")));
}

#[test]
fn energy() {
    insta::assert_snapshot!(analyze(&format!("energy {A} {B}")));
}

#[test]
fn verify_and_diff() {
    insta::assert_snapshot!(analyze(&format!("verify {A} {T}")));
    insta::assert_snapshot!(analyze(&format!("diff {A} {B}")));
}

#[test]
fn errors_are_one_line() {
    insta::assert_snapshot!(analyze("ard traces/golden/no-such-trace.zst"));
    insta::assert_snapshot!(analyze(&format!("cache --size 12XB {A}")));
    insta::assert_snapshot!(analyze(&format!("cache --granularity line --size 32KiB --line 48 {A}")));
    insta::assert_snapshot!(analyze("info traces/golden/README.md"));
    // Errors that say what to do: a negative size is a size error (not
    // clap's tip to write `-- -1`); a missing output folder is named.
    insta::assert_snapshot!(analyze(&format!("cache --size -1 {A}")));
    insta::assert_snapshot!(analyze(&format!("export --csv {A} -o no-such-folder/x.csv")));
    insta::assert_snapshot!(analyze(&format!("mrc --plot no-such-folder/m.svg {A}")));
}

/// A table wider than the terminal ($COLUMNS here) wraps into blocks of
/// columns under the same labels, each ratio beside its value; no line is
/// wider than the terminal.
#[test]
fn wide_tables_wrap_to_the_terminal() {
    let policies = "lru,fifo,clock,sieve,lfu,arc,s3fifo,random,opt";
    let mut all = String::new();
    for (columns, args) in [
        ("100", format!("cache --granularity line --size 32KiB,256KiB --policy {policies} {A}")),
        ("80", format!("ard {A} {B}")),
    ] {
        let out = Command::cargo_bin("analyze")
            .unwrap()
            .current_dir(common::root())
            .env("COLUMNS", columns)
            .args(args.split_whitespace())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let width: usize = columns.parse().unwrap();
        for line in text.lines() {
            assert!(line.chars().count() <= width, "wider than {width}: {line}");
        }
        all.push_str(&format!("$ COLUMNS={columns} analyze {args}\n{text}\n"));
    }
    insta::assert_snapshot!(all);
}

/// Runs `analyze` in `dir` (so tables print the short names given).
fn analyze_in(dir: &std::path::Path, args: &str) -> String {
    let out = Command::cargo_bin("analyze")
        .unwrap()
        .current_dir(dir)
        .env_remove("COLUMNS")
        .args(args.split_whitespace())
        .output()
        .unwrap();
    format!(
        "$ analyze {args}\nexit {}\n--- stdout\n{}--- stderr\n{}",
        out.status.code().map_or("signal".to_string(), |c| c.to_string()),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Figures that are undefined print `-` (and `null` in JSON), not 0; a
/// trace whose reads are mostly of data never written says where to look.
#[test]
fn undefined_figures_and_cold_reads() {
    let dir = tempfile::tempdir().unwrap();
    for (name, csv) in
        [("writes.trace", "op,buffer,size\nW,out,3\n"), ("cold.trace", "op,buffer,size\nR,x,10\nR,w,4\nW,y,1\nR,y,1\n")]
    {
        let path = dir.path().join(name.replace(".trace", ".csv"));
        std::fs::write(&path, csv).unwrap();
        let out = Command::cargo_bin("analyze")
            .unwrap()
            .arg("import")
            .arg(&path)
            .arg("-o")
            .arg(dir.path().join(name))
            .output()
            .unwrap();
        assert!(out.status.success());
    }
    let mut all = String::new();
    for args in [
        "ard writes.trace cold.trace",
        "ard --json writes.trace",
        "cache --size 32KiB writes.trace",
        "cache --granularity line --size 1KiB --json writes.trace",
    ] {
        all.push_str(&analyze_in(dir.path(), args));
        all.push('\n');
    }
    insta::assert_snapshot!(all);
}
