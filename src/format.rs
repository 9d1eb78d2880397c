//! The on-disk types of format v1 and their byte encoding: header, event
//! records and footer. `docs/trace-format.md` is the normative description;
//! the constants here are the ones it names.
//!
//! Decoding never trusts a number from the file to size an allocation: the
//! header is read whole after its declared length is checked against
//! [`MAX_HEADER_LEN`], and every count inside it is checked against the bytes
//! that remain before anything is reserved.

use crate::error::{Error, ErrorKind, Result};

/// The first eight bytes of every raw trace.
pub const MAGIC: [u8; 8] = *b"MEMTRACE";
/// The first eight bytes of the footer.
pub const FOOTER_MAGIC: [u8; 8] = *b"MTFOOTER";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Width of one event record in bytes.
pub const EVENT_LEN: usize = 24;
/// Width of the footer in bytes.
pub const FOOTER_LEN: usize = 24;
/// Bytes of the fixed header prefix (magic, version, header length, record length, flags).
pub const PREFIX_LEN: usize = 24;
/// The largest header a trace may declare (producer, metadata and buffer table together).
pub const MAX_HEADER_LEN: u32 = 64 << 20;
/// The most buffers a trace may declare.
pub const MAX_BUFFERS: u32 = 1 << 20;
/// The most metadata entries a trace may declare.
pub const MAX_METADATA: u32 = 1 << 16;
/// The longest buffer name, producer string or metadata key, in bytes of UTF-8.
pub const MAX_NAME_LEN: usize = 4096;
/// The longest metadata value, in bytes of UTF-8.
pub const MAX_VALUE_LEN: usize = 1 << 20;
/// The zstd frame magic, little-endian `0xFD2FB528`.
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
/// Bytes of the skippable zstd frame memtrace appends to compressed traces:
/// magic `0x184D2A5E`, payload size 16, `MTZC`, CRC-32 and length of every
/// compressed byte before it. zstd decoders skip it.
pub const ZSTD_TRAILER_LEN: usize = 24;
const ZSTD_TRAILER_MAGIC: u32 = 0x184D_2A5E;
const ZSTD_TRAILER_TAG: [u8; 4] = *b"MTZC";

/// The skippable frame that seals `len` compressed bytes with CRC-32 `crc`.
pub fn encode_zstd_trailer(crc: u32, len: u64) -> [u8; ZSTD_TRAILER_LEN] {
    let mut t = [0u8; ZSTD_TRAILER_LEN];
    t[0..4].copy_from_slice(&ZSTD_TRAILER_MAGIC.to_le_bytes());
    t[4..8].copy_from_slice(&16u32.to_le_bytes());
    t[8..12].copy_from_slice(&ZSTD_TRAILER_TAG);
    t[12..16].copy_from_slice(&crc.to_le_bytes());
    t[16..24].copy_from_slice(&len.to_le_bytes());
    t
}

/// What the last [`ZSTD_TRAILER_LEN`] bytes of a compressed trace are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZstdTrailer {
    /// memtrace's seal: CRC-32 and length of the compressed bytes before it.
    Seal {
        /// The CRC-32 of the raw trace.
        crc: u32,
        /// The raw trace's length in bytes.
        len: u64,
    },
    /// A 16-byte skippable frame that is not exactly the seal: a damaged seal.
    Damaged,
    /// No seal (a trace compressed by another tool).
    Absent,
}

/// Classifies the last bytes of a compressed trace.
pub fn decode_zstd_trailer(t: &[u8]) -> ZstdTrailer {
    if t.len() != ZSTD_TRAILER_LEN {
        return ZstdTrailer::Absent;
    }
    let magic = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
    let skippable_16 = magic & 0xFFFF_FFF0 == 0x184D_2A50 && t[4..8] == 16u32.to_le_bytes();
    if !skippable_16 {
        return ZstdTrailer::Absent;
    }
    if magic != ZSTD_TRAILER_MAGIC || t[8..12] != ZSTD_TRAILER_TAG {
        return ZstdTrailer::Damaged;
    }
    let crc = u32::from_le_bytes([t[12], t[13], t[14], t[15]]);
    let len = u64::from_le_bytes([t[16], t[17], t[18], t[19], t[20], t[21], t[22], t[23]]);
    ZstdTrailer::Seal { crc, len }
}

