//! Importing access logs: the `op,buffer,size` CSV that the seed trackers
//! log (and `analyze export --csv` writes) becomes a trace.
//!
//! Columns are named by the first line. `op` (`R` or `W`), `buffer` and
//! `size` are required; `offset` (default 0), `step` (default 0) and `role`
//! are optional, in any order. The first non-empty `role` of a buffer sets
//! its role (a different one later is an error naming the line); a buffer
//! without one gets its role from its name ([`guess_role`]). Each buffer
//! name becomes one buffer, in order of first appearance, as long as the
//! furthest element any line touches. The file is read twice (buffer table,
//! then events) so memory stays bounded by the number of distinct buffers,
//! whatever the length of the log.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use crate::error::{Error, ErrorKind, Result};
use crate::format::{Buffer, Header, Op, Role, EVENT_LEN, FOOTER_LEN, MAX_BUFFERS, MAX_NAME_LEN};
use crate::writer::{Compression, TraceWriter, WriteOptions, WriteSummary};

/// The role an imported buffer gets from its name, following the seeds'
/// naming: `W1`, `b2` are parameters; `x`, `y` inputs; `acc_*`
/// accumulators; `d*` gradients; everything else an activation. Suffixes
/// `_tileN` and `_N` (per-sample copies) are ignored.
pub fn guess_role(name: &str) -> Role {
    let mut base = name;
    if let Some(i) = base.find("_tile") {
        base = &base[..i];
    }
    if let Some((head, tail)) = base.rsplit_once('_') {
        if !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit()) {
            base = head;
        }
    }
    let is_param = |s: &str| {
        let mut c = s.chars();
        matches!(c.next(), Some('W' | 'b')) && !s[1..].is_empty() && s[1..].bytes().all(|b| b.is_ascii_digit())
    };
    if base.starts_with("acc_") {
        Role::Accumulator
    } else if is_param(base) {
        Role::Parameter
    } else if base == "x" || base == "y" {
        Role::Input
    } else if base.len() > 1 && base.starts_with('d') && base != "data" {
        Role::Gradient
    } else {
        Role::Activation
    }
}

#[derive(Clone, Copy)]
struct Columns {
    op: usize,
    buffer: usize,
    size: usize,
    offset: Option<usize>,
    step: Option<usize>,
    role: Option<usize>,
    count: usize,
}

struct Line<'a> {
    op: Op,
    buffer: Cow<'a, str>,
    offset: u64,
    size: u64,
    step: u32,
    /// The `role` column's value, if the column exists and the field is not empty.
    role: Option<Role>,
}

fn csv_err(line: u64, what: impl Into<String>) -> Error {
    Error::at_line(line, ErrorKind::Csv(what.into()))
}

fn parse_columns(first: &str) -> Result<Columns> {
    let names: Vec<&str> = first.trim_end_matches(['\r', '\n']).split(',').map(str::trim).collect();
    let find = |n: &str| names.iter().position(|c| *c == n);
    let need = |n: &str| {
        find(n).ok_or_else(|| {
            csv_err(1, format!("the header line is {first:?}; it must name the columns op,buffer,size (offset, step and role are optional)"))
        })
    };
    for (i, n) in names.iter().enumerate() {
        if !matches!(*n, "op" | "buffer" | "size" | "offset" | "step" | "role") {
            return Err(csv_err(1, format!("unknown column {n:?}; columns are op, buffer, size, offset, step, role")));
        }
        if names[..i].contains(n) {
            return Err(csv_err(1, format!("column {n:?} appears twice")));
        }
    }
    Ok(Columns {
        op: need("op")?,
        buffer: need("buffer")?,
        size: need("size")?,
        offset: find("offset"),
        step: find("step"),
        role: find("role"),
        count: names.len(),
    })
}

