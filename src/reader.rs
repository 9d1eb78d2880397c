//! Reading traces: one reader for both encodings, told apart by their first
//! bytes. Files are read batch by batch (never memory-mapped: a mapped file
//! truncated under the reader raises SIGBUS), zstd through a fixed-size
//! window, so no reader holds a whole trace in memory. The work overlaps
//! the caller's: a raw stream is read, checked and decoded on its own
//! thread ([`DecodeAhead`]), a zstd stream decompressed on its own thread
//! ([`ReadAhead`]) and decoded on the caller's.
//!
//! Every reader checks the structure of every event, the footer's event
//! count and the CRC-32 of the whole content as it goes: a damaged trace
//! yields an error at the latest when its last batch is read, never a
//! silently wrong answer.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind, Result};
use crate::format::{self, Event, Header, EVENT_LEN, FOOTER_LEN, PREFIX_LEN, ZSTD_MAGIC, ZSTD_TRAILER_LEN};

/// Events handed out per batch.
const BATCH_EVENTS: usize = 4 * 1024;

/// How the trace bytes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// An uncompressed trace.
    Raw,
    /// A zstd-compressed trace.
    Zstd,
}

impl Encoding {
    /// `raw` or `zstd`.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Raw => "raw",
            Encoding::Zstd => "zstd",
        }
    }
}

/// What a completely read trace looked like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceSummary {
    /// Events in the trace.
    pub events: u64,
    /// The CRC-32 stored in the footer, which the content was checked against.
    pub crc32: u32,
    /// Bytes of the raw trace (header + events + footer).
    pub raw_bytes: u64,
    /// How the file is encoded.
    pub encoding: Encoding,
    /// SHA-256 of the raw trace, when asked for with [`TraceReader::compute_content_hash`]:
    /// the same for a trace and its compressed copy.
    pub sha256: Option<[u8; 32]>,
}

impl TraceSummary {
    /// `sha256:` and the hex digest, or `None` if it was not computed.
    pub fn content_hash(&self) -> Option<String> {
        self.sha256.map(|d| format!("sha256:{}", d.iter().map(|b| format!("{b:02x}")).collect::<String>()))
    }
}

enum Source {
    /// A trace held in memory ([`TraceReader::from_bytes`]), decoded in place.
    Mapped { map: Vec<u8>, pos: usize },
    /// `buf[start..end]` holds bytes read and not yet consumed; `buf` keeps
    /// its length (one batch and a footer), so refills never zero it.
    Stream { inner: Box<dyn Read + Send>, buf: Vec<u8>, start: usize, end: usize, eof: bool },
}

/// A trace being read, batch by batch.
pub struct TraceReader {
    header: Header,
    encoding: Encoding,
    header_len: u64,
    /// The header bytes, kept for a content hash asked for after opening.
    header_bytes: Vec<u8>,
    /// Bytes of the file consumed (compressed bytes for zstd), for progress bars.
    file_pos: Arc<AtomicU64>,
    file_len: Option<u64>,
    decoding: Decoding,
    /// Decode on a thread of its own from the first batch on (raw streams).
    decode_ahead: bool,
}

/// Where batches are decoded.
enum Decoding {
    /// On the caller's thread, as they are asked for.
    Here(Box<Decoder>),
    /// On the `memtrace-decode` thread, a few batches ahead.
    Ahead(DecodeAhead),
}

/// Everything decoding needs: the source, the position and the running
/// checks. It runs on the caller's thread or on the decode-ahead thread;
/// either way it decodes and checks the same bytes in the same order.
struct Decoder {
    buffers: Vec<format::Buffer>,
    /// Each buffer's length, for the batched bounds check.
    lens: Vec<u64>,
    encoding: Encoding,
    source: Source,
    /// Raw-trace bytes consumed so far (the position of the next record).
    pos: u64,
    crc: crc32fast::Hasher,
    sha256: Option<Sha256>,
    events: Vec<Event>,
    events_read: u64,
    summary: Option<TraceSummary>,
    file_pos: Arc<AtomicU64>,
    /// For zstd input: the seal over the compressed bytes.
    seal: Option<Arc<std::sync::Mutex<CompressedSeal>>>,
    /// The stored bytes have run out (see [`CountingReader`]).
    input_ended: Arc<std::sync::atomic::AtomicBool>,
}

