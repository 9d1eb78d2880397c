//! Where `analyze` reads traces from, and how it shows progress.
//!
//! `-` is standard input. Analyses may read a trace more than once (a pass
//! per cache configuration, two passes for `dmd`) and a pipe can be read
//! only once, so the first use of `-` copies standard input to a
//! temporary file that every later use opens. [`Input`] owns that copy and
//! removes it when dropped; the signal handler of `main` removes it on
//! Ctrl-C, SIGTERM or SIGHUP.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use memtrace::TraceReader;

use crate::Failure;

/// `-` on the command line: standard input.
pub fn is_std(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// How messages name `path`.
pub fn shown(path: &Path) -> String {
    if is_std(path) {
        "standard input".into()
    } else {
        path.display().to_string()
    }
}

/// An error about `path`.
pub fn fail(path: &Path, e: impl std::fmt::Display) -> Failure {
    Failure(format!("{}: {e}", shown(path)))
}

/// The default of `--max-line-requests`: about two hours of line LRU at
/// this machine's 150 M line requests/s, 85 times the line requests of a
/// 100 M-event training trace.
pub const MAX_LINE_REQUESTS: u64 = 1_000_000_000_000;

/// What a copied stream must look like from its first bytes: checked
/// before the rest is copied, so `cat /dev/zero | analyze info -` ends at
/// once instead of filling the disk.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A trace, raw or zstd.
    Trace,
    /// An events CSV (its first line must end within [`memtrace::import::MAX_LINE_LEN`] bytes).
    Csv,
}

/// The traces of one command.
pub struct Input {
    /// Copies of streams (standard input, FIFOs, `<(...)`), by the name
    /// given; registered for removal by the signal handler (`main`).
    copies: Vec<(PathBuf, tempfile::TempPath, memtrace::output::Partial)>,
    /// Line analyzers refuse a trace that implies more line requests.
    pub max_line_requests: u64,
}

impl Default for Input {
    fn default() -> Input {
        Input { copies: Vec::new(), max_line_requests: MAX_LINE_REQUESTS }
    }
}

/// Whether `path` can be read only once: standard input, a FIFO, a pipe
/// from process substitution (`/dev/fd/N`), a character device.
fn is_stream(path: &Path) -> bool {
    is_std(path) || std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

impl Input {
    /// The file to read for the trace `path`: itself, or a copy of the stream it names.
    pub fn source(&mut self, path: &Path) -> Result<PathBuf, Failure> {
        self.source_of(path, Expect::Trace)
    }

    /// The file to read for `path`, which must look like `expect`.
    pub fn source_of(&mut self, path: &Path, expect: Expect) -> Result<PathBuf, Failure> {
        if !is_stream(path) {
            return Ok(path.to_path_buf());
        }
        if let Some((_, copy, _)) = self.copies.iter().find(|(p, _, _)| p == path) {
            return Ok(copy.to_path_buf());
        }
        let mut stream: Box<dyn Read> = if is_std(path) {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Err(fail(path, "is a terminal; pipe a trace into it (record -o - | analyze ard -)"));
            }
            Box::new(stdin.lock())
        } else {
            Box::new(std::fs::File::open(path).map_err(|e| fail(path, e))?)
        };
        let head = read_head(&mut stream, expect).map_err(|e| fail(path, e))?;
        let mut file = tempfile::Builder::new().prefix(".memtrace-stdin.").tempfile().map_err(|e| fail(path, e))?;
        // Ctrl-C would skip the removal on drop: the handler removes it.
        let partial = memtrace::output::Partial::register(file.path());
        file.write_all(&head).map_err(|e| fail(path, e))?;
        std::io::copy(&mut stream, &mut file).map_err(|e| fail(path, e))?;
        let copy = file.into_temp_path();
        let source = copy.to_path_buf();
        self.copies.push((path.to_path_buf(), copy, partial));
        Ok(source)
    }

    /// Opens `path` as a trace.
    pub fn open(&mut self, path: &Path) -> Result<TraceReader, Failure> {
        TraceReader::open(self.source(path)?).map_err(|e| fail(path, e))
    }
}

/// The first bytes of a stream, checked against what it should be.
fn read_head(stream: &mut dyn Read, expect: Expect) -> Result<Vec<u8>, String> {
    let mut head = Vec::new();
    match expect {
        Expect::Trace => {
            // Enough for the magic; the reader's own check gives the message.
            stream.take(8).read_to_end(&mut head).map_err(|e| e.to_string())?;
            if let Err(e) = TraceReader::from_bytes(head.clone()) {
                if matches!(e.kind(), memtrace::ErrorKind::BadMagic { .. } | memtrace::ErrorKind::Empty) {
                    return Err(e.to_string());
                }
            }
        }
        Expect::Csv => {
            let limit = memtrace::import::MAX_LINE_LEN as u64 + 1;
            let mut reader = std::io::BufReader::new(stream.take(limit));
            reader.read_until(b'\n', &mut head).map_err(|e| e.to_string())?;
            if head.len() as u64 == limit && !head.ends_with(b"\n") {
                return Err(format!(
                    "line 1: longer than {} bytes without a line end; not an events CSV",
                    memtrace::import::MAX_LINE_LEN
                ));
            }
            // What the buffer read past the first line belongs to the copy too.
            head.extend_from_slice(reader.buffer());
        }
    }
    Ok(head)
}

/// A progress bar on standard error for reads that take more than a
/// second, only when standard error is a terminal.
pub struct Progress {
    started: Instant,
    bar: Option<indicatif::ProgressBar>,
    enabled: bool,
    label: String,
    /// The bar's template: file bytes, or line requests.
    template: &'static str,
}

impl Progress {
    /// Progress through the file's bytes.
    pub fn new(path: &Path) -> Progress {
        Progress {
            started: Instant::now(),
            bar: None,
            enabled: std::io::stderr().is_terminal(),
            label: shown(path),
            template: "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        }
    }

    /// Progress through line requests (the work of a line analyzer, which
    /// a file's bytes measure badly: one event may be thousands of lines).
    pub fn lines(path: &Path) -> Progress {
        let mut p = Progress::new(path);
        p.template = "{msg} [{bar:30}] {human_pos}/{human_len} line requests, {lines_per_sec} eta {eta}";
        p
    }

    pub fn update(&mut self, done: u64, total: Option<u64>) {
        if !self.enabled {
            return;
        }
        if self.bar.is_none() && self.started.elapsed().as_secs_f64() > 1.0 {
            let bar = indicatif::ProgressBar::new(total.unwrap_or(0));
            if let Ok(style) = indicatif::ProgressStyle::with_template(self.template) {
                let style =
                    style.with_key("lines_per_sec", |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.1} M/s", state.per_sec() / 1e6);
                    });
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(self.label.clone());
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
