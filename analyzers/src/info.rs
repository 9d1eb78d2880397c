//! `analyze info`: what a trace holds: producer, metadata, buffer table,
//! event counts per buffer, and whether its checksum holds.

use std::collections::BTreeMap;

use memtrace::{Event, Header, Op, TraceSummary};
use serde::Serialize;

use crate::report::{Named, Report};
use crate::table::{thousands, Table};

/// One buffer and what the trace does with it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BufferInfo {
    /// Its id.
    pub id: u32,
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: &'static str,
    /// Length in elements.
    pub len: u64,
    /// Bytes per element.
    pub elem_size: u32,
    /// Read events.
    pub reads: u64,
    /// Write events.
    pub writes: u64,
    /// Elements read.
    pub elements_read: u64,
    /// Elements written.
    pub elements_written: u64,
}

/// What `analyze info` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InfoReport {
    /// Format version of the file.
    pub format_version: u32,
    /// `raw` or `zstd`.
    pub encoding: &'static str,
    /// What wrote the trace.
    pub producer: String,
    /// Its version.
    pub producer_version: String,
    /// Metadata, by key.
    pub metadata: BTreeMap<String, String>,
    /// Events.
    pub events: u64,
    /// Read events.
    pub reads: u64,
    /// Write events.
    pub writes: u64,
    /// Elements read.
    pub elements_read: u64,
    /// Elements written.
    pub elements_written: u64,
    /// Highest step number seen plus one (0 for an empty trace).
    pub steps: u64,
    /// Bytes of the raw trace (header, events, footer).
    pub raw_bytes: u64,
    /// The footer's CRC-32, in hex.
    pub crc32: String,
    /// `sha256:<hex>` of the raw trace: equal for a trace and its compressed copy.
    pub content_hash: String,
    /// "ok": the CRC-32 in the footer matches the content (it is always checked).
    pub checksum: &'static str,
    /// The buffer table.
    pub buffers: Vec<BufferInfo>,
}

/// Counts of a trace, replayed.
pub struct Info {
    buffers: Vec<BufferInfo>,
    max_step: Option<u32>,
}

impl Info {
    /// Zero counts for a trace with this header.
    pub fn new(header: &Header) -> Info {
        let buffers = header
            .buffers
            .iter()
            .enumerate()
            .map(|(i, b)| BufferInfo {
                id: i as u32,
                name: b.name.clone(),
                role: b.role.name(),
                len: b.len,
                elem_size: b.elem_size,
                ..BufferInfo::default()
            })
            .collect();
        Info { buffers, max_step: None }
    }

    /// One event.
    #[inline]
    pub fn event(&mut self, e: &Event) {
        let b = &mut self.buffers[e.buffer as usize];
        match e.op {
            Op::Read => {
                b.reads += 1;
                b.elements_read += e.len as u64;
            }
            Op::Write => {
                b.writes += 1;
                b.elements_written += e.len as u64;
            }
        }
        self.max_step = Some(self.max_step.map_or(e.step, |s| s.max(e.step)));
    }

    /// The report, with what the header and the checked summary say.
    pub fn finish(self, header: &Header, summary: &TraceSummary) -> InfoReport {
        let sum = |f: fn(&BufferInfo) -> u64| self.buffers.iter().map(f).sum::<u64>();
        InfoReport {
            format_version: memtrace::FORMAT_VERSION,
            encoding: summary.encoding.name(),
            producer: header.producer.clone(),
            producer_version: header.producer_version.clone(),
            metadata: header.metadata.iter().cloned().collect(),
            events: summary.events,
            reads: sum(|b| b.reads),
            writes: sum(|b| b.writes),
            elements_read: sum(|b| b.elements_read),
            elements_written: sum(|b| b.elements_written),
            steps: self.max_step.map_or(0, |s| s as u64 + 1),
            raw_bytes: summary.raw_bytes,
            crc32: format!("{:08x}", summary.crc32),
            content_hash: summary.content_hash().unwrap_or_default(),
            checksum: "ok",
            buffers: self.buffers,
        }
    }
}

impl crate::Analyzer for Info {
    type Output = InfoReport;
    #[inline]
    fn event(&mut self, e: &Event) {
        Info::event(self, e)
    }
    fn finish(self, header: &Header, summary: &TraceSummary) -> crate::Result<InfoReport> {
        Ok(Info::finish(self, header, summary))
    }
}

impl Report for InfoReport {
    fn text(reports: &[Named<InfoReport>]) -> String {
        let mut out = String::new();
        for n in reports {
            let r = &n.report;
            out.push_str(&format!("trace      {}\n", n.trace));
            out.push_str(&format!("format     memtrace v{} ({})\n", r.format_version, r.encoding));
            out.push_str(&format!("producer   {} {}\n", r.producer, r.producer_version));
            for (k, v) in &r.metadata {
                out.push_str(&format!("meta       {k} = {v}\n"));
            }
            out.push_str(&format!(
                "events     {} ({} reads, {} writes) over {} steps\n",
                thousands(r.events),
                thousands(r.reads),
                thousands(r.writes),
                thousands(r.steps)
            ));
            out.push_str(&format!(
                "elements   {} read, {} written\n",
                thousands(r.elements_read),
                thousands(r.elements_written)
            ));
            out.push_str(&format!("raw bytes  {}\n", thousands(r.raw_bytes)));
            out.push_str(&format!("checksum   crc32 {} {}\n", r.crc32, r.checksum));
            out.push_str(&format!("content    {}\n\n", r.content_hash));
            let mut t = Table::new(
                ["buffer", "role", "id", "length", "elem", "reads", "writes", "elems read", "elems written"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            )
            .text_columns(2);
            for b in &r.buffers {
                t.row(vec![
                    b.name.clone(),
                    b.role.to_string(),
                    b.id.to_string(),
                    thousands(b.len),
                    format!("{}B", b.elem_size),
                    thousands(b.reads),
                    thousands(b.writes),
                    thousands(b.elements_read),
                    thousands(b.elements_written),
                ]);
            }
            out.push_str(&t.render());
            out.push('\n');
        }
        out
    }
}
