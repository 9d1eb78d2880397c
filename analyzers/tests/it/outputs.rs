//! Nothing destroyed: `-o` onto an existing file is refused without
//! `--force` (import, export, a plot, and `record` in the trainer's tests),
//! a device is written in place and never replaced, and a command's own
//! input is never its output, `--force` or not; a damaged trace exports
//! nothing.

use crate::common;

use std::path::Path;

use assert_cmd::Command;

const A: &str = "traces/golden/expa_h500_standard.trace";

fn analyze(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("analyze").unwrap().current_dir(dir).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn golden(dir: &Path) -> String {
    let p = dir.join("a.trace");
    std::fs::copy(common::root().join(A), &p).unwrap();
    "a.trace".into()
}

#[test]
fn existing_outputs_need_force() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = golden(d);
    std::fs::write(d.join("events.csv"), "op,buffer,size\nW,x,4\nR,x,4\n").unwrap();
    for (args, output) in [
        (vec!["export", "--csv", &a, "-o", "out.csv"], "out.csv"),
        (vec!["import", "events.csv", "-o", "out.trace"], "out.trace"),
        (vec!["mrc", "--plot", "out.svg", &a], "out.svg"),
        (vec!["dmd", "--plot", "out.svg", &a], "out.svg"),
    ] {
        std::fs::write(d.join(output), b"precious").unwrap();
        let (code, stdout, err) = analyze(d, &args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(stdout.is_empty(), "{args:?} printed before refusing");
        assert_eq!(
            err,
            format!("analyze: {output}: already exists; pass --force to replace it, or name another output\n")
        );
        assert_eq!(std::fs::read(d.join(output)).unwrap(), b"precious", "{args:?}");
        let mut forced = args.clone();
        forced.push("--force");
        let (code, _, err) = analyze(d, &forced);
        assert_eq!(code, 0, "{forced:?}: {err}");
        assert_ne!(std::fs::read(d.join(output)).unwrap(), b"precious", "{forced:?}");
    }
}

#[test]
fn an_input_is_never_its_own_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = golden(d);
    let before = std::fs::read(d.join(&a)).unwrap();
    std::fs::write(d.join("events.csv"), "op,buffer,size\nW,x,4\n").unwrap();
    for args in [
        vec!["export", "--csv", &a, "-o", "./a.trace", "--force"],
        vec!["import", "events.csv", "-o", "events.csv", "--force"],
        vec!["mrc", "--plot", "a.trace", "--force", &a],
        vec!["dmd", "--plot", "a.trace", "--force", &a],
    ] {
        let (code, _, err) = analyze(d, &args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(err.contains("is also an input of this command"), "{args:?}: {err}");
    }
    assert_eq!(std::fs::read(d.join(&a)).unwrap(), before);
    assert_eq!(std::fs::read_to_string(d.join("events.csv")).unwrap(), "op,buffer,size\nW,x,4\n");
}

#[cfg(unix)]
#[test]
fn devices_are_written_in_place_never_replaced() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = golden(d);
    std::fs::write(d.join("events.csv"), "op,buffer,size\nW,x,4\n").unwrap();
    for args in [vec!["export", "--csv", &a, "-o", "/dev/null"], vec!["import", "events.csv", "-o", "/dev/null"]] {
        let (code, _, err) = analyze(d, &args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());
    }
    // A FIFO is a stream: what goes in comes out.
    let fifo = d.join("pipe");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let reader = std::thread::spawn({
        let fifo = fifo.clone();
        move || std::fs::read_to_string(fifo).unwrap()
    });
    let (code, _, err) = analyze(d, &["export", "--csv", &a, "-o", "pipe"]);
    assert_eq!(code, 0, "{err}");
    let text = reader.join().unwrap();
    assert!(text.starts_with("op,buffer,size"), "{text}");
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
}

/// A trace whose checksum fails exports nothing: not to a file, not to
/// standard output (it would turn a damaged trace into a valid, shorter one).
#[test]
fn a_damaged_trace_exports_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = golden(d);
    let mut bytes = std::fs::read(d.join(&a)).unwrap();
    let n = bytes.len();
    bytes[n - 40] ^= 0x01; // an event byte: the CRC no longer matches
    std::fs::write(d.join("bad.trace"), &bytes).unwrap();
    let (code, stdout, err) = analyze(d, &["export", "--csv", "bad.trace"]);
    assert_eq!(code, 1, "{err}");
    assert!(stdout.is_empty(), "printed {} bytes of a damaged trace", stdout.len());
    let (code, _, err) = analyze(d, &["export", "--csv", "bad.trace", "-o", "out.csv"]);
    assert_eq!(code, 1, "{err}");
    assert!(!d.join("out.csv").exists());
    let mut left: Vec<_> = std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name()).collect();
    left.sort();
    assert_eq!(left, ["a.trace", "bad.trace"], "a temporary file was left behind");
}
