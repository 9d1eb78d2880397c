//! The tracer that writes memtrace traces: it names the network's buffers
//! as the seeds do (`W1`, `h_pre`, per-sample `x_3` in a mini-batch), gives
//! them roles, and streams every access to a [`TraceWriter`].

use std::path::Path;

use memtrace::{Buffer, BufferId, Compression, Header, Op, TraceWriter, WriteOptions, WriteSummary};

use crate::train::{Buf, Tracer};

/// Element count of each buffer.
fn buffer_len(buf: Buf, n_bits: usize, hidden: usize) -> u64 {
    (match buf {
        Buf::W1 | Buf::AccDW1 => hidden * n_bits,
        Buf::B1 | Buf::W2 | Buf::HPre | Buf::H | Buf::DW2 | Buf::Dh | Buf::DhPre | Buf::AccDB1 | Buf::AccDW2 => hidden,
        Buf::X => n_bits,
        Buf::Y | Buf::B2 | Buf::Out | Buf::Dout | Buf::DB2 | Buf::AccDB2 => 1,
    }) as u64
}

/// Maps symbolic buffers to trace buffer ids.
pub struct BufferTable {
    ids: Vec<Vec<BufferId>>,
}

impl BufferTable {
    /// Adds the network's buffers to `header`: one set of per-sample
    /// temporaries for a single-sample run (`x`, `h`, ...), `batch` sets for a
    /// mini-batch run (`x_0`, `x_1`, ...).
    pub fn register(header: &mut Header, n_bits: usize, hidden: usize, batch: usize) -> memtrace::Result<BufferTable> {
        let mut ids = vec![Vec::new(); Buf::ALL.len()];
        let mini_batch = batch > 1;
        for buf in Buf::ALL {
            if buf.per_sample() {
                continue;
            }
            if !mini_batch && matches!(buf, Buf::AccDW1 | Buf::AccDB1 | Buf::AccDW2 | Buf::AccDB2) {
                continue;
            }
            let id = header.add_buffer(Buffer::new(buf.name(), buffer_len(buf, n_bits, hidden), buf.role()))?;
            ids[buf as usize].push(id);
        }
        for s in 0..batch.max(1) {
            for buf in Buf::ALL.into_iter().filter(|b| b.per_sample()) {
                let name = if mini_batch { format!("{}_{s}", buf.name()) } else { buf.name().to_string() };
                let id = header.add_buffer(Buffer::new(name, buffer_len(buf, n_bits, hidden), buf.role()))?;
                ids[buf as usize].push(id);
            }
        }
        Ok(BufferTable { ids })
    }

    /// The trace id of buffer `buf` (of per-sample buffer copy `sample` in a batch).
    #[inline]
    pub fn id(&self, buf: Buf, sample: usize) -> BufferId {
        let v = &self.ids[buf as usize];
        v[if buf.per_sample() { sample } else { 0 }]
    }
}

/// A [`Tracer`] writing to a trace file. The first error is kept and
/// returned by [`TraceRecorder::finish`]; later accesses are dropped.
pub struct TraceRecorder {
    table: BufferTable,
    writer: TraceWriter,
    step: u32,
    /// Whether a gradient or accumulator was touched: a backward pass ran.
    backward: bool,
    error: Option<memtrace::Error>,
}

impl TraceRecorder {
    /// A recorder writing the file `path` (zstd when it ends in `.zst`).
    pub fn create(path: &Path, header: Header, n_bits: usize, hidden: usize, batch: usize) -> memtrace::Result<Self> {
        TraceRecorder::new(header, n_bits, hidden, batch, |h| TraceWriter::create(path, h))
    }

    /// A recorder writing a raw trace to a stream (`record -o -`).
    pub fn to_stream(
        out: impl std::io::Write + Send + 'static,
        header: Header,
        n_bits: usize,
        hidden: usize,
        batch: usize,
    ) -> memtrace::Result<Self> {
        let raw = WriteOptions { compression: Compression::None };
        TraceRecorder::new(header, n_bits, hidden, batch, |h| TraceWriter::to_stream(out, h, raw))
    }

    fn new(
        mut header: Header,
        n_bits: usize,
        hidden: usize,
        batch: usize,
        open: impl FnOnce(Header) -> memtrace::Result<TraceWriter>,
    ) -> memtrace::Result<Self> {
        let table = BufferTable::register(&mut header, n_bits, hidden, batch)?;
        Ok(TraceRecorder { table, writer: open(header)?, step: 0, backward: false, error: None })
    }

    /// Events recorded so far.
    pub fn events(&self) -> u64 {
        self.writer.events()
    }

    /// Whether any recorded step ran a backward pass (touched a gradient or
    /// an accumulator); a window of samples that all have margin >= 1 holds
    /// forward passes only.
    pub fn backward(&self) -> bool {
        self.backward
    }

    /// Whether a write failed (the error comes back from `finish`).
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// Finishes the trace file.
    pub fn finish(self) -> memtrace::Result<WriteSummary> {
        if let Some(e) = self.error {
            return Err(e);
        }
        self.writer.finish()
    }
}

impl Tracer for TraceRecorder {
    #[inline]
    fn access(&mut self, buf: Buf, sample: usize, op: Op, offset: usize, len: usize) {
        if self.error.is_some() {
            return;
        }
        self.backward |= matches!(buf.role(), memtrace::Role::Gradient | memtrace::Role::Accumulator);
        let id = self.table.id(buf, sample);
        if let Err(e) = self.writer.access(id, op, offset as u64, len as u64, self.step) {
            self.error = Some(e);
        }
    }

    fn end_step(&mut self) {
        self.step = self.step.saturating_add(1);
    }
}