/// Index of a buffer in the header's buffer table.
pub type BufferId = u32;

/// What a buffer holds. Analyzers split costs by role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Weights and biases.
    Parameter = 0,
    /// Data fed to the algorithm (arguments, samples, labels).
    Input = 1,
    /// Values computed in a forward pass.
    Activation = 2,
    /// Gradients of the loss.
    Gradient = 3,
    /// Sums gathered over a batch.
    Accumulator = 4,
    /// Anything else.
    Other = 5,
}

impl Role {
    /// Every role, in code order.
    pub const ALL: [Role; 6] =
        [Role::Parameter, Role::Input, Role::Activation, Role::Gradient, Role::Accumulator, Role::Other];

    /// The role stored as `code` in a trace.
    pub fn from_code(code: u8) -> Option<Role> {
        Role::ALL.get(code as usize).copied()
    }

    /// Its name in text and JSON (`parameter`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Role::Parameter => "parameter",
            Role::Input => "input",
            Role::Activation => "activation",
            Role::Gradient => "gradient",
            Role::Accumulator => "accumulator",
            Role::Other => "other",
        }
    }

    /// The role named `name`.
    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.iter().copied().find(|r| r.name() == name)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One entry of the buffer table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buffer {
    /// Its name, unique in the trace.
    pub name: String,
    /// Length in elements.
    pub len: u64,
    /// Bytes per element (4 for the fp32 buffers of the seeds).
    pub elem_size: u32,
    /// What it holds.
    pub role: Role,
}

impl Buffer {
    /// A buffer of `len` 4-byte elements.
    pub fn new(name: impl Into<String>, len: u64, role: Role) -> Buffer {
        Buffer { name: name.into(), len, elem_size: 4, role }
    }
}

/// Read or write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Op {
    /// A read of elements.
    Read = 0,
    /// A write of elements.
    Write = 1,
}

impl Op {
    /// Whether this is a write.
    pub fn is_write(self) -> bool {
        self == Op::Write
    }
    /// `R` or `W`.
    pub fn letter(self) -> char {
        match self {
            Op::Read => 'R',
            Op::Write => 'W',
        }
    }
}

/// One access: elements `[offset, offset + len)` of buffer `buffer`.
///
/// The fields are laid out as the record's (`repr(C)`, little-endian
/// machines), so that decoding a checked record compiles to a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct Event {
    /// The first element accessed.
    pub offset: u64,
    /// Elements accessed (at least 1).
    pub len: u32,
    /// The buffer accessed.
    pub buffer: BufferId,
    /// The producer's step (training step, tick) of the access.
    pub step: u32,
    /// Read or write.
    pub op: Op,
}

impl Event {
    /// One past the last element touched.
    pub fn end(&self) -> u64 {
        self.offset + self.len as u64
    }

    /// The 24-byte record of this event (inlined into writers in other crates:
    /// it runs once per recorded access).
    #[inline]
    pub fn encode(&self) -> [u8; EVENT_LEN] {
        let mut r = [0u8; EVENT_LEN];
        r[0..8].copy_from_slice(&self.offset.to_le_bytes());
        r[8..12].copy_from_slice(&self.len.to_le_bytes());
        r[12..16].copy_from_slice(&self.buffer.to_le_bytes());
        r[16..20].copy_from_slice(&self.step.to_le_bytes());
        r[20] = self.op as u8;
        r
    }
}

/// The decoded header of a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// What wrote the trace (`record`, `memtrace-import`, ...).
    pub producer: String,
    /// Its version.
    pub producer_version: String,
    /// Free-form key/value pairs in the order they were written (command line, variant, ...).
    pub metadata: Vec<(String, String)>,
    /// The buffer table; a buffer's id is its index.
    pub buffers: Vec<Buffer>,
}

