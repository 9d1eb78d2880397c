//! The integration tests of the analyzers and `analyze`, in one test binary (each module
//! was a binary of its own; one link of the workspace instead of one each).

#[path = "../../../tests/common/mod.rs"]
mod common;
#[path = "../../../tests/common/seed_summary.rs"]
mod seed_summary;

mod bad_corpus;
mod bad_input;
mod conformance;
mod dmd;
mod energy;
mod golden;
mod hostile;
mod interrupt;
mod linecache;
mod linecache_properties;
mod memory;
mod outputs;
mod properties;
mod sharing;
mod snapshots;