/// The error of reading a stream at byte `at` (of the decompressed trace
/// when `decompressed`). A zstd error once the stored bytes have run out
/// means the file was cut short, which deserves its own message.
fn stream_error(e: io::Error, at: u64, decompressed: bool, input_ended: bool) -> Error {
    match (decompressed, input_ended) {
        (true, true) => Error::at_byte(
            at,
            true,
            ErrorKind::Truncated {
                what: "the compressed file ends inside a zstd frame (it was cut short, or is still being written)",
            },
        ),
        (true, false) => Error::at_byte(at, true, ErrorKind::Compression(e)),
        (false, _) => Error::at_byte(at, false, ErrorKind::Io(e)),
    }
}

/// CRC-32 and length of the compressed bytes, all but the last
/// [`ZSTD_TRAILER_LEN`], which are held back as the candidate trailer.
#[derive(Default)]
struct CompressedSeal {
    crc: crc32fast::Hasher,
    len: u64,
    tail: Vec<u8>,
}

impl CompressedSeal {
    fn feed(&mut self, bytes: &[u8]) {
        if bytes.len() >= ZSTD_TRAILER_LEN {
            // The held-back bytes and all but the last trailer's worth are sealed.
            let (sealed, held) = bytes.split_at(bytes.len() - ZSTD_TRAILER_LEN);
            self.crc.update(&self.tail);
            self.crc.update(sealed);
            self.len += (self.tail.len() + sealed.len()) as u64;
            self.tail.clear();
            self.tail.extend_from_slice(held);
            return;
        }
        self.tail.extend_from_slice(bytes);
        if self.tail.len() > ZSTD_TRAILER_LEN {
            let done = self.tail.len() - ZSTD_TRAILER_LEN;
            self.crc.update(&self.tail[..done]);
            self.len += done as u64;
            self.tail.drain(..done);
        }
    }

    /// Checks the trailer if the stream ends with one (traces compressed by
    /// hand with `zstd` have none, and are accepted without).
    fn check(&self) -> Result<()> {
        let (crc, len) = match format::decode_zstd_trailer(&self.tail) {
            format::ZstdTrailer::Absent => return Ok(()),
            format::ZstdTrailer::Damaged => {
                return Err(Error::at_byte(
                    self.len,
                    false,
                    ErrorKind::Corrupt("the seal at the end of the compressed trace is damaged".into()),
                ))
            }
            format::ZstdTrailer::Seal { crc, len } => (crc, len),
        };
        let computed = self.crc.clone().finalize();
        if crc != computed || len != self.len {
            return Err(Error::at_byte(
                self.len,
                false,
                ErrorKind::Corrupt(format!(
                    "the compressed bytes are damaged: their seal says crc32 {crc:08x} over {len} bytes, the file gives {computed:08x} over {}",
                    self.len
                )),
            ));
        }
        Ok(())
    }
}

struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
    /// For zstd input only: raw bytes are checked by the trace's own CRC.
    seal: Option<Arc<std::sync::Mutex<CompressedSeal>>>,
    /// Set when the stored bytes have run out: a zstd error after that is
    /// a file cut short, not damage inside it.
    ended: Arc<std::sync::atomic::AtomicBool>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.ended.store(true, Ordering::Relaxed);
        }
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(Ok(mut seal)) = self.seal.as_ref().map(|s| s.lock()) {
            seal.feed(&buf[..n]);
        }
        Ok(n)
    }
}