impl Header {
    /// An empty header of `producer` at `producer_version`.
    pub fn new(producer: impl Into<String>, producer_version: impl Into<String>) -> Header {
        Header {
            producer: producer.into(),
            producer_version: producer_version.into(),
            metadata: Vec::new(),
            buffers: Vec::new(),
        }
    }

    /// Adds a metadata entry; a key may appear once.
    pub fn set_metadata(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        let key = key.into();
        let value = value.into();
        match self.metadata.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.metadata.push((key, value)),
        }
        self
    }

    /// The value of metadata `key`, if set.
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Appends a buffer and returns its id. Names must be unique.
    pub fn add_buffer(&mut self, buffer: Buffer) -> Result<BufferId> {
        if self.buffers.iter().any(|b| b.name == buffer.name) {
            return Err(Error::invalid(format!("buffer name {:?} is already in the table", buffer.name)));
        }
        if self.buffers.len() as u64 >= MAX_BUFFERS as u64 {
            return Err(Error::invalid(format!("a trace holds at most {MAX_BUFFERS} buffers")));
        }
        self.buffers.push(buffer);
        Ok((self.buffers.len() - 1) as BufferId)
    }

    /// The id of the buffer named `name`.
    pub fn buffer_id(&self, name: &str) -> Option<BufferId> {
        self.buffers.iter().position(|b| b.name == name).map(|i| i as BufferId)
    }

    /// Checks everything the format requires of a header before it is written.
    pub fn validate(&self) -> Result<()> {
        check_str("producer name", &self.producer, MAX_NAME_LEN)?;
        check_str("producer version", &self.producer_version, MAX_NAME_LEN)?;
        if self.metadata.len() > MAX_METADATA as usize {
            return Err(Error::invalid(format!("at most {MAX_METADATA} metadata entries")));
        }
        let mut keys = std::collections::HashSet::with_capacity(self.metadata.len());
        for (k, v) in &self.metadata {
            check_str("metadata key", k, MAX_NAME_LEN)?;
            check_str("metadata value", v, MAX_VALUE_LEN)?;
            if !keys.insert(k.as_str()) {
                return Err(Error::invalid(format!("metadata key {k:?} appears twice")));
            }
        }
        if self.buffers.len() > MAX_BUFFERS as usize {
            return Err(Error::invalid(format!("a trace holds at most {MAX_BUFFERS} buffers")));
        }
        let mut names = std::collections::HashSet::with_capacity(self.buffers.len());
        for b in &self.buffers {
            check_str("buffer name", &b.name, MAX_NAME_LEN)?;
            if b.name.is_empty() {
                return Err(Error::invalid("a buffer name is empty"));
            }
            if b.len == 0 {
                return Err(Error::invalid(format!("buffer {:?} has length 0", b.name)));
            }
            if b.elem_size == 0 {
                return Err(Error::invalid(format!("buffer {:?} has element size 0", b.name)));
            }
            if !names.insert(b.name.as_str()) {
                return Err(Error::invalid(format!("buffer name {:?} appears twice", b.name)));
            }
        }
        Ok(())
    }

    /// The complete header bytes, padded to a multiple of 8.
    pub fn encode(&self) -> Result<Vec<u8>> {
        self.validate()?;
        let mut out = Vec::with_capacity(256 + self.buffers.len() * 32);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes()); // header length, patched below
        out.extend_from_slice(&(EVENT_LEN as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes()); // flags
        put_str16(&mut out, &self.producer);
        put_str16(&mut out, &self.producer_version);
        out.extend_from_slice(&(self.metadata.len() as u32).to_le_bytes());
        for (k, v) in &self.metadata {
            put_str16(&mut out, k);
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
            out.extend_from_slice(v.as_bytes());
        }
        out.extend_from_slice(&(self.buffers.len() as u32).to_le_bytes());
        for (id, b) in self.buffers.iter().enumerate() {
            out.extend_from_slice(&(id as u32).to_le_bytes());
            out.extend_from_slice(&b.elem_size.to_le_bytes());
            out.extend_from_slice(&b.len.to_le_bytes());
            out.push(b.role as u8);
            put_str16(&mut out, &b.name);
        }
        while out.len() % 8 != 0 {
            out.push(0);
        }
        if out.len() > MAX_HEADER_LEN as usize {
            return Err(Error::invalid(format!(
                "the header would take {} bytes; the format allows {MAX_HEADER_LEN}",
                out.len()
            )));
        }
        let len = out.len() as u32;
        out[12..16].copy_from_slice(&len.to_le_bytes());
        Ok(out)
    }
}

