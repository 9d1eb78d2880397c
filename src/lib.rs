//! The memtrace trace format: the on-disk types, the reader, the writer and
//! the CSV importer.
//!
//! A trace records how a program touches memory: a header (producer,
//! metadata, buffer table), then fixed-width little-endian event records
//! (buffer id, element offset, element count, read or write, step), then a
//! footer with the event count and a CRC-32 of everything before it. The
//! byte layout is specified in `docs/trace-format.md`; this crate is one
//! implementation of it and the Python writer in `python/` is another.
//!
//! Two encodings carry the same bytes: raw (`.trace`), which can be
//! memory-mapped, and a plain zstd stream of the raw bytes (`.zst`).
//! Readers tell them apart by content.
//!
//! ```no_run
//! use memtrace::{Header, Buffer, Role, Op, TraceWriter, TraceReader};
//! let mut header = Header::new("example", "0.1");
//! let w1 = header.add_buffer(Buffer::new("W1", 20_000, Role::Parameter)).unwrap();
//! let mut writer = TraceWriter::create("t.zst", header).unwrap();
//! writer.access(w1, Op::Write, 0, 20_000, 0).unwrap();
//! writer.finish().unwrap();
//!
//! let mut reader = TraceReader::open("t.zst").unwrap();
//! while let Some(events) = reader.next_batch().unwrap() {
//!     for e in events { println!("{:?}", e); }
//! }
//! ```

#![warn(missing_docs)]
// No unsafe at all: in particular traces are read, not memory-mapped (see `reader`).
#![forbid(unsafe_code)]

mod error;
pub mod format;
pub mod import;
pub mod output;
mod reader;
mod writer;

pub use error::{Error, ErrorKind, Result};
pub use format::{Buffer, BufferId, Event, Header, Op, Role, FORMAT_VERSION};
pub use reader::{Encoding, TraceReader, TraceSummary};
pub use writer::{Compression, TraceWriter, WriteOptions, WriteSummary};
