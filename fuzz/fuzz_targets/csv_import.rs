//! The CSV importer: any bytes as an events file.
#![no_main]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let csv = dir.path().join("in.csv");
    let out = dir.path().join("out.trace");
    if std::fs::write(&csv, data).is_err() {
        return;
    }
    match memtrace::import::import_csv(&csv, &out, memtrace::Header::new("fuzz", "0")) {
        Ok(_) => common::read_and_analyze(|| memtrace::TraceReader::open(&out)),
        Err(e) => {
            assert!(!out.exists(), "a failed import left its output");
            assert!(!e.to_string().contains('\n'));
        }
    }
});
