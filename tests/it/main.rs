//! The integration tests of the trace format, in one test binary (each module
//! was a binary of its own; one link of the workspace instead of one each).

mod adversarial;
mod format;
mod roundtrip;