/// Decompression on its own thread, a few chunks ahead of the reader: on
/// two cores an analysis of a zstd trace takes about as long as the
/// decompression alone, instead of the two added up. The bytes and the
/// errors arrive in order, so nothing else changes. (Raw traces are read
/// by [`DecodeAhead`], which decodes as well, with no copy in between.)
struct ReadAhead {
    chunks: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    current: Vec<u8>,
    at: usize,
    done: bool,
}

/// Bytes a chunk carries, and chunks in flight (4 MiB ahead at most).
const AHEAD_CHUNK: usize = 1 << 20;
const AHEAD_CHUNKS: usize = 4;

impl ReadAhead {
    fn spawn(mut inner: Box<dyn Read + Send>) -> io::Result<ReadAhead> {
        let (tx, chunks) = std::sync::mpsc::sync_channel(AHEAD_CHUNKS);
        std::thread::Builder::new().name("memtrace-read".into()).spawn(move || loop {
            let mut chunk = vec![0u8; AHEAD_CHUNK];
            let mut n = 0;
            let mut failed = None;
            while n < AHEAD_CHUNK {
                match inner.read(&mut chunk[n..]) {
                    Ok(0) => break,
                    Ok(k) => n += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            chunk.truncate(n);
            // The bytes before an error first, then the error, as a direct
            // reader would see them (errors name the same byte).
            let ended = n < AHEAD_CHUNK;
            if tx.send(Ok(chunk)).is_err() {
                return; // the reader is gone
            }
            if let Some(e) = failed {
                let _ = tx.send(Err(e));
                return;
            }
            if ended {
                return; // dropping the sender ends the stream
            }
        })?;
        Ok(ReadAhead { chunks, current: Vec::new(), at: 0, done: false })
    }
}

impl Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.current.len() {
            if self.done {
                return Ok(0);
            }
            match self.chunks.recv() {
                Ok(Ok(chunk)) => {
                    self.current = chunk;
                    self.at = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The largest zstd window the reader accepts (zstd's own default limit,
/// `--long=27`): decoding memory follows the window, not the trace.
pub const MAX_ZSTD_WINDOW: u64 = 1 << 27;

/// The window a zstd frame declares, from its first six bytes (magic, frame
/// header descriptor, window descriptor; RFC 8878 section 3.1.1.1.2), or
/// `None` for a single-segment frame, whose window is its content size and
/// is checked by the decoder.
fn zstd_window(head: &[u8]) -> Option<u64> {
    let descriptor = *head.get(4)?;
    if descriptor & 0x20 != 0 {
        return None;
    }
    let w = *head.get(5)?;
    let log = 10 + u64::from(w >> 3);
    let base = 1u64 << log;
    Some(base + (base / 8) * u64::from(w & 7))
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl TraceReader {
    /// Opens a trace file, raw or zstd.
    pub fn open(path: impl AsRef<Path>) -> Result<TraceReader> {
        let path = path.as_ref();
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if meta.is_dir() {
            return Err(Error::new(ErrorKind::Io(io::Error::other("is a directory, not a trace file"))));
        }
        if meta.len() == 0 {
            return Err(Error::new(ErrorKind::Empty));
        }
        // Read, not memory-mapped: a mapped file that shrinks while it is
        // read kills the process with SIGBUS, while a read just ends early,
        // which the footer and checksum checks report as truncation. Reading
        // costs a copy from the page cache (about 7% of `ard` on a raw
        // trace) and keeps resident memory to one batch.
        TraceReader::from_stream_sized(Box::new(file), Some(meta.len()))
    }

    /// Reads a trace held in memory, raw or zstd (raw is decoded in place).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<TraceReader> {
        if bytes.is_empty() {
            return Err(Error::new(ErrorKind::Empty));
        }
        if bytes.starts_with(&ZSTD_MAGIC) {
            let len = bytes.len() as u64;
            return TraceReader::from_stream_sized(Box::new(io::Cursor::new(bytes)), Some(len));
        }
        TraceReader::from_map(bytes)
    }

    fn from_map(map: Vec<u8>) -> Result<TraceReader> {
        let (header, header_len) = {
            let bytes: &[u8] = &map;
            check_magic(bytes, false)?;
            if bytes.len() < PREFIX_LEN {
                return Err(Error::at_byte(
                    bytes.len() as u64,
                    false,
                    ErrorKind::Truncated { what: "the file is shorter than the fixed header" },
                ));
            }
            let prefix = format::decode_prefix(bytes[..PREFIX_LEN].try_into().unwrap_or(&[0; PREFIX_LEN]), false)
                .map_err(|e| magic_or(e, bytes))?;
            let hl = prefix.header_len as usize;
            if bytes.len() < hl {
                return Err(Error::at_byte(
                    bytes.len() as u64,
                    false,
                    ErrorKind::Truncated { what: "the file ends inside the header" },
                ));
            }
            (format::decode_header(&bytes[..hl], false)?, hl)
        };
        let file_len = map.len() as u64;
        let header_bytes = map[..header_len].to_vec();
        let file_pos = Arc::new(AtomicU64::new(header_len as u64));
        let source = Source::Mapped { map, pos: header_len };
        let decoder = Decoder::new(&header.buffers, Encoding::Raw, source, &header_bytes, file_pos);
        Ok(TraceReader::around(header, header_bytes, Some(file_len), decoder))
    }

    /// The reader of a trace whose header, `header_bytes` decoded as
    /// `header`, has been read; `decoder` goes on from there.
    fn around(header: Header, header_bytes: Vec<u8>, file_len: Option<u64>, decoder: Decoder) -> TraceReader {
        // A stream of raw records is read and decoded on a thread of its
        // own from the first batch on; a trace already in memory has
        // nothing to overlap, and zstd is decompressed on its own thread.
        let decode_ahead = decoder.encoding == Encoding::Raw && matches!(decoder.source, Source::Stream { .. });
        TraceReader {
            header,
            encoding: decoder.encoding,
            header_len: header_bytes.len() as u64,
            header_bytes,
            file_pos: decoder.file_pos.clone(),
            file_len,
            decoding: Decoding::Here(Box::new(decoder)),
            decode_ahead,
        }
    }

    /// Reads a trace from any stream (a pipe, standard input), raw or zstd.
    pub fn from_reader(r: impl Read + Send + 'static) -> Result<TraceReader> {
        TraceReader::from_stream_sized(Box::new(r), None)
    }

    fn from_stream_sized(inner: Box<dyn Read + Send>, file_len: Option<u64>) -> Result<TraceReader> {
        let mut inner = inner;
        // The magic and, for zstd, the frame header's window descriptor.
        let mut magic = [0u8; 6];
        let n = read_full(&mut *inner, &mut magic)?;
        if n == 0 {
            return Err(Error::new(ErrorKind::Empty));
        }
        let file_pos = Arc::new(AtomicU64::new(n as u64));
        let input_ended = Arc::new(std::sync::atomic::AtomicBool::new(n < magic.len()));
        let is_zstd = n >= 4 && magic[..4] == ZSTD_MAGIC;
        if is_zstd {
            if let Some(window) = zstd_window(&magic[..n]).filter(|&w| w > MAX_ZSTD_WINDOW) {
                return Err(Error::new(ErrorKind::ZstdWindow { needed: window, allowed: MAX_ZSTD_WINDOW }));
            }
        }
        let seal = is_zstd.then(|| {
            let mut seal = CompressedSeal::default();
            seal.feed(&magic[..n]);
            Arc::new(std::sync::Mutex::new(seal))
        });
        let counted = CountingReader { inner, count: file_pos.clone(), seal: seal.clone(), ended: input_ended.clone() };
        let head = io::Cursor::new(magic[..n].to_vec());
        let chained: Box<dyn Read + Send> = Box::new(head.chain(counted));
        // zstd is decompressed on a thread of its own and decoded here; a raw
        // trace is read and decoded on one thread (see `DecodeAhead`).
        let (mut inner, encoding, decompressed): (Box<dyn Read + Send>, _, _) = if is_zstd {
            let dec = zstd::stream::read::Decoder::new(chained).map_err(|e| Error::new(ErrorKind::Compression(e)))?;
            (Box::new(ReadAhead::spawn(Box::new(dec))?), Encoding::Zstd, true)
        } else {
            (chained, Encoding::Raw, false)
        };
        let io_err = |e: io::Error, at: u64| stream_error(e, at, decompressed, input_ended.load(Ordering::Relaxed));
        let mut prefix = [0u8; PREFIX_LEN];
        let got = read_full(&mut inner, &mut prefix).map_err(|e| io_err(e, 0))?;
        check_magic(&prefix[..got], decompressed)?;
        if got < PREFIX_LEN {
            return Err(Error::at_byte(
                got as u64,
                decompressed,
                ErrorKind::Truncated { what: "the trace is shorter than the fixed header" },
            ));
        }
        let p = format::decode_prefix(&prefix, decompressed).map_err(|e| magic_or(e, &prefix))?;
        let hl = p.header_len as usize;
        let mut header_bytes = vec![0u8; hl];
        header_bytes[..PREFIX_LEN].copy_from_slice(&prefix);
        let got = read_full(&mut inner, &mut header_bytes[PREFIX_LEN..]).map_err(|e| io_err(e, PREFIX_LEN as u64))?;
        if got < hl - PREFIX_LEN {
            return Err(Error::at_byte(
                (PREFIX_LEN + got) as u64,
                decompressed,
                ErrorKind::Truncated { what: "the trace ends inside the header" },
            ));
        }
        let header = format::decode_header(&header_bytes, decompressed)?;
        let source =
            Source::Stream { inner, buf: vec![0; BATCH_EVENTS * EVENT_LEN + FOOTER_LEN], start: 0, end: 0, eof: false };
        let decoder =
            Decoder { seal, input_ended, ..Decoder::new(&header.buffers, encoding, source, &header_bytes, file_pos) };
        Ok(TraceReader::around(header, header_bytes, file_len, decoder))
    }

    /// The trace's header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// How the file is encoded.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Bytes of the header (the offset of the first event).
    pub fn header_len(&self) -> u64 {
        self.header_len
    }

    /// How far through the file the reader is, and the file's length when known.
    pub fn progress(&self) -> (u64, Option<u64>) {
        (self.file_pos.load(Ordering::Relaxed), self.file_len)
    }

    /// Also computes the SHA-256 of the raw trace while reading; call before
    /// the first batch. The digest is in the summary.
    pub fn compute_content_hash(&mut self) {
        if let Decoding::Here(d) = &mut self.decoding {
            if d.sha256.is_none() && d.events_read == 0 {
                let mut h = Sha256::new();
                h.update(&self.header_bytes);
                d.sha256 = Some(h);
            }
        }
    }

    /// The summary, once the last batch has been read and checked.
    pub fn summary(&self) -> Option<TraceSummary> {
        match &self.decoding {
            Decoding::Here(d) => d.summary,
            Decoding::Ahead(a) => a.summary,
        }
    }

    /// The next batch of events, or `None` after the footer was read and checked.
    pub fn next_batch(&mut self) -> Result<Option<&[Event]>> {
        if std::mem::take(&mut self.decode_ahead) {
            // Hand the decoder to its thread; should the thread not start,
            // decoding simply stays here.
            let placeholder = Decoding::Ahead(DecodeAhead::finished());
            if let Decoding::Here(d) = std::mem::replace(&mut self.decoding, placeholder) {
                self.decoding = DecodeAhead::spawn(d);
            }
        }
        match &mut self.decoding {
            Decoding::Here(d) => d.next_batch(),
            Decoding::Ahead(a) => a.next_batch(),
        }
    }

    /// Reads the rest of the trace, handing each batch to `f`.
    pub fn for_each_batch(mut self, mut f: impl FnMut(&[Event])) -> Result<TraceSummary> {
        while let Some(batch) = self.next_batch()? {
            f(batch);
        }
        self.summary().ok_or_else(|| Error::invalid("the trace ended without a summary"))
    }
}

impl Decoder {
    /// Decoding `source` from just after the header `header_bytes`, whose
    /// bytes the checksum starts with.
    fn new(
        buffers: &[format::Buffer],
        encoding: Encoding,
        source: Source,
        header_bytes: &[u8],
        file_pos: Arc<AtomicU64>,
    ) -> Decoder {
        let mut crc = crc32fast::Hasher::new();
        crc.update(header_bytes);
        Decoder {
            buffers: buffers.to_vec(),
            lens: buffers.iter().map(|b| b.len).collect(),
            encoding,
            source,
            pos: header_bytes.len() as u64,
            crc,
            sha256: None,
            events: Vec::with_capacity(BATCH_EVENTS),
            events_read: 0,
            summary: None,
            file_pos,
            seal: None,
            input_ended: Arc::default(),
        }
    }

    /// The next batch of events, or `None` after the footer was read and checked.
    fn next_batch(&mut self) -> Result<Option<&[Event]>> {
        if self.summary.is_some() {
            return Ok(None);
        }
        let decompressed = self.encoding == Encoding::Zstd;
        // Find a window of whole records, keeping the footer back until the end.
        let (window, at_end): (&[u8], bool) = match &mut self.source {
            Source::Mapped { map, pos } => {
                let rest = &map[*pos..];
                if rest.len() < FOOTER_LEN {
                    return Err(Error::at_byte(
                        map.len() as u64,
                        false,
                        ErrorKind::Truncated {
                            what: "no footer at the end (the writer did not finish, or bytes are missing)",
                        },
                    ));
                }
                let records = ((rest.len() - FOOTER_LEN) / EVENT_LEN).min(BATCH_EVENTS);
                let w = &rest[..records * EVENT_LEN];
                *pos += w.len();
                self.file_pos.store(*pos as u64, Ordering::Relaxed);
                let at_end = map.len() - *pos < FOOTER_LEN + EVENT_LEN;
                (w, at_end)
            }
            Source::Stream { inner, buf, start, end, eof } => {
                // Compact, then fill up to one batch plus the footer.
                buf.copy_within(*start..*end, 0);
                *end -= *start;
                *start = 0;
                while *end < buf.len() && !*eof {
                    match inner.read(&mut buf[*end..]) {
                        Ok(0) => *eof = true,
                        Ok(k) => *end += k,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            let ended = self.input_ended.load(Ordering::Relaxed);
                            return Err(stream_error(e, self.pos + *end as u64, decompressed, ended));
                        }
                    }
                }
                let filled = *end;
                if filled < FOOTER_LEN {
                    return Err(Error::at_byte(
                        self.pos + filled as u64,
                        decompressed,
                        ErrorKind::Truncated {
                            what: "no footer at the end (the writer did not finish, or bytes are missing)",
                        },
                    ));
                }
                let records = ((filled - FOOTER_LEN) / EVENT_LEN).min(BATCH_EVENTS);
                *start = records * EVENT_LEN;
                let at_end = *eof && filled - *start < FOOTER_LEN + EVENT_LEN;
                (&buf[..records * EVENT_LEN], at_end)
            }
        };
        self.events.clear();
        format::decode_events(window, &self.buffers, &self.lens, self.pos, decompressed, &mut self.events)?;
        self.crc.update(window);
        if let Some(h) = &mut self.sha256 {
            h.update(window);
        }
        self.pos += window.len() as u64;
        self.events_read += self.events.len() as u64;
        if at_end {
            self.finish_footer(decompressed)?;
        }
        if self.events.is_empty() {
            return Ok(None);
        }
        Ok(Some(&self.events))
    }

    fn finish_footer(&mut self, decompressed: bool) -> Result<()> {
        let tail: &[u8] = match &self.source {
            Source::Mapped { map, pos } => &map[*pos..],
            Source::Stream { buf, start, end, .. } => &buf[*start..*end],
        };
        let footer_at = self.pos;
        if tail.len() != FOOTER_LEN {
            // Either a partial record or junk: look for the footer magic at the very end.
            let last = &tail[tail.len() - FOOTER_LEN..];
            let end = footer_at + tail.len() as u64;
            format::decode_footer(last, end - FOOTER_LEN as u64, decompressed)?;
            return Err(Error::corrupt(
                footer_at,
                decompressed,
                format!("{} stray bytes between the last whole event and the footer", tail.len() - FOOTER_LEN),
            ));
        }
        let (count, stored) = format::decode_footer(tail, footer_at, decompressed)?;
        if count != self.events_read {
            return Err(Error::corrupt(
                footer_at + 8,
                decompressed,
                format!("the footer counts {count} events, the file holds {}", self.events_read),
            ));
        }
        if let Some(seal) = &self.seal {
            // The decompressed stream has ended, so every compressed byte was read.
            match seal.lock() {
                Ok(seal) => seal.check()?,
                Err(_) => return Err(Error::invalid("the compressed-byte seal was poisoned")),
            }
        }
        let computed = self.crc.clone().finalize();
        if computed != stored {
            return Err(Error::at_byte(footer_at + 16, decompressed, ErrorKind::ChecksumMismatch { stored, computed }));
        }
        let sha256 = self.sha256.take().map(|mut h| {
            h.update(tail);
            h.finalize().into()
        });
        self.summary = Some(TraceSummary {
            events: count,
            crc32: stored,
            raw_bytes: footer_at + FOOTER_LEN as u64,
            encoding: self.encoding,
            sha256,
        });
        Ok(())
    }
}

/// Reading, decoding and checking a raw trace on a thread of its own, a few
/// batches ahead of the analysis: on two cores the copy out of the page
/// cache, the CRC and the decoding overlap the analysis instead of adding to
/// it. Batches travel by ownership and their vectors come back to be
/// refilled, so no event is copied and nothing is allocated per batch. The
/// batches, the errors and the summary arrive in order, so a caller sees
/// exactly what decoding on its own thread would give.
struct DecodeAhead {
    batches: std::sync::mpsc::Receiver<Result<Decoded>>,
    spent: std::sync::mpsc::Sender<Vec<Event>>,
    current: Vec<Event>,
    summary: Option<TraceSummary>,
    ended: bool,
}

enum Decoded {
    Batch(Vec<Event>),
    End(TraceSummary),
}

/// How long either side of a hand-over waits awake before it sleeps: the
/// two threads run at about the same pace, and a sleep and a wake-up cost
/// more than a batch's worth of spinning.
const SPIN: std::time::Duration = std::time::Duration::from_micros(50);

/// The next message, spinning a little before sleeping on the channel.
fn receive<T>(rx: &std::sync::mpsc::Receiver<T>) -> std::result::Result<T, std::sync::mpsc::RecvError> {
    let start = std::time::Instant::now();
    loop {
        match rx.try_recv() {
            Ok(m) => return Ok(m),
            Err(std::sync::mpsc::TryRecvError::Disconnected) => return Err(std::sync::mpsc::RecvError),
            Err(std::sync::mpsc::TryRecvError::Empty) if start.elapsed() < SPIN => std::hint::spin_loop(),
            Err(std::sync::mpsc::TryRecvError::Empty) => return rx.recv(),
        }
    }
}

/// Sends `m`, spinning a little before sleeping on a full channel.
fn hand<T>(tx: &std::sync::mpsc::SyncSender<T>, mut m: T) -> std::result::Result<(), ()> {
    let start = std::time::Instant::now();
    loop {
        match tx.try_send(m) {
            Ok(()) => return Ok(()),
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => return Err(()),
            Err(std::sync::mpsc::TrySendError::Full(back)) if start.elapsed() < SPIN => {
                m = back;
                std::hint::spin_loop();
            }
            Err(std::sync::mpsc::TrySendError::Full(back)) => return tx.send(back).map_err(|_| ()),
        }
    }
}

/// Decoded batches in flight.
const AHEAD_BATCHES: usize = 4;

impl DecodeAhead {
    /// A stand-in that yields nothing.
    fn finished() -> DecodeAhead {
        let (_, batches) = std::sync::mpsc::sync_channel(0);
        let (spent, _) = std::sync::mpsc::channel();
        DecodeAhead { batches, spent, current: Vec::new(), summary: None, ended: true }
    }

    fn next_batch(&mut self) -> Result<Option<&[Event]>> {
        if self.ended {
            return Ok(None);
        }
        let spent = std::mem::take(&mut self.current);
        if spent.capacity() > 0 {
            let _ = self.spent.send(spent); // the thread may have finished
        }
        match receive(&self.batches) {
            Ok(Ok(Decoded::Batch(events))) => {
                self.current = events;
                Ok(Some(&self.current))
            }
            Ok(Ok(Decoded::End(summary))) => {
                self.summary = Some(summary);
                self.ended = true;
                Ok(None)
            }
            Ok(Err(e)) => {
                self.ended = true;
                Err(e)
            }
            Err(_) => {
                self.ended = true;
                Err(Error::invalid("the decoding thread stopped before the end of the trace"))
            }
        }
    }

    /// Starts decoding `d` on its own thread, or keeps it here if no thread starts.
    fn spawn(d: Box<Decoder>) -> Decoding {
        let (to_reader, batches) = std::sync::mpsc::sync_channel(AHEAD_BATCHES);
        let (spent, spent_rx) = std::sync::mpsc::channel::<Vec<Event>>();
        // The decoder goes to the thread once it has started, so that it
        // stays here should no thread start.
        let (hand_over, handed) = std::sync::mpsc::channel::<Box<Decoder>>();
        let started = std::thread::Builder::new().name("memtrace-decode".into()).spawn(move || {
            let Ok(mut d) = handed.recv() else { return };
            loop {
                let msg = match d.next_batch().map(|b| b.is_some()) {
                    Ok(true) => {
                        let fresh = spent_rx.try_recv().unwrap_or_else(|_| Vec::with_capacity(BATCH_EVENTS));
                        Ok(Decoded::Batch(std::mem::replace(&mut d.events, fresh)))
                    }
                    Ok(false) => {
                        d.summary.map(Decoded::End).ok_or_else(|| Error::invalid("the trace ended without a summary"))
                    }
                    Err(e) => Err(e),
                };
                let last = !matches!(msg, Ok(Decoded::Batch(_)));
                if hand(&to_reader, msg).is_err() || last {
                    return; // done, or the reader is gone
                }
            }
        });
        if started.is_err() {
            return Decoding::Here(d);
        }
        match hand_over.send(d) {
            Ok(()) => Decoding::Ahead(DecodeAhead { batches, spent, current: Vec::new(), summary: None, ended: false }),
            Err(std::sync::mpsc::SendError(d)) => Decoding::Here(d),
        }
    }
}

/// Fails unless `bytes` (the start of a trace, possibly short) begin with the magic.
fn check_magic(bytes: &[u8], decompressed: bool) -> Result<()> {
    let n = bytes.len().min(8);
    if bytes[..n] == format::MAGIC[..n] {
        return Ok(());
    }
    let mut found = [0u8; 8];
    found[..n].copy_from_slice(&bytes[..n]);
    Err(magic_or(Error::at_byte(0, decompressed, ErrorKind::BadMagic { found }), bytes))
}

/// Replaces a bad-magic error by a friendlier one when the bytes look like text.
fn magic_or(e: Error, bytes: &[u8]) -> Error {
    if let ErrorKind::BadMagic { .. } = e.kind() {
        if bytes.starts_with(b"op,") {
            return Error::at_byte(
                0,
                false,
                ErrorKind::Corrupt(
                    "this is an events CSV, not a trace; turn it into one with `analyze import FILE.csv -o t.zst`"
                        .into(),
                ),
            );
        }
    }
    e
}
