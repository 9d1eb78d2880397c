//! Bad input at the command line: one line on stderr that names the file
//! and the position (byte or line), exit status 1, and never a panic.

use crate::common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn analyze(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("analyze").unwrap().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// Runs `analyze <cmd> <file>` and checks the failure shape; returns stderr.
fn fails_on(cmd: &[&str], file: &Path, position: &str) -> String {
    let mut args: Vec<&str> = cmd.to_vec();
    let f = file.to_str().unwrap();
    args.push(f);
    let (code, _, err) = analyze(&args);
    assert_eq!(code, 1, "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line expected: {err}");
    assert!(err.starts_with(&format!("analyze: {f}: ")), "{err}");
    assert!(err.contains(position), "expected {position:?} in {err}");
    err
}

fn valid_trace(dir: &Path) -> (PathBuf, Vec<u8>) {
    let csv = common::reference().join("streams/expa_h500_perlayer.events.csv");
    let p = dir.join("ok.trace");
    Command::cargo_bin("analyze").unwrap().arg("import").arg(&csv).arg("-o").arg(&p).assert().success();
    let b = std::fs::read(&p).unwrap();
    (p, b)
}

fn reseal(mut bytes: Vec<u8>) -> Vec<u8> {
    let end = bytes.len() - 24;
    let crc = crc32(&bytes[..end]);
    bytes[end + 16..end + 20].copy_from_slice(&crc.to_le_bytes());
    bytes
}

/// CRC-32 (IEEE), bit by bit: the tests do not share the library's code.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn damaged_traces_give_one_positioned_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, ok) = valid_trace(d);
    let hl = u32::from_le_bytes(ok[12..16].try_into().unwrap()) as usize;
    for cmd in [&["ard"][..], &["cache", "--size", "32KiB"], &["info"], &["hist"]] {
        let mut b = ok.clone();
        b[0] = b'Z';
        fails_on(cmd, &write(d, "magic.trace", &b), "byte 0");

        let mut b = ok.clone();
        b[8] = 2;
        let e = fails_on(cmd, &write(d, "future.trace", &reseal(b)), "byte 8");
        assert!(e.contains("upgrade"), "{e}");

        let e = fails_on(cmd, &write(d, "cut.trace", &ok[..ok.len() - 30]), "byte");
        assert!(e.contains("truncated"), "{e}");

        let mut b = ok.clone();
        b[hl + 16] ^= 4; // a step number: only the checksum can tell
        let e = fails_on(cmd, &write(d, "crc.trace", &b), "byte");
        assert!(e.contains("checksum"), "{e}");

        let mut b = ok.clone();
        b[hl + 12..hl + 16].copy_from_slice(&999u32.to_le_bytes());
        fails_on(cmd, &write(d, "id.trace", &reseal(b)), &format!("byte {}", hl + 12));

        let mut b = ok.clone();
        b[hl..hl + 8].copy_from_slice(&1u64.to_le_bytes()); // W1 written from element 1: one past its end
        fails_on(cmd, &write(d, "range.trace", &reseal(b)), &format!("byte {hl}"));

        let e = fails_on(cmd, &write(d, "empty.trace", &[]), "empty");
        assert!(!e.contains("panicked"));
        fails_on(cmd, d, "directory");
        fails_on(cmd, &d.join("missing.trace"), "No such file");
    }
}

#[test]
fn damaged_zstd_traces_give_one_line_too() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, ok) = valid_trace(d);
    let zst = zstd::encode_all(&ok[..], 3).unwrap();
    fails_on(&["ard"], &write(d, "cut.zst", &zst[..zst.len() / 2]), "byte");
    let mut flipped = zst.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x10;
    fails_on(&["ard"], &write(d, "flip.zst", &flipped), "byte");
}

#[test]
fn malformed_csv_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("out.zst");
    let cases: &[(&str, &str)] = &[
        ("op,buffer,size\nW,x,20\nQ,x,20\n", "line 3"),
        ("op,buffer,size\nW,x,twenty\n", "line 2"),
        ("op,buffer,size\nW,x\n", "line 2"),
        ("op,buffer,size\nW,x,0\n", "line 2"),
        ("op,buffer,size\nW,,5\n", "line 2"),
        ("op,buffer,size\nW,x,-3\n", "line 2"),
        ("op,buffer\nW,x\n", "line 1"),
        ("", "line 1"),
        ("op,buffer,size\nW,x,99999999999999999999999\n", "line 2"),
    ];
    for (i, (text, position)) in cases.iter().enumerate() {
        let csv = write(d, &format!("bad{i}.csv"), text.as_bytes());
        let (code, _, err) = analyze(&["import", csv.to_str().unwrap(), "-o", out.to_str().unwrap()]);
        assert_eq!(code, 1, "{text:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.starts_with(&format!("analyze: {}: {position}", csv.display())), "{text:?}: {err}");
        assert!(!out.exists(), "a failed import left {}", out.display());
    }
    let (code, _, err) = analyze(&["import", d.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("directory"), "{err}");
}

#[test]
fn bad_cache_sizes_are_usage_errors() {
    let (code, _, err) = analyze(&["cache", "--size", "32XB", "whatever.trace"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown unit"), "{err}");
}

/// A 24-byte event can declare 2^58 lines (2^32 - 1 elements of 2^32 - 1
/// bytes, ceil((2^32 - 1)^2 / 64) = 288,230,376,017,494,017 lines of 64
/// bytes): every line analyzer counts the line requests first and refuses,
/// in one line, with the count and the flag that raises the limit; a
/// limit below a real trace's count refuses it too, and raising it runs.
#[test]
fn line_analyzers_refuse_centuries_of_line_requests_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = dir.path().join("huge.trace");
    let mut header = memtrace::Header::new("test", "0");
    let huge = memtrace::Buffer {
        name: "x".into(),
        len: u64::from(u32::MAX),
        elem_size: u32::MAX,
        role: memtrace::Role::Other,
    };
    header.add_buffer(huge).unwrap();
    let mut w = memtrace::TraceWriter::create(&hostile, header).unwrap();
    w.event(memtrace::Event { buffer: 0, op: memtrace::Op::Read, offset: 0, len: u32::MAX, step: 0 }).unwrap();
    w.finish().unwrap();
    for cmd in [&["cache", "--granularity", "line", "--size", "32KiB"][..], &["mrc"], &["hist", "--stack"], &["energy"]]
    {
        let out = Command::cargo_bin("analyze")
            .unwrap()
            .args(cmd)
            .arg(&hostile)
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{cmd:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{cmd:?}: {err}");
        assert!(err.contains("implies 288,230,376,017,494,017 line requests of 64-byte lines"), "{cmd:?}: {err}");
        assert!(err.contains("years") && err.contains("--max-line-requests"), "{cmd:?}: {err}");
    }
    let (ok, _) = valid_trace(dir.path());
    let (code, _, err) = analyze(&["mrc", "--max-line-requests", "100", ok.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("more than the limit of 100"), "{err}");
    let (code, out, err) = analyze(&["mrc", "--max-line-requests", "1000000", ok.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("miss ratio"), "{out}");
}
