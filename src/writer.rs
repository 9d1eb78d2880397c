//! Writing traces. The caller's thread only encodes 24-byte records into a
//! block; full blocks go to a background thread that checksums, compresses
//! and writes them. Output goes to a temporary file in the target directory
//! that is renamed into place by [`TraceWriter::finish`]: a writer that is
//! dropped, panics, or whose process dies leaves no file under the output
//! name, and a file under the output name always has its footer. A writer
//! to a stream ([`TraceWriter::to_stream`], for pipes) cannot take back what
//! it wrote; there, a trace cut short lacks its footer, and every reader
//! rejects it as truncated.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

use crate::error::{Error, ErrorKind, Result};
use crate::format::{self, BufferId, Event, Header, Op, EVENT_LEN};

/// Bytes per block handed to the background thread. Small enough that the
/// thread starts early: with 1 MiB blocks, a short recording (40k events)
/// sat in one block and was compressed only at `finish`, adding 3 ms to a
/// 14 ms run; at 64 KiB the compression overlaps the recording.
const BLOCK_BYTES: usize = 64 << 10;
/// Blocks in flight before the caller waits for the disk (1 MiB).
const BLOCKS_IN_FLIGHT: usize = 16;

/// How the bytes are stored on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// The raw trace: can be memory-mapped.
    None,
    /// A plain zstd stream of the raw trace at this level (1..=22).
    Zstd {
        /// At this zstd level.
        level: i32,
    },
}

/// Options for [`TraceWriter::create_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// Raw or zstd.
    pub compression: Compression,
}

impl WriteOptions {
    /// zstd (level 3) for a name ending in `.zst` or `.zstd` (any case), raw otherwise.
    pub fn for_path(path: &Path) -> WriteOptions {
        let zst = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("zst") || e.eq_ignore_ascii_case("zstd"));
        WriteOptions { compression: if zst { Compression::Zstd { level: 3 } } else { Compression::None } }
    }

    /// A warning when `path` names another compression format (`x.gz`,
    /// `x.xz`, ...): the trace would be written raw under a name that says
    /// otherwise. Writers print it; `None` when the name and encoding agree.
    pub fn name_mismatch(path: &Path) -> Option<String> {
        const OTHERS: [&str; 10] = ["gz", "gzip", "tgz", "bz2", "xz", "lz4", "lzma", "zip", "7z", "br"];
        let ext = path.extension()?.to_str()?;
        OTHERS.iter().any(|o| ext.eq_ignore_ascii_case(o)).then(|| {
            format!(
                "{}: only names ending in .zst are compressed (zstd); this trace is written uncompressed \
                 (readers accept it whatever its name; name it .trace, or .zst to compress)",
                path.display()
            )
        })
    }
}

/// What [`TraceWriter::finish`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteSummary {
    /// Events written.
    pub events: u64,
    /// Bytes of the raw trace.
    pub raw_bytes: u64,
    /// Bytes on disk (smaller than `raw_bytes` when compressed).
    pub file_bytes: u64,
    /// CRC-32 of the raw trace.
    pub crc32: u32,
}

enum Msg {
    Block(Vec<u8>),
    Finish { events: u64 },
}

struct Finished {
    /// The temporary file and the name to rename it to; `None` for a stream.
    file: Option<(tempfile::NamedTempFile, PathBuf, crate::output::Partial)>,
    raw_bytes: u64,
    /// Bytes written: the file's length.
    written: u64,
    crc32: u32,
}

/// Where the background thread writes.
enum Destination {
    /// A temporary file, renamed to the target on `finish`.
    Temporary(tempfile::NamedTempFile, PathBuf, crate::output::Partial),
    Stream(Box<dyn Write + Send>),
}

/// Streams events into a trace file.
pub struct TraceWriter {
    buffer_lens: Vec<u64>,
    block: Vec<u8>,
    to_worker: Option<SyncSender<Msg>>,
    spare: Receiver<Vec<u8>>,
    worker: Option<JoinHandle<io::Result<Option<Finished>>>>,
    events: u64,
}

impl TraceWriter {
    /// Creates a writer for `path`, compressed if the name ends in `.zst`.
    pub fn create(path: impl AsRef<Path>, header: Header) -> Result<TraceWriter> {
        let path = path.as_ref();
        TraceWriter::create_with(path, header, WriteOptions::for_path(path))
    }

