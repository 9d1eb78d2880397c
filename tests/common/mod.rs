//! The small harness every integration test of the workspace shares
//! (included with `#[path]`): where the reference data lives, and a JSON
//! comparison with the project's exactness rule: integers equal, floats
//! within 1e-9 relative.
#![allow(dead_code)]

use std::path::PathBuf;

use serde_json::Value;

/// The workspace root.
pub fn root() -> PathBuf {
    let mut p = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    while !p.join("tests/data/reference").is_dir() {
        assert!(p.pop(), "tests/data/reference not found above {}", env!("CARGO_MANIFEST_DIR"));
    }
    p
}

/// The project's copy of `../shared/reference`.
pub fn reference() -> PathBuf {
    root().join("tests/data/reference")
}

/// Names of the reference streams (`streams/NAME.events.csv`), sorted.
pub fn stream_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(reference().join("streams"))
        .expect("reference streams")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".events.csv").map(String::from))
        .collect();
    names.sort();
    assert!(names.len() >= 39, "expected the 39 reference streams, found {}", names.len());
    names
}

pub fn read_json(path: impl Into<PathBuf>) -> Value {
    let path = path.into();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Floats equal to 1e-9 relative (absolute 1e-12 near zero).
pub fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()) || (a - b).abs() < 1e-12
}

/// Every field of `expected` must be in `actual` and equal: integers exactly,
/// other numbers to 1e-9 relative. Extra fields in `actual` are fine.
/// Returns one line per mismatch.
pub fn compare(path: &str, expected: &Value, actual: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                match a.get(k) {
                    Some(av) => out.extend(compare(&format!("{path}.{k}"), ev, av)),
                    None => out.push(format!("{path}.{k}: missing")),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                out.push(format!("{path}: {} items, expected {}", a.len(), e.len()));
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                out.extend(compare(&format!("{path}[{i}]"), ev, av));
            }
        }
        (Value::Number(e), Value::Number(a)) => {
            let both_int = e.is_i64() || e.is_u64();
            let ok = if both_int && (a.is_i64() || a.is_u64()) {
                (e.as_i64(), e.as_u64()) == (a.as_i64(), a.as_u64())
            } else if both_int && e.as_f64() == Some(0.0) {
                a.as_f64() == Some(0.0)
            } else {
                close(e.as_f64().unwrap_or(f64::NAN), a.as_f64().unwrap_or(f64::NAN))
            };
            if !ok {
                out.push(format!("{path}: {a}, expected {e}"));
            }
        }
        (e, a) => {
            if e != a {
                out.push(format!("{path}: {a}, expected {e}"));
            }
        }
    }
    out
}
