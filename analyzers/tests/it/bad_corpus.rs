//! The regression corpus of bad inputs (`tests/data/bad/`): handcrafted
//! damage and fuzzing findings. Each is refused with one positioned line,
//! exit status 1, and no panic.

use crate::common;

use assert_cmd::Command;

#[test]
fn every_bad_input_is_refused_with_one_positioned_line() {
    let dir = common::root().join("tests/data/bad");
    let out_dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".md") {
            continue;
        }
        let out = if name.ends_with(".csv") {
            Command::cargo_bin("analyze")
                .unwrap()
                .arg("import")
                .arg(&path)
                .arg("-o")
                .arg(out_dir.path().join("o.zst"))
                .output()
        } else {
            Command::cargo_bin("analyze").unwrap().arg("verify").arg(&path).output()
        }
        .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{name}: {err}");
        assert!(err.starts_with(&format!("analyze: {}: ", path.display())), "{name}: {err}");
        let positioned = err.contains("byte ") || err.contains("line ") || name == "empty.trace";
        assert!(positioned, "{name}: no position in {err}");
        checked += 1;
    }
    assert!(checked >= 18, "only {checked} bad inputs found");
}