/// Splits one record into fields as RFC 4180 says: a field in double
/// quotes may hold commas, quotes (doubled) and line ends, and is taken as
/// written; an unquoted field is trimmed of spaces.
fn split_record<'a>(text: &'a str, line: u64, fields: &mut Vec<Cow<'a, str>>) -> Result<()> {
    fields.clear();
    if !text.contains('"') {
        fields.extend(text.split(',').map(|f| Cow::Borrowed(f.trim())));
        return Ok(());
    }
    let mut rest = text;
    loop {
        let start = rest.trim_start_matches([' ', '\t']);
        if let Some(quoted) = start.strip_prefix('"') {
            // Up to the closing quote: a quote not followed by another.
            let mut value = String::new();
            let mut from = 0;
            let bytes = quoted.as_bytes();
            let close = loop {
                match quoted[from..].find('"') {
                    None => return Err(csv_err(line, "a quoted field is not closed")),
                    Some(i) if bytes.get(from + i + 1) == Some(&b'"') => {
                        value.push_str(&quoted[from..from + i + 1]);
                        from += i + 2;
                    }
                    Some(i) => {
                        value.push_str(&quoted[from..from + i]);
                        break from + i;
                    }
                }
            };
            fields.push(Cow::Owned(value));
            let after = quoted[close + 1..].trim_start_matches([' ', '\t']);
            match after.strip_prefix(',') {
                Some(next) => rest = next,
                None if after.is_empty() => return Ok(()),
                None => return Err(csv_err(line, "text after the closing quote of a field")),
            }
        } else {
            match rest.find(',') {
                Some(i) => {
                    let field = &rest[..i];
                    if field.contains('"') {
                        return Err(csv_err(
                            line,
                            "a quote inside an unquoted field; quote the field and double the quote",
                        ));
                    }
                    fields.push(Cow::Borrowed(field.trim()));
                    rest = &rest[i + 1..];
                }
                None => {
                    if rest.contains('"') {
                        return Err(csv_err(
                            line,
                            "a quote inside an unquoted field; quote the field and double the quote",
                        ));
                    }
                    fields.push(Cow::Borrowed(rest.trim()));
                    return Ok(());
                }
            }
        }
    }
}

/// Whether `text` leaves a quoted field open (an odd number of quotes):
/// the record goes on after the line end.
fn quote_open(text: &str) -> bool {
    text.bytes().filter(|&b| b == b'"').count() % 2 == 1
}

fn parse_line<'a>(text: &'a str, cols: Columns, line: u64, fields: &mut Vec<Cow<'a, str>>) -> Result<Line<'a>> {
    split_record(text, line, fields)?;
    if fields.len() != cols.count {
        return Err(csv_err(line, format!("{} fields, the header names {}", fields.len(), cols.count)));
    }
    let op = match fields[cols.op].as_ref() {
        "R" | "r" => Op::Read,
        "W" | "w" => Op::Write,
        other => return Err(csv_err(line, format!("op {other:?} is neither R nor W"))),
    };
    let buffer = std::mem::take(&mut fields[cols.buffer]);
    if buffer.is_empty() {
        return Err(csv_err(line, "empty buffer name"));
    }
    if buffer.len() > MAX_NAME_LEN {
        return Err(csv_err(line, format!("buffer name is {} bytes; at most {MAX_NAME_LEN}", buffer.len())));
    }
    let int = |i: usize, what: &str| -> Result<u64> {
        let f = fields[i].trim();
        f.parse::<u64>().map_err(|_| csv_err(line, format!("{what} {f:?} is not a non-negative integer")))
    };
    let size = int(cols.size, "size")?;
    if size == 0 {
        return Err(csv_err(line, "size 0: an access covers at least one element"));
    }
    if size > MAX_LINE_ELEMENTS {
        return Err(csv_err(
            line,
            format!("size {size} is more than one event holds ({MAX_LINE_ELEMENTS} elements); split the access over several lines"),
        ));
    }
    let offset = match cols.offset {
        Some(i) => int(i, "offset")?,
        None => 0,
    };
    if offset.checked_add(size).is_none() {
        return Err(csv_err(line, "offset + size overflows 64 bits"));
    }
    let step = match cols.step {
        Some(i) => {
            let s = int(i, "step")?;
            u32::try_from(s).map_err(|_| csv_err(line, format!("step {s} exceeds {}", u32::MAX)))?
        }
        None => 0,
    };
    let role = match cols.role.map(|i| fields[i].trim()) {
        None | Some("") => None,
        Some(name) => Some(Role::from_name(name).ok_or_else(|| {
            csv_err(
                line,
                format!("role {name:?} is not one of parameter, input, activation, gradient, accumulator, other"),
            )
        })?),
    };
    Ok(Line { op, buffer, offset, size, step, role })
}