fn check_str(what: &str, s: &str, max: usize) -> Result<()> {
    if s.len() > max {
        return Err(Error::invalid(format!("{what} is {} bytes long; at most {max}", s.len())));
    }
    Ok(())
}

fn put_str16(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u16).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// What the fixed 24-byte prefix says.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prefix {
    pub header_len: u32,
}

/// Checks the fixed prefix. `decompressed` only shapes error positions.
pub(crate) fn decode_prefix(p: &[u8; PREFIX_LEN], decompressed: bool) -> Result<Prefix> {
    let at = |off: u64, kind| Error::at_byte(off, decompressed, kind);
    let mut magic = [0u8; 8];
    magic.copy_from_slice(&p[0..8]);
    if magic != MAGIC {
        return Err(at(0, ErrorKind::BadMagic { found: magic }));
    }
    let version = u32::from_le_bytes(p[8..12].try_into().unwrap_or_default());
    if version != FORMAT_VERSION {
        return Err(at(8, ErrorKind::UnsupportedVersion { found: version }));
    }
    let header_len = u32::from_le_bytes(p[12..16].try_into().unwrap_or_default());
    if header_len < (PREFIX_LEN + 12) as u32 || header_len % 8 != 0 || header_len > MAX_HEADER_LEN {
        return Err(Error::corrupt(
            12,
            decompressed,
            format!(
                "header length {header_len} is impossible (a multiple of 8 from {} to {MAX_HEADER_LEN})",
                PREFIX_LEN + 16
            ),
        ));
    }
    let record_len = u32::from_le_bytes(p[16..20].try_into().unwrap_or_default());
    if record_len != EVENT_LEN as u32 {
        return Err(Error::corrupt(
            16,
            decompressed,
            format!("event record length {record_len}; format v1 records are {EVENT_LEN} bytes"),
        ));
    }
    let flags = u32::from_le_bytes(p[20..24].try_into().unwrap_or_default());
    if flags != 0 {
        return Err(Error::corrupt(20, decompressed, format!("unknown header flags {flags:#x}")));
    }
    Ok(Prefix { header_len })
}

/// A cursor over the header bytes that checks every read against the end.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    decompressed: bool,
}

impl<'a> Cursor<'a> {
    fn err(&self, what: impl Into<String>) -> Error {
        Error::corrupt(self.pos as u64, self.decompressed, what)
    }
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if self.bytes.len() - self.pos < n {
            return Err(self.err(format!("{what} runs past the end of the header")));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &str) -> Result<u16> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn str_of_len(&mut self, len: usize, max: usize, what: &str) -> Result<String> {
        let start = self.pos;
        if len > max {
            return Err(self.err(format!("{what} declares {len} bytes; at most {max}")));
        }
        let b = self.take(len, what)?;
        String::from_utf8(b.to_vec())
            .map_err(|_| Error::corrupt(start as u64, self.decompressed, format!("{what} is not UTF-8")))
    }
    fn str16(&mut self, max: usize, what: &str) -> Result<String> {
        let len = self.u16(what)? as usize;
        self.str_of_len(len, max, what)
    }
    fn str32(&mut self, max: usize, what: &str) -> Result<String> {
        let len = self.u32(what)? as usize;
        self.str_of_len(len, max, what)
    }
    /// Checks that `count` entries of at least `min_entry` bytes can fit in what remains.
    fn check_count(&self, count: u32, max: u32, min_entry: usize, what: &str) -> Result<()> {
        if count > max {
            return Err(self.err(format!("{count} {what} declared; at most {max}")));
        }
        let remaining = self.bytes.len() - self.pos;
        if (count as usize).saturating_mul(min_entry) > remaining {
            return Err(self.err(format!("{count} {what} declared, but only {remaining} header bytes remain")));
        }
        Ok(())
    }
}

