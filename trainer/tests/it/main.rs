//! The integration tests of the trainer and `record`, in one test binary (each module
//! was a binary of its own; one link of the workspace instead of one each).

#[path = "../../../tests/common/mod.rs"]
mod common;
#[path = "../../../tests/common/seed_summary.rs"]
mod seed_summary;

mod cli;
mod naive_model;
mod protocols;
mod python_writer;
mod snapshots;
mod training;
