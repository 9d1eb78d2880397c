//! Caches like hardware: accesses expanded to cache lines, simulated under
//! real replacement policies, fully or set associative.
//!
//! Layout (`docs/analyzers.md`, and the reference's `lines/README.md`):
//! buffers are placed in one address space in the order of their first
//! appearance in the trace, each aligned up to a line, as long as the
//! buffer's elements; an access touches every line overlapping its bytes, in
//! ascending order, and every touched line is one request; every request,
//! read or write, allocates on a miss.
//!
//! The policies follow libCacheSim's implementations wherever a miss count
//! depends on a detail (tests compare exact miss counts with it): `lru`,
//! `fifo`, `clock` (one reference bit), `sieve`, `lfu` (FIFO among equal
//! frequencies), `arc`, `s3fifo` (S3FIFO-0.1000-2), `opt` (Belady's MIN that
//! always inserts), and `random`.

mod arc;
mod belady;
mod clock;
mod clock_ring;
mod future;
mod layout;
mod lfu;
mod policy;
mod queue;
mod random;
mod report;
mod s3fifo;
mod sieve;
mod sim;
pub(crate) mod slab;
mod ways;

pub use belady::Belady;
pub use future::{Future, FutureBuilder, NextUses, IN_MEMORY_REQUESTS, SPOOL_BYTES_PER_REQUEST};
pub use layout::{line_requests, requests, Counted, LineLayout, LineRequestCount};
pub use policy::{build_cache, set_arrays, Access, Assoc, Policy, PolicyKind, SetAssociative, POLICIES};
pub use sim::{LineCacheSim, LineConfig, LineResult, Traffic};
pub use ways::SetArrays;