/// Decodes a whole header (prefix included). `bytes.len()` is the declared header length.
pub(crate) fn decode_header(bytes: &[u8], decompressed: bool) -> Result<Header> {
    let mut c = Cursor { bytes, pos: PREFIX_LEN, decompressed };
    let producer = c.str16(MAX_NAME_LEN, "producer name")?;
    let producer_version = c.str16(MAX_NAME_LEN, "producer version")?;
    let n_meta = c.u32("metadata count")?;
    c.check_count(n_meta, MAX_METADATA, 6, "metadata entries")?;
    let mut metadata: Vec<(String, String)> = Vec::with_capacity(n_meta as usize);
    let mut keys = std::collections::HashSet::with_capacity(n_meta as usize);
    for _ in 0..n_meta {
        let at = c.pos as u64;
        let k = c.str16(MAX_NAME_LEN, "metadata key")?;
        let v = c.str32(MAX_VALUE_LEN, "metadata value")?;
        // A set, not a scan: 65,536 keys would otherwise cost 2^31 comparisons.
        if !keys.insert(k.clone()) {
            return Err(Error::corrupt(at, decompressed, format!("metadata key {k:?} appears twice")));
        }
        metadata.push((k, v));
    }
    let n_buf = c.u32("buffer count")?;
    c.check_count(n_buf, MAX_BUFFERS, 19, "buffers")?;
    let mut buffers = Vec::with_capacity(n_buf as usize);
    let mut names = std::collections::HashMap::with_capacity(n_buf as usize);
    for expected_id in 0..n_buf {
        let at = c.pos as u64;
        let id = c.u32("buffer id")?;
        if id != expected_id {
            return Err(Error::corrupt(
                at,
                decompressed,
                format!("buffer entry {expected_id} has id {id}; ids must be 0, 1, 2, ... in table order"),
            ));
        }
        let elem_size = c.u32("element size")?;
        let len = c.u64("buffer length")?;
        let role_at = c.pos as u64;
        let role_code = c.u8("role")?;
        let name = c.str16(MAX_NAME_LEN, "buffer name")?;
        let role = Role::from_code(role_code).ok_or_else(|| {
            Error::corrupt(role_at, decompressed, format!("buffer {name:?} has unknown role code {role_code}"))
        })?;
        if name.is_empty() {
            return Err(Error::corrupt(at, decompressed, format!("buffer {id} has an empty name")));
        }
        if elem_size == 0 {
            return Err(Error::corrupt(at, decompressed, format!("buffer {name:?} has element size 0")));
        }
        if len == 0 {
            return Err(Error::corrupt(at, decompressed, format!("buffer {name:?} has length 0")));
        }
        if let Some(first) = names.insert(name.clone(), id) {
            return Err(Error::corrupt(
                at,
                decompressed,
                format!("buffer name {name:?} appears twice (ids {first} and {id})"),
            ));
        }
        buffers.push(Buffer { name, len, elem_size, role });
    }
    if bytes[c.pos..].iter().any(|&b| b != 0) {
        return Err(c.err("non-zero bytes in the header padding"));
    }
    Ok(Header { producer, producer_version, metadata, buffers })
}

