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

/// Sends `signal` to `child` and waits (at most 5 s) for it to end; its exit code.
fn signal_and_wait(child: &mut std::process::Child, signal: &str) -> Option<i32> {
    let sent = Command::new("kill").arg(format!("-{signal}")).arg(child.id().to_string()).status().unwrap();
    assert!(sent.success());
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        assert!(started.elapsed() < Duration::from_secs(5), "still running 5 s after SIG{signal}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Ctrl-C, SIGTERM and SIGHUP (unlike SIGKILL, which nothing can clean up
/// after) leave no hidden file behind: not the copy of standard input, not
/// an import's output in progress.
#[test]
fn signals_leave_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("lines.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&csv).unwrap());
    writeln!(f, "op,buffer,size,offset").unwrap();
    for i in 0..6_000_000u32 {
        writeln!(f, "R,b{},8,{}", i % 7, i % 100).unwrap();
    }
    drop(f);
    let work = dir.path().join("work");
    for signal in ["INT", "TERM", "HUP"] {
        std::fs::create_dir(&work).unwrap();
        // Standard input that never ends: analyze is copying it to $TMPDIR.
        let mut copying = Command::new(assert_cmd::cargo::cargo_bin("analyze"))
            .args(["import", "-", "-o", "out.zst"])
            .current_dir(&work)
            .env("TMPDIR", &work)
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = copying.stdin.take().unwrap();
        stdin.write_all(b"op,buffer,size\n").unwrap();
        for _ in 0..1000 {
            stdin.write_all(b"R,x,4\n").unwrap();
        }
        stdin.flush().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let copies = std::fs::read_dir(&work).unwrap().count();
        assert_eq!(copies, 1, "SIG{signal}: the copy of standard input is being written");
        assert_eq!(signal_and_wait(&mut copying, signal), Some(130), "SIG{signal}");
        let left: Vec<_> = std::fs::read_dir(&work).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(left.is_empty(), "SIG{signal}: left behind while copying standard input: {left:?}");
        drop(stdin);

        // An import writing its output under a hidden temporary name.
        let mut importing = Command::new(assert_cmd::cargo::cargo_bin("analyze"))
            .arg("import")
            .arg(&csv)
            .args(["-o", "out.zst"])
            .current_dir(&work)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // The first pass (the buffer table) takes about half the run; wait for the output.
        let started = std::time::Instant::now();
        while std::fs::read_dir(&work).unwrap().count() == 0 {
            assert!(started.elapsed() < Duration::from_secs(20), "no temporary output appeared");
            assert!(importing.try_wait().unwrap().is_none(), "the import ended before writing");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(importing.try_wait().unwrap().is_none(), "SIG{signal}: the import finished too soon");
        assert_eq!(signal_and_wait(&mut importing, signal), Some(130), "SIG{signal}");
        let left: Vec<_> = std::fs::read_dir(&work).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(left.is_empty(), "SIG{signal}: left behind by an interrupted import: {left:?}");
        std::fs::remove_dir(&work).unwrap();
    }
}
