//! Killing a writer at any point (SIGKILL: no cleanup runs) never leaves a
//! file under the output name: `analyze import` and `record` write to a
//! hidden temporary file and rename it only when the trace is complete.

#![cfg(unix)]

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

fn kill_at(mut child: Child, after_ms: u64) -> bool {
    std::thread::sleep(Duration::from_millis(after_ms));
    let finished = child.try_wait().unwrap().is_some();
    let _ = child.kill();
    let _ = child.wait();
    finished
}

fn check(out: &Path, finished: bool, what: &str) {
    if out.exists() {
        // Only a complete trace may be there, and only if the writer finished.
        let verify = Command::new(assert_cmd::cargo::cargo_bin("analyze")).arg("verify").arg(out).output().unwrap();
        assert!(verify.status.success(), "{what}: a damaged trace under the output name");
        assert!(finished || verify.status.success(), "{what}");
        std::fs::remove_file(out).unwrap();
    }
}

#[test]
fn killed_imports_leave_no_trace_under_the_output_name() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("big.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&csv).unwrap());
    writeln!(f, "op,buffer,size").unwrap();
    for i in 0..2_000_000u32 {
        writeln!(f, "{},b{},{}", if i % 3 == 0 { 'W' } else { 'R' }, i % 50, 1 + i % 1000).unwrap();
    }
    drop(f);
    let out = dir.path().join("out.zst");
    let mut killed_midway = 0;
    for after in [5, 40, 120, 250, 400, 700, 1100] {
        let child = Command::new(assert_cmd::cargo::cargo_bin("analyze"))
            .arg("import")
            .arg(&csv)
            .arg("-o")
            .arg(&out)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let finished = kill_at(child, after);
        killed_midway += usize::from(!finished);
        check(&out, finished, &format!("import killed after {after} ms"));
    }
    assert!(killed_midway >= 3, "the import was too fast to interrupt; make the CSV larger");
}

#[test]
fn killed_records_leave_no_trace_under_the_output_name() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run.zst");
    let mut killed_midway = 0;
    for after in [5, 60, 200, 500] {
        let record = assert_cmd::cargo::cargo_bin("record");
        assert!(record.exists(), "record is not built: run the workspace's tests (make test)");
        let child = Command::new(record)
            .args(["--hidden", "1000", "--lr", "0", "--epochs", "50", "-o"])
            .arg(&out)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let finished = kill_at(child, after);
        killed_midway += usize::from(!finished);
        check(&out, finished, &format!("record killed after {after} ms"));
    }
    assert!(killed_midway >= 2, "record finished too fast to interrupt");
}