/// Decodes and validates one event record against the buffer table.
/// `offset` is the record's byte position, for errors.
#[inline]
pub(crate) fn decode_event(r: &[u8], buffers: &[Buffer], offset: u64, decompressed: bool) -> Result<Event> {
    let word = |i: usize| u32::from_le_bytes([r[i], r[i + 1], r[i + 2], r[i + 3]]);
    let elem_offset = u64::from_le_bytes([r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]]);
    let len = word(8);
    let buffer = word(12);
    let step = word(16);
    let op = match r[20] {
        0 => Op::Read,
        1 => Op::Write,
        other => {
            return Err(Error::corrupt(
                offset + 20,
                decompressed,
                format!("event has op code {other}; 0 = read, 1 = write"),
            ))
        }
    };
    if r[21] | r[22] | r[23] != 0 {
        return Err(Error::corrupt(offset + 21, decompressed, "event has non-zero reserved bytes"));
    }
    let Some(b) = buffers.get(buffer as usize) else {
        return Err(Error::corrupt(
            offset + 12,
            decompressed,
            format!("event names buffer id {buffer}; the table has {} buffers", buffers.len()),
        ));
    };
    if len == 0 {
        return Err(Error::corrupt(offset + 8, decompressed, "event has length 0"));
    }
    match elem_offset.checked_add(len as u64) {
        Some(end) if end <= b.len => {}
        _ => {
            return Err(Error::corrupt(
                offset,
                decompressed,
                format!(
                    "event covers elements [{elem_offset}, {elem_offset}+{len}) of buffer {:?}, which has {} elements",
                    b.name, b.len
                ),
            ))
        }
    }
    Ok(Event { buffer, op, offset: elem_offset, len, step })
}

/// Decodes `records` (whole records, the first at raw-trace byte `offset`)
/// onto `out`, each checked as [`decode_event`] checks it. `lens` holds each
/// buffer's length. The records are checked together, without a branch per
/// rule (decoding is a third of reading a raw trace); if any fails, the
/// records are decoded again one by one for the first error's message, and
/// `out` is left as it was.
pub(crate) fn decode_events(
    records: &[u8],
    buffers: &[Buffer],
    lens: &[u64],
    offset: u64,
    decompressed: bool,
    out: &mut Vec<Event>,
) -> Result<()> {
    let kept = out.len();
    let mut bad = false;
    let (whole, _) = records.as_chunks::<EVENT_LEN>();
    out.extend(whole.iter().map(|r| {
        // Fixed-size arrays: each field is one load.
        let word = |i: usize| u32::from_le_bytes([r[i], r[i + 1], r[i + 2], r[i + 3]]);
        let elem_offset = u64::from_le_bytes([r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]]);
        let (len, buffer, step, op_and_reserved) = (word(8), word(12), word(16), word(20));
        // An unknown buffer has room for nothing; len >= 1 makes the end pass it.
        let room = lens.get(buffer as usize).copied().unwrap_or(0);
        let (end, wrapped) = elem_offset.overflowing_add(len as u64);
        bad |= (op_and_reserved > 1) | (len == 0) | wrapped | (end > room);
        let op = if op_and_reserved == 1 { Op::Write } else { Op::Read };
        Event { buffer, op, offset: elem_offset, len, step }
    }));
    if !bad {
        return Ok(());
    }
    out.truncate(kept);
    for (i, r) in records.chunks_exact(EVENT_LEN).enumerate() {
        decode_event(r, buffers, offset + (i * EVENT_LEN) as u64, decompressed)?;
    }
    Err(Error::invalid("a record failed the batched check but passes alone"))
}

/// The footer: event count and CRC-32 of every byte before it.
pub(crate) fn encode_footer(event_count: u64, crc: u32) -> [u8; FOOTER_LEN] {
    let mut f = [0u8; FOOTER_LEN];
    f[0..8].copy_from_slice(&FOOTER_MAGIC);
    f[8..16].copy_from_slice(&event_count.to_le_bytes());
    f[16..20].copy_from_slice(&crc.to_le_bytes());
    f
}

