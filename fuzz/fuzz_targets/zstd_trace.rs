//! The streaming reader over zstd input.
#![no_main]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if !data.starts_with(&memtrace::format::ZSTD_MAGIC) {
        return;
    }
    common::read_and_analyze(|| memtrace::TraceReader::from_reader(std::io::Cursor::new(data.to_vec())));
});
