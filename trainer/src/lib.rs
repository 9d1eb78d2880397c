//! The sparse-parity trainer of the seed experiments, bit-identical to the
//! reference trainer, with every variant (standard, fused, per-layer;
//! mini-batch; tiled W1) announcing its memory accesses to a tracer.
//!
//! - [`rng`]: Python's `random` and numpy's legacy `RandomState`, bit for bit;
//! - [`task`]: data and initial weights;
//! - [`aligned`]: cache-line aligned `f64` buffers for the kernels' data;
//! - [`kernels`]: the numeric inner loops, portable and AVX2, same bits;
//! - [`train`]: the steps of every variant and their access order;
//! - [`run`]: epochs, evaluation, stopping;
//! - [`record`]: the tracer that writes memtrace traces.

#![warn(missing_docs)]

pub mod aligned;
pub mod kernels;
pub mod record;
pub mod rng;
pub mod run;
pub mod task;
pub mod train;