    /// A writer into `path` with explicit options (see [`TraceWriter::create`]).
    pub fn create_with(path: impl AsRef<Path>, header: Header, options: WriteOptions) -> Result<TraceWriter> {
        let target = path.as_ref().to_path_buf();
        let header_bytes = header.encode()?;
        if target.is_dir() {
            return Err(Error::new(ErrorKind::Io(io::Error::other("is a directory"))));
        }
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".partial");
        // Traces are for sharing: the usual 0666 less the umask, not tempfile's private 0600.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let tmp = builder.tempfile_in(&dir).map_err(|e| cannot_create_in(&dir, e))?;
        let partial = crate::output::Partial::register(tmp.path());
        TraceWriter::start(Destination::Temporary(tmp, target, partial), &header, header_bytes, options)
    }

    /// Creates a writer to a stream (standard output, a pipe). The stream
    /// gets the same bytes a file would, as they are produced; a writer
    /// dropped before [`TraceWriter::finish`] leaves the stream without a
    /// footer, which readers report as truncated.
    pub fn to_stream(out: impl Write + Send + 'static, header: Header, options: WriteOptions) -> Result<TraceWriter> {
        let header_bytes = header.encode()?;
        TraceWriter::start(Destination::Stream(Box::new(out)), &header, header_bytes, options)
    }

    fn start(
        destination: Destination,
        header: &Header,
        header_bytes: Vec<u8>,
        options: WriteOptions,
    ) -> Result<TraceWriter> {
        let (to_worker, from_caller) = mpsc::sync_channel::<Msg>(BLOCKS_IN_FLIGHT);
        let (give_back, spare) = mpsc::sync_channel::<Vec<u8>>(BLOCKS_IN_FLIGHT + 1);
        let worker = std::thread::Builder::new()
            .name("memtrace-writer".into())
            .spawn(move || write_blocks(destination, options.compression, header_bytes, from_caller, give_back))?;
        Ok(TraceWriter {
            buffer_lens: header.buffers.iter().map(|b| b.len).collect(),
            block: Vec::with_capacity(BLOCK_BYTES),
            to_worker: Some(to_worker),
            spare,
            worker: Some(worker),
            events: 0,
        })
    }

    /// Records an access of elements `[offset, offset + len)` of `buffer`.
    /// Accesses longer than `u32::MAX` elements become several events.
    #[inline]
    pub fn access(&mut self, buffer: BufferId, op: Op, offset: u64, len: u64, step: u32) -> Result<()> {
        let Some(&buf_len) = self.buffer_lens.get(buffer as usize) else {
            return Err(Error::invalid(format!("buffer id {buffer} is not in the table")));
        };
        if len == 0 {
            return Err(Error::invalid("an access must cover at least one element"));
        }
        match offset.checked_add(len) {
            Some(end) if end <= buf_len => {}
            _ => {
                return Err(Error::invalid(format!(
                    "access [{offset}, {offset}+{len}) is past the end of buffer {buffer} ({buf_len} elements)"
                )))
            }
        }
        let mut offset = offset;
        let mut left = len;
        while left > 0 {
            let chunk = left.min(u32::MAX as u64);
            self.push(Event { buffer, op, offset, len: chunk as u32, step })?;
            offset += chunk;
            left -= chunk;
        }
        Ok(())
    }

    /// Records one event (checked like [`TraceWriter::access`]).
    pub fn event(&mut self, e: Event) -> Result<()> {
        self.access(e.buffer, e.op, e.offset, e.len as u64, e.step)
    }

    #[inline]
    fn push(&mut self, e: Event) -> Result<()> {
        self.block.extend_from_slice(&e.encode());
        self.events += 1;
        if self.block.len() + EVENT_LEN > BLOCK_BYTES {
            self.send_block()?;
        }
        Ok(())
    }

    fn send_block(&mut self) -> Result<()> {
        let next = self.spare.try_recv().unwrap_or_else(|_| Vec::with_capacity(BLOCK_BYTES));
        let full = std::mem::replace(&mut self.block, next);
        let sent = self.to_worker.as_ref().map(|tx| tx.send(Msg::Block(full)));
        match sent {
            Some(Ok(())) => Ok(()),
            // The worker stopped: its error says why.
            _ => Err(self.join_worker().err().unwrap_or_else(|| Error::invalid("the trace writer stopped"))),
        }
    }

    fn join_worker(&mut self) -> Result<Option<Finished>> {
        self.to_worker = None;
        match self.worker.take() {
            Some(handle) => match handle.join() {
                Ok(result) => Ok(result?),
                Err(_) => Err(Error::invalid("the trace writer thread panicked")),
            },
            None => Ok(None),
        }
    }

    /// Events recorded so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Writes the footer, flushes, syncs and renames the file into place
    /// (for a stream: writes the footer and flushes).
    pub fn finish(mut self) -> Result<WriteSummary> {
        if !self.block.is_empty() {
            self.send_block()?;
        }
        let events = self.events;
        if let Some(tx) = &self.to_worker {
            if tx.send(Msg::Finish { events }).is_err() {
                return Err(self.join_worker().err().unwrap_or_else(|| Error::invalid("the trace writer stopped")));
            }
        }
        let finished = self.join_worker()?.ok_or_else(|| Error::invalid("the trace writer stopped early"))?;
        if let Some((file, target, _partial)) = finished.file {
            file.persist(target).map_err(|e| Error::from(e.error))?;
        }
        Ok(WriteSummary { events, raw_bytes: finished.raw_bytes, file_bytes: finished.written, crc32: finished.crc32 })
    }
}

