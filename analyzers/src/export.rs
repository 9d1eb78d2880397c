//! `analyze export`: one event per line with buffer names resolved, in
//! CSV (`op,buffer,size,offset,step,role`, quoted as RFC 4180 says, which `analyze import` reads back)
//! or JSON Lines. One small trait, one implementation per format.

use std::io::{self, Write};

use memtrace::{Event, Header};

/// An output format for events.
pub trait EventFormat {
    /// Before the first event (a header line).
    fn begin(&mut self, out: &mut dyn Write) -> io::Result<()>;
    /// One event, buffer names from `header`.
    fn event(&mut self, out: &mut dyn Write, header: &Header, e: &Event) -> io::Result<()>;
}

/// `op,buffer,size,offset,step,role`, which `analyze import` reads back.
/// A name is quoted as RFC 4180 says when it must be: it holds a comma,
/// a quote (doubled) or a line end, or begins or ends with spaces (which
/// `import` trims from unquoted fields).
pub struct Csv;

impl EventFormat for Csv {
    fn begin(&mut self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "op,buffer,size,offset,step,role")
    }
    fn event(&mut self, out: &mut dyn Write, header: &Header, e: &Event) -> io::Result<()> {
        let b = &header.buffers[e.buffer as usize];
        writeln!(out, "{},{},{},{},{},{}", e.op.letter(), csv_field(&b.name), e.len, e.offset, e.step, b.role)
    }
}

/// `field` as a CSV field: as it is, or quoted with its quotes doubled.
pub fn csv_field(field: &str) -> std::borrow::Cow<'_, str> {
    let needs = field.contains([',', '"', '\n', '\r']) || field.trim() != field;
    if needs {
        std::borrow::Cow::Owned(format!("\"{}\"", field.replace('"', "\"\"")))
    } else {
        std::borrow::Cow::Borrowed(field)
    }
}

/// One JSON object per line.
pub struct JsonLines;

impl EventFormat for JsonLines {
    fn begin(&mut self, _: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
    fn event(&mut self, out: &mut dyn Write, header: &Header, e: &Event) -> io::Result<()> {
        let name = serde_json::to_string(&header.buffers[e.buffer as usize].name).map_err(io::Error::other)?;
        writeln!(
            out,
            "{{\"op\":\"{}\",\"buffer\":{name},\"offset\":{},\"size\":{},\"step\":{}}}",
            e.op.letter(),
            e.offset,
            e.len,
            e.step
        )
    }
}