/// Calls `f` for every data line; `f` gets the parsed line and its number.
fn scan(path: &Path, mut f: impl FnMut(Line<'_>, u64) -> Result<()>) -> Result<()> {
    let file = File::open(path)?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut text = String::new();
    let mut line_no = 0u64;
    let mut cols = None;
    loop {
        text.clear();
        // A record is a line, or several while a quoted field is open; at
        // most MAX_LINE_LEN bytes, so a line without end is refused, not gathered.
        let first_line = line_no + 1;
        loop {
            let room = (MAX_LINE_LEN + 1 - text.len()) as u64;
            let n = (&mut reader).take(room).read_line(&mut text).map_err(|e| {
                if e.kind() == std::io::ErrorKind::InvalidData {
                    csv_err(line_no + 1, "not UTF-8 text")
                } else {
                    Error::from(e)
                }
            })?;
            if n == 0 {
                break;
            }
            line_no += 1;
            if text.len() > MAX_LINE_LEN {
                return Err(csv_err(
                    first_line,
                    format!("longer than {MAX_LINE_LEN} bytes without a line end; not an events CSV"),
                ));
            }
            if !quote_open(&text) {
                break;
            }
        }
        if text.is_empty() {
            break;
        }
        let trimmed = text.strip_suffix('\n').unwrap_or(&text);
        let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
        match cols {
            None => cols = Some(parse_columns(trimmed)?),
            Some(c) => {
                if trimmed.trim().is_empty() {
                    continue;
                }
                let mut fields = Vec::with_capacity(8);
                f(parse_line(trimmed, c, first_line, &mut fields)?, first_line)?;
            }
        }
    }
    if cols.is_none() {
        return Err(csv_err(1, "the file is empty; expected a header line op,buffer,size"));
    }
    Ok(())
}

/// The longest line the importer reads: a buffer name of [`MAX_NAME_LEN`]
/// bytes and five numbers leave room for generous spacing. A longer line
/// (or a stream of bytes without a newline, such as `/dev/zero`) is refused
/// at once instead of being gathered in memory.
pub const MAX_LINE_LEN: usize = 64 * 1024;

/// The most elements one CSV line may declare: what one event holds, so
/// every line is exactly one event and the output is bounded by the input
/// (at most 24 bytes per line).
pub const MAX_LINE_ELEMENTS: u64 = u32::MAX as u64;

/// Which file an import error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The CSV being read.
    Input,
    /// The trace being written.
    Output,
}

/// An import failure and the file it is about: a binary names the CSV for
/// [`Side::Input`] and the output for [`Side::Output`] (a full disk is not
/// the CSV's fault).
#[derive(Debug)]
pub struct ImportError {
    /// The file at fault.
    pub side: Side,
    /// What went wrong (with a line number for CSV errors).
    pub error: Error,
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for ImportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

fn input_err(error: Error) -> ImportError {
    ImportError { side: Side::Input, error }
}

fn output_err(error: Error) -> ImportError {
    ImportError { side: Side::Output, error }
}

/// What the first pass found the trace will hold, known before anything is
/// written (a caller can say how large a large output will be).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportPlan {
    /// Distinct buffers.
    pub buffers: u64,
    /// Events, one per data line.
    pub events: u64,
    /// Bytes of the raw trace (before any compression).
    pub raw_bytes: u64,
}

/// Where an import writes.
pub enum Target<'a> {
    /// A file (zstd-compressed if its name ends in `.zst`), written under a
    /// temporary name and renamed when complete.
    File(&'a Path),
    /// A raw trace to a stream (standard output, a device, a pipe).
    Stream(Box<dyn Write + Send>),
}

/// Imports an events CSV into a trace at `output` (compressed if it ends in `.zst`).
pub fn import_csv(input: &Path, output: &Path, header: Header) -> Result<WriteSummary, ImportError> {
    import(input, Target::File(output), header, |_| {})
}

/// Imports an events CSV into a raw trace written to a stream (standard output).
pub fn import_csv_to_stream(
    input: &Path,
    out: impl Write + Send + 'static,
    header: Header,
) -> Result<WriteSummary, ImportError> {
    import(input, Target::Stream(Box::new(out)), header, |_| {})
}

/// A role the `role` column gave a buffer, and the line that gave it.
type RoleGiven = (Role, u64);

