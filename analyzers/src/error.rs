//! The analyzers' typed error. Errors about a trace's content carry the
//! position the trace library gives (a byte) or the event they concern;
//! binaries put the file name in front.

use std::fmt;
use std::io;

/// `Result` with the analyzers' [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an analysis could not give its report.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The trace could not be read (damaged, truncated, missing...).
    Trace(memtrace::Error),
    /// The trace is sound but the analysis cannot take it as asked.
    Invalid {
        /// The 0-based index of the event concerned, if one is.
        event: Option<u64>,
        /// What is wrong, and what to do, in one line.
        what: String,
    },
    /// A temporary file of the analysis could not be written or read.
    Spool(io::Error),
}

impl Error {
    /// An [`Error::Invalid`] without an event.
    pub fn invalid(what: impl Into<String>) -> Error {
        Error::Invalid { event: None, what: what.into() }
    }

    /// An [`Error::Invalid`] at event `index`.
    pub fn at_event(index: u64, what: impl Into<String>) -> Error {
        Error::Invalid { event: Some(index), what: what.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Trace(e) => e.fmt(f),
            Error::Invalid { event: Some(i), what } => write!(f, "event {i}: {what}"),
            Error::Invalid { event: None, what } => f.write_str(what),
            Error::Spool(e) => write!(f, "temporary file of the analysis: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Trace(e) => Some(e),
            Error::Spool(e) => Some(e),
            Error::Invalid { .. } => None,
        }
    }
}

impl From<memtrace::Error> for Error {
    fn from(e: memtrace::Error) -> Error {
        Error::Trace(e)
    }
}
