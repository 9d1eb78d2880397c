//! `analyze export`: one event per line with buffer names resolved, in
//! CSV (`op,buffer,size,offset,step`, which `analyze import` reads back)
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

/// `op,buffer,size,offset,step`, which `analyze import` reads back.
pub struct Csv;

impl EventFormat for Csv {
    fn begin(&mut self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "op,buffer,size,offset,step")
    }
    fn event(&mut self, out: &mut dyn Write, header: &Header, e: &Event) -> io::Result<()> {
        let name = &header.buffers[e.buffer as usize].name;
        writeln!(out, "{},{},{},{},{}", e.op.letter(), name, e.len, e.offset, e.step)
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