/// The import: the CSV is read twice (the buffer table, then the events);
/// `on_plan` hears what the trace will hold before the output is opened.
pub fn import(
    input: &Path,
    target: Target<'_>,
    mut header: Header,
    on_plan: impl FnOnce(&ImportPlan),
) -> Result<WriteSummary, ImportError> {
    // Read twice, so a pipe would give an empty second pass: refuse it here
    // (binaries copy such inputs to a file first).
    let meta = std::fs::metadata(input).map_err(|e| input_err(e.into()))?;
    if meta.is_dir() {
        return Err(input_err(Error::new(ErrorKind::Io(std::io::Error::other("is a directory, not a CSV file")))));
    }
    if !meta.is_file() {
        return Err(input_err(Error::invalid(
            "is not a regular file (a pipe or a device); the importer reads its input twice: copy it to a file first",
        )));
    }
    // Pass 1: the buffer table.
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut table: Vec<(String, u64, Option<RoleGiven>)> = Vec::new();
    let mut events = 0u64;
    scan(input, |l, line| {
        events += 1;
        let end = l.offset + l.size;
        let i = match index.get(l.buffer.as_ref()) {
            Some(&i) => i,
            None => {
                if table.len() >= MAX_BUFFERS as usize {
                    return Err(csv_err(line, format!("more than {MAX_BUFFERS} distinct buffers")));
                }
                index.insert(l.buffer.to_string(), table.len());
                table.push((l.buffer.to_string(), 0, None));
                table.len() - 1
            }
        };
        let entry = &mut table[i];
        entry.1 = entry.1.max(end);
        match (l.role, entry.2) {
            (Some(role), None) => entry.2 = Some((role, line)),
            (Some(role), Some((set, at))) if role != set => {
                return Err(csv_err(
                    line,
                    format!("buffer {:?} has role {role} here but {set} since line {at}", l.buffer),
                ));
            }
            _ => {}
        }
        Ok(())
    })
    .map_err(input_err)?;
    // Names are unique by construction (the index), so the table is built
    // directly: `Header::add_buffer` scans for duplicates, which is
    // quadratic over a million buffers. `encode` still checks, with a set.
    header.buffers.reserve(table.len());
    for (name, len, role) in table {
        let role = role.map_or_else(|| guess_role(&name), |(r, _)| r);
        header.buffers.push(Buffer::new(name, len, role));
    }
    let header_len = header.encode().map_err(input_err)?.len() as u64;
    on_plan(&ImportPlan {
        buffers: header.buffers.len() as u64,
        events,
        raw_bytes: header_len + events * EVENT_LEN as u64 + FOOTER_LEN as u64,
    });
    // Pass 2: the events.
    let mut writer = match target {
        Target::File(output) => TraceWriter::create_with(output, header, WriteOptions::for_path(output)),
        Target::Stream(out) => TraceWriter::to_stream(out, header, WriteOptions { compression: Compression::None }),
    }
    .map_err(output_err)?;
    let mut failed_output = None;
    let mut seen = 0u64;
    scan(input, |l, line| {
        seen += 1;
        let id = *index.get(l.buffer.as_ref()).ok_or_else(|| {
            csv_err(line, format!("buffer {:?} appeared while importing (the file changed)", l.buffer))
        })?;
        writer.access(id as u32, l.op, l.offset, l.size, l.step).map_err(|e| match e.kind() {
            // The disk, the pipe, the device: the output's failure, not the line's.
            ErrorKind::Io(_) => {
                failed_output = Some(e);
                csv_err(line, "stopped: the output failed")
            }
            _ => csv_err(line, e.to_string()),
        })
    })
    .map_err(|e| match failed_output.take() {
        Some(out) => output_err(out),
        None => input_err(e),
    })?;
    if seen != events {
        return Err(input_err(Error::invalid(format!(
            "the file changed while importing ({events} events on the first reading, {seen} on the second)"
        ))));
    }
    writer.finish().map_err(output_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_follow_seed_names() {
        assert_eq!(guess_role("W1"), Role::Parameter);
        assert_eq!(guess_role("b2"), Role::Parameter);
        assert_eq!(guess_role("W1_tile3"), Role::Parameter);
        assert_eq!(guess_role("x_12"), Role::Input);
        assert_eq!(guess_role("acc_dW1"), Role::Accumulator);
        assert_eq!(guess_role("dh_pre_3"), Role::Gradient);
        assert_eq!(guess_role("h_pre_tile0"), Role::Activation);
        assert_eq!(guess_role("out"), Role::Activation);
    }

    #[test]
    fn columns_may_come_in_any_order() {
        let c = parse_columns("buffer,op,step,size,offset,role").unwrap();
        assert_eq!((c.op, c.buffer, c.size, c.offset, c.step, c.role), (1, 0, 3, Some(4), Some(2), Some(5)));
        assert!(parse_columns("op,buffer").is_err());
        assert!(parse_columns("op,buffer,size,colour").is_err());
    }
}