/// Returns (event count, stored crc) or an error positioned at `offset`.
pub(crate) fn decode_footer(f: &[u8], offset: u64, decompressed: bool) -> Result<(u64, u32)> {
    if f[0..8] != FOOTER_MAGIC {
        return Err(Error::at_byte(
            offset,
            decompressed,
            ErrorKind::Truncated { what: "no footer at the end (the writer did not finish, or bytes are missing)" },
        ));
    }
    let count = u64::from_le_bytes(f[8..16].try_into().unwrap_or_default());
    let crc = u32::from_le_bytes(f[16..20].try_into().unwrap_or_default());
    if f[20..24] != [0, 0, 0, 0] {
        return Err(Error::corrupt(offset + 20, decompressed, "non-zero reserved bytes in the footer"));
    }
    Ok((count, crc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let mut h = Header::new("test", "1.2.3");
        h.set_metadata("variant", "standard").set_metadata("cmd", "record --tiles 5");
        h.add_buffer(Buffer::new("W1", 20000, Role::Parameter)).unwrap();
        h.add_buffer(Buffer { name: "x".into(), len: 20, elem_size: 8, role: Role::Input }).unwrap();
        let bytes = h.encode().unwrap();
        assert_eq!(bytes.len() % 8, 0);
        let p = decode_prefix(bytes[..PREFIX_LEN].try_into().unwrap(), false).unwrap();
        assert_eq!(p.header_len as usize, bytes.len());
        assert_eq!(decode_header(&bytes, false).unwrap(), h);
    }

    #[test]
    fn event_round_trips_and_checks_bounds() {
        let buffers = vec![Buffer::new("a", 100, Role::Other)];
        let e = Event { buffer: 0, op: Op::Write, offset: 90, len: 10, step: 7 };
        assert_eq!(decode_event(&e.encode(), &buffers, 0, false).unwrap(), e);
        let past = Event { len: 11, ..e };
        assert!(decode_event(&past.encode(), &buffers, 0, false).is_err());
        let bad_id = Event { buffer: 1, ..e };
        let err = decode_event(&bad_id.encode(), &buffers, 48, false).unwrap_err();
        assert_eq!(err.byte_offset(), Some(60));
    }

    /// The batched decoder against the record-by-record one, the oracle:
    /// the same events, or an error at the same byte.
    #[test]
    fn batched_decoding_matches_one_by_one() {
        use proptest::prelude::*;
        let buffers = vec![Buffer::new("a", 100, Role::Other), Buffer::new("b", u64::MAX, Role::Other)];
        let lens: Vec<u64> = buffers.iter().map(|b| b.len).collect();
        let word = prop_oneof![Just(0u32), Just(1), Just(2), Just(99), Just(100), Just(u32::MAX), any::<u32>()];
        let offset = prop_oneof![Just(0u64), Just(90), Just(100), Just(u64::MAX - 5), Just(u64::MAX), any::<u64>()];
        let record = (offset, word.clone(), 0u32..3, any::<u32>(), 0u8..3, prop_oneof![Just(0u8), any::<u8>()]);
        let records = proptest::collection::vec(record, 0..6);
        proptest!(ProptestConfig::with_cases(4000), |(records in records)| {
            let mut bytes = Vec::new();
            for (off, len, buffer, step, op, reserved) in &records {
                let mut r = [0u8; EVENT_LEN];
                r[0..8].copy_from_slice(&off.to_le_bytes());
                r[8..12].copy_from_slice(&len.to_le_bytes());
                r[12..16].copy_from_slice(&buffer.to_le_bytes());
                r[16..20].copy_from_slice(&step.to_le_bytes());
                r[20] = *op;
                r[22] = *reserved;
                bytes.extend_from_slice(&r);
            }
            let one_by_one: Result<Vec<Event>> = bytes
                .chunks_exact(EVENT_LEN)
                .enumerate()
                .map(|(i, r)| decode_event(r, &buffers, 48 + (i * EVENT_LEN) as u64, true))
                .collect();
            let mut batched = vec![Event { buffer: 0, op: Op::Read, offset: 0, len: 1, step: 0 }];
            let got = decode_events(&bytes, &buffers, &lens, 48, true, &mut batched);
            match one_by_one {
                Ok(events) => {
                    prop_assert!(got.is_ok());
                    prop_assert_eq!(&batched[1..], &events[..]);
                }
                Err(e) => {
                    let got = got.unwrap_err();
                    prop_assert_eq!(got.byte_offset(), e.byte_offset());
                    prop_assert_eq!(got.to_string(), e.to_string());
                    prop_assert_eq!(batched.len(), 1);
                }
            }
        });
    }

    #[test]
    fn duplicate_names_are_refused() {
        let mut h = Header::new("t", "1");
        h.add_buffer(Buffer::new("a", 1, Role::Other)).unwrap();
        assert!(h.add_buffer(Buffer::new("a", 2, Role::Other)).is_err());
    }
}
