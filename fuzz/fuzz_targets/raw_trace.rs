//! The raw reader (the in-place path that memory-mapped files take).
#![no_main]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.starts_with(&memtrace::format::ZSTD_MAGIC) {
        return;
    }
    common::read_and_analyze(|| memtrace::TraceReader::from_bytes(data.to_vec()));
});
