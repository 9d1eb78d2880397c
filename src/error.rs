//! Typed errors of the trace library. Every error that comes from file
//! content carries its position: a byte offset in the raw trace, or a line of
//! a CSV file. Binaries add the file name in front.

use std::fmt;
use std::io;

/// `Result` with the trace library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error with an optional position. `Display` gives one line:
/// `byte 1234: <what>` or `line 7: <what>`.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    position: Position,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    None,
    /// Byte offset in the raw trace (for zstd files, in the decompressed stream).
    Byte {
        offset: u64,
        decompressed: bool,
    },
    /// 1-based line of a text input.
    Line(u64),
}

/// What went wrong. Matched on by tests and by callers that recover.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The operating system refused: missing file, directory, permission, disk full.
    Io(io::Error),
    /// The file is empty.
    Empty,
    /// Neither a memtrace trace nor a zstd stream.
    BadMagic {
        /// The first eight bytes found.
        found: [u8; 8],
    },
    /// A memtrace trace of a version this build does not read.
    UnsupportedVersion {
        /// The version the file declares.
        found: u32,
    },
    /// The file ends before the footer.
    Truncated {
        /// The part of the file that is missing.
        what: &'static str,
    },
    /// The content contradicts the format (a bad length, an id out of range, ...).
    Corrupt(String),
    /// The CRC-32 in the footer does not match the content.
    ChecksumMismatch {
        /// The CRC-32 the footer holds.
        stored: u32,
        /// The CRC-32 of the content as read.
        computed: u32,
    },
    /// The zstd stream itself is damaged.
    Compression(io::Error),
    /// A zstd stream compressed with a larger window than the reader allows
    /// (`zstd --long=28` and above): valid, but it would take that much memory.
    ZstdWindow {
        /// The window the frame declares, in bytes.
        needed: u64,
        /// The largest window the reader accepts.
        allowed: u64,
    },
    /// Malformed CSV input.
    Csv(String),
    /// A caller asked the writer for something the format cannot hold.
    InvalidInput(String),
}

impl Error {
    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    pub(crate) fn new(kind: ErrorKind) -> Error {
        Error { kind, position: Position::None }
    }

    pub(crate) fn at_byte(offset: u64, decompressed: bool, kind: ErrorKind) -> Error {
        Error { kind, position: Position::Byte { offset, decompressed } }
    }

    pub(crate) fn at_line(line: u64, kind: ErrorKind) -> Error {
        Error { kind, position: Position::Line(line) }
    }

    pub(crate) fn corrupt(offset: u64, decompressed: bool, what: impl Into<String>) -> Error {
        Error::at_byte(offset, decompressed, ErrorKind::Corrupt(what.into()))
    }

    pub(crate) fn invalid(what: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidInput(what.into()))
    }

    /// The byte offset this error refers to, if any.
    pub fn byte_offset(&self) -> Option<u64> {
        match self.position {
            Position::Byte { offset, .. } => Some(offset),
            _ => None,
        }
    }

    /// The 1-based line this error refers to, if any.
    pub fn line(&self) -> Option<u64> {
        match self.position {
            Position::Line(l) => Some(l),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::new(ErrorKind::Io(e))
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Io(e) => write!(f, "{e}"),
            ErrorKind::Empty => write!(f, "the file is empty, not a trace"),
            ErrorKind::BadMagic { found } => write!(
                f,
                "not a memtrace trace (starts with {}; a trace starts with \"MEMTRACE\" or is a zstd stream of one)",
                found.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
            ),
            ErrorKind::UnsupportedVersion { found } => {
                if *found > crate::FORMAT_VERSION {
                    write!(
                        f,
                        "trace format version {found} is newer than this build reads (version {}); upgrade memtrace to read it",
                        crate::FORMAT_VERSION
                    )
                } else {
                    write!(
                        f,
                        "trace format version {found} is a pre-release format no longer read; re-record or re-import the trace with this version (format {})",
                        crate::FORMAT_VERSION
                    )
                }
            }
            ErrorKind::Truncated { what } => write!(f, "the trace is truncated: {what}"),
            ErrorKind::Corrupt(what) => write!(f, "corrupt trace: {what}"),
            ErrorKind::ChecksumMismatch { stored, computed } => write!(
                f,
                "checksum mismatch: the footer says {stored:08x}, the content gives {computed:08x}; the file is damaged"
            ),
            ErrorKind::Compression(e) => write!(f, "damaged zstd stream: {e}"),
            ErrorKind::ZstdWindow { needed, allowed } => write!(
                f,
                "the zstd stream needs a {} MiB window (compressed with --long?), more than the {} MiB this reader \
                 allows; recompress it with a smaller one: zstd -dc --long=31 FILE | zstd -o NEW.zst",
                needed >> 20,
                allowed >> 20
            ),
            ErrorKind::Csv(what) => write!(f, "{what}"),
            ErrorKind::InvalidInput(what) => write!(f, "{what}"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Position::None => {}
            Position::Byte { offset, decompressed: false } => write!(f, "byte {offset}: ")?,
            Position::Byte { offset, decompressed: true } => write!(f, "byte {offset} of the decompressed trace: ")?,
            Position::Line(l) => write!(f, "line {l}: ")?,
        }
        write!(f, "{}", self.kind)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Io(e) | ErrorKind::Compression(e) => Some(e),
            _ => None,
        }
    }
}
