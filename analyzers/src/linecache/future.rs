//! The future of a line-request stream, for `opt` (Belady's MIN): for
//! request `k`, the index of the next request of the same line.
//!
//! Small streams keep the table in memory. Large ones spool it to disk, so
//! memory follows distinct lines, not requests (1.2 GB for 56 M requests
//! before): the requests go to an anonymous temporary file as the trace is
//! replayed, a backward pass over that file in chunks (memory: one chunk
//! and the last request of each distinct line) writes the next uses to a
//! second anonymous file, chunk by chunk from its end, and every `opt`
//! configuration reads that file forward with its own buffer. Anonymous
//! files vanish when the process ends, however it ends. Disk:
//! [`SPOOL_BYTES_PER_REQUEST`] bytes per request at the peak.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::sync::{Arc, Mutex};

use memtrace::{Event, Header, TraceSummary};

use super::layout::LineLayout;
use crate::linemap::LineValues;

/// Line requests kept in memory (16 bytes each: the request and its next use).
pub const IN_MEMORY_REQUESTS: u64 = 4 << 20;
/// Disk a spooled future takes per line request at its peak (requests and next uses).
pub const SPOOL_BYTES_PER_REQUEST: u64 = 16;
/// Entries per chunk of the backward pass and per reader buffer (8 MiB).
const CHUNK: usize = if cfg!(test) { 64 } else { 1 << 20 };
/// No next use.
pub const NEVER: u64 = u64::MAX;

/// Where an I/O error met while reading a spool is kept: a cache policy
/// cannot return errors, so the caller asks [`Future::check`] after replay.
type ErrorSlot = Arc<Mutex<Option<io::Error>>>;

/// The next uses of a request stream, in memory or spooled.
pub struct Future {
    table: Table,
    len: u64,
    error: ErrorSlot,
}

enum Table {
    Memory(Arc<Vec<u64>>),
    Spool(Arc<File>),
}

/// A forward reader of a [`Future`]: one per `opt` simulation.
pub struct NextUses {
    table: Table,
    /// Index of the next request.
    k: u64,
    len: u64,
    buf: Vec<u64>,
    at: usize,
    error: ErrorSlot,
}

impl Future {
    /// The future of `requests`, in memory.
    pub fn from_requests(requests: &[u64]) -> Future {
        let next_use = next_uses_backward(requests, 0, &mut LineValues::default());
        Future { len: requests.len() as u64, table: Table::Memory(Arc::new(next_use)), error: Arc::default() }
    }

    /// Requests in the stream.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the stream is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether it lives on disk.
    pub fn is_spooled(&self) -> bool {
        matches!(self.table, Table::Spool(_))
    }

    /// A reader from the first request.
    pub fn next_uses(&self) -> NextUses {
        let table = match &self.table {
            Table::Memory(v) => Table::Memory(v.clone()),
            Table::Spool(f) => Table::Spool(f.clone()),
        };
        NextUses { table, k: 0, len: self.len, buf: Vec::new(), at: 0, error: self.error.clone() }
    }