impl Drop for TraceWriter {
    fn drop(&mut self) {
        // Closing the channel without Finish makes the worker return without a
        // footer; dropping its temporary file deletes it.
        self.to_worker = None;
        if let Some(h) = self.worker.take() {
            let _ = h.join();
        }
    }
}

/// The error of creating the temporary file, without its random name
/// (tempfile adds "at path .../.t.zst.XXXXXX.partial", which names nothing
/// the user asked for).
fn cannot_create_in(dir: &Path, e: io::Error) -> Error {
    // Read-only, full and not-a-directory are told apart by their OS codes
    // (the same on Linux and macOS): their `ErrorKind`s need Rust 1.83.
    let why = match (e.kind(), e.raw_os_error()) {
        (io::ErrorKind::NotFound, _) => "no such directory".to_string(),
        (io::ErrorKind::PermissionDenied, _) => "permission denied".to_string(),
        (_, Some(30)) if cfg!(unix) => "read-only file system".to_string(),
        (_, Some(28)) if cfg!(unix) => "no space left on the device".to_string(),
        (_, Some(20)) if cfg!(unix) => "not a directory".to_string(),
        _ => e.to_string(),
    };
    Error::new(ErrorKind::Io(io::Error::new(e.kind(), format!("cannot write into {}: {why}", dir.display()))))
}

/// The background thread: checksum, compress, write; footer on Finish.
fn write_blocks(
    destination: Destination,
    compression: Compression,
    header: Vec<u8>,
    blocks: Receiver<Msg>,
    give_back: SyncSender<Vec<u8>>,
) -> io::Result<Option<Finished>> {
    let (file, tmp): (Box<dyn Write + Send>, _) = match destination {
        Destination::Temporary(tmp, target, partial) => {
            (Box::new(tmp.as_file().try_clone()?), Some((tmp, target, partial)))
        }
        Destination::Stream(out) => (out, None),
    };
    let mut sink = match compression {
        Compression::None => Sink::Raw(BufWriter::with_capacity(1 << 20, file)),
        Compression::Zstd { level } => {
            let sealing =
                Sealing { inner: BufWriter::with_capacity(1 << 20, file), crc: crc32fast::Hasher::new(), len: 0 };
            let mut enc = zstd::stream::write::Encoder::new(sealing, level)?;
            enc.include_checksum(true)?;
            Sink::Zstd(enc)
        }
    };
    let mut crc = crc32fast::Hasher::new();
    let mut raw_bytes = header.len() as u64;
    crc.update(&header);
    sink.write_all(&header)?;
    for msg in blocks {
        match msg {
            Msg::Block(block) => {
                crc.update(&block);
                sink.write_all(&block)?;
                raw_bytes += block.len() as u64;
                let mut block = block;
                block.clear();
                let _ = give_back.try_send(block);
            }
            Msg::Finish { events } => {
                let crc32 = crc.finalize();
                sink.write_all(&format::encode_footer(events, crc32))?;
                raw_bytes += format::FOOTER_LEN as u64;
                let written = sink.finish()?.unwrap_or(raw_bytes);
                if let Some((tmp, _, _)) = &tmp {
                    tmp.as_file().sync_all()?;
                }
                return Ok(Some(Finished { file: tmp, raw_bytes, written, crc32 }));
            }
        }
    }
    Ok(None)
}

enum Sink {
    Raw(BufWriter<Box<dyn Write + Send>>),
    Zstd(zstd::stream::write::Encoder<'static, Sealing<BufWriter<Box<dyn Write + Send>>>>),
}

/// Passes bytes through, keeping their CRC-32 and count for the trailer.
struct Sealing<W> {
    inner: W,
    crc: crc32fast::Hasher,
    len: u64,
}

impl<W: Write> Write for Sealing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Sink {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Sink::Raw(w) => w.write_all(bytes),
            Sink::Zstd(w) => w.write_all(bytes),
        }
    }

    /// Ends the zstd frame (if any) and flushes everything to the file;
    /// returns the compressed bytes written (`None`: raw, as many as read).
    fn finish(self) -> io::Result<Option<u64>> {
        match self {
            Sink::Raw(mut w) => w.flush().map(|()| None),
            Sink::Zstd(w) => {
                // The frame, then a skippable frame sealing every compressed byte.
                let mut sealing = w.finish()?;
                let trailer = format::encode_zstd_trailer(sealing.crc.clone().finalize(), sealing.len);
                sealing.inner.write_all(&trailer)?;
                sealing.inner.flush()?;
                Ok(Some(sealing.len + trailer.len() as u64))
            }
        }
    }
}