    /// The first I/O error a reader met, if any: results computed after
    /// one are wrong and must not be shown.
    pub fn check(&self) -> io::Result<()> {
        match self.error.lock().ok().and_then(|mut e| e.take()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl NextUses {
    /// The next use of the next request ([`NEVER`] past the end or after an I/O error).
    #[inline]
    pub fn next_use(&mut self) -> u64 {
        let k = self.k;
        self.k += 1;
        match &self.table {
            Table::Memory(v) => v.get(k as usize).copied().unwrap_or(NEVER),
            Table::Spool(_) => {
                if self.at == self.buf.len() && !self.refill(k) {
                    return NEVER;
                }
                self.at += 1;
                self.buf[self.at - 1]
            }
        }
    }

    #[cold]
    fn refill(&mut self, k: u64) -> bool {
        let Table::Spool(file) = &self.table else { return false };
        if k >= self.len {
            return false;
        }
        let n = (self.len - k).min(CHUNK as u64) as usize;
        match read_u64s(file, k, n) {
            Ok(v) => {
                self.buf = v;
                self.at = 0;
                true
            }
            Err(e) => {
                if let Ok(mut slot) = self.error.lock() {
                    slot.get_or_insert(e);
                }
                self.k = self.len;
                false
            }
        }
    }
}

/// Collects a trace's line requests for [`Future`]: in memory up to
/// `in_memory` requests, then in an anonymous temporary file.
pub struct FutureBuilder {
    layout: LineLayout,
    in_memory: u64,
    memory: Vec<u64>,
    spool: Option<BufWriter<File>>,
    len: u64,
    error: Option<io::Error>,
}

impl FutureBuilder {
    /// For a trace with this header, lines of `line` bytes; spools above `in_memory` requests.
    pub fn new(header: &Header, line: u64, in_memory: u64) -> FutureBuilder {
        FutureBuilder {
            layout: LineLayout::new(header, line),
            in_memory,
            memory: Vec::new(),
            spool: None,
            len: 0,
            error: None,
        }
    }

    /// One event.
    pub fn event(&mut self, e: &Event) {
        if self.error.is_some() {
            return;
        }
        let (first, last) = self.layout.lines(e);
        let n = last - first + 1;
        if self.spool.is_none() && self.len + n > self.in_memory {
            if let Err(e) = self.start_spool() {
                self.error = Some(e);
                return;
            }
        }
        self.len += n;
        match &mut self.spool {
            None => self.memory.extend(first..=last),
            Some(w) => {
                for line in first..=last {
                    if let Err(e) = w.write_all(&line.to_le_bytes()) {
                        self.error = Some(e);
                        return;
                    }
                }
            }
        }
    }

    fn start_spool(&mut self) -> io::Result<()> {
        let mut w = BufWriter::with_capacity(1 << 20, tempfile::tempfile()?);
        for line in std::mem::take(&mut self.memory) {
            w.write_all(&line.to_le_bytes())?;
        }
        self.spool = Some(w);
        Ok(())
    }

    /// The future: from memory, or by the backward pass over the spool.
    pub fn finish(self) -> io::Result<Future> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let Some(w) = self.spool else { return Ok(Future::from_requests(&self.memory)) };
        let requests = w.into_inner().map_err(|e| e.into_error())?;
        let next = tempfile::tempfile()?;
        next.set_len(self.len * 8)?;
        let mut last = LineValues::default();
        let mut end = self.len;
        while end > 0 {
            let start = end.saturating_sub(CHUNK as u64);
            let lines = read_u64s(&requests, start, (end - start) as usize)?;
            write_u64s(&next, start, &next_uses_backward(&lines, start, &mut last))?;
            end = start;
        }
        drop(requests);
        Ok(Future { table: Table::Spool(Arc::new(next)), len: self.len, error: Arc::default() })
    }
}

impl crate::Analyzer for FutureBuilder {
    type Output = Future;
    fn event(&mut self, e: &Event) {
        FutureBuilder::event(self, e)
    }
    fn finish(self, _: &Header, _: &TraceSummary) -> crate::Result<Future> {
        FutureBuilder::finish(self).map_err(crate::Error::Spool)
    }
}

/// The next uses of `lines`, requests `start..` of the stream, given in
/// `last` the first request of each line after them (updated to include them).
fn next_uses_backward(lines: &[u64], start: u64, last: &mut LineValues) -> Vec<u64> {
    let mut uses = vec![NEVER; lines.len()];
    for (i, &line) in lines.iter().enumerate().rev() {
        if let Some(n) = last.insert(line, start + i as u64) {
            uses[i] = n;
        }
    }
    uses
}

/// `n` little-endian u64 at entry `at` of `file`.
fn read_u64s(file: &File, at: u64, n: usize) -> io::Result<Vec<u64>> {
    let mut bytes = vec![0u8; n * 8];
    read_exact_at(file, &mut bytes, at * 8)?;
    Ok(bytes.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect())
}

fn write_u64s(file: &File, at: u64, values: &[u64]) -> io::Result<()> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    write_all_at(file, &bytes, at * 8)
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(unix)]
fn write_all_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        let n = file.seek_read(buf, offset)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
        offset += n as u64;
    }
    Ok(())
}

#[cfg(windows)]
fn write_all_at(file: &File, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        let n = file.seek_write(buf, offset)?;
        buf = &buf[n..];
        offset += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use memtrace::{Buffer, Op, Role};

    /// The definition, by search: for each request, the next index with the same line.
    fn naive(requests: &[u64]) -> Vec<u64> {
        (0..requests.len())
            .map(|k| (k + 1..requests.len()).find(|&j| requests[j] == requests[k]).map_or(NEVER, |j| j as u64))
            .collect()
    }

    fn read_all(f: &Future) -> Vec<u64> {
        let mut r = f.next_uses();
        (0..f.len()).map(|_| r.next_use()).collect()
    }

    #[test]
    fn spooled_and_in_memory_futures_equal_the_definition() {
        let mut h = Header::new("t", "0");
        let a = h.add_buffer(Buffer { name: "a".into(), len: 5000, elem_size: 4, role: Role::Other }).unwrap();
        let b = h.add_buffer(Buffer { name: "b".into(), len: 300, elem_size: 8, role: Role::Other }).unwrap();
        let mut x = 12345u64;
        let events: Vec<Event> = (0..400)
            .map(|i| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let (buffer, len) = if x >> 63 == 0 { (a, 5000) } else { (b, 300) };
                let offset = (x >> 20) % len;
                let n = 1 + (x >> 40) % (len - offset).min(700);
                Event { buffer, op: Op::Read, offset, len: n as u32, step: i }
            })
            .collect();
        let mut layout = LineLayout::new(&h, 64);
        let requests: Vec<u64> = events
            .iter()
            .flat_map(|e| {
                let (f, l) = layout.lines(e);
                f..=l
            })
            .collect();
        let expected = naive(&requests);
        assert!(expected.iter().any(|&n| n != NEVER) && expected.contains(&NEVER));
        for in_memory in [u64::MAX, 0, 7, requests.len() as u64 / 2] {
            let mut builder = FutureBuilder::new(&h, 64, in_memory);
            for e in &events {
                builder.event(e);
            }
            let future = builder.finish().unwrap();
            assert_eq!(future.is_spooled(), in_memory < requests.len() as u64);
            assert_eq!(read_all(&future), expected, "in memory up to {in_memory}");
            // Readers are independent: a second one starts from the beginning.
            assert_eq!(read_all(&future), expected);
            future.check().unwrap();
        }
    }
}
