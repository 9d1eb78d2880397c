//! Where `analyze` reads traces from, and how it shows progress.
//!
//! `-` is standard input. Analyses may read a trace more than once (a pass
//! per cache configuration, two passes for `dmd`) and a pipe can be read
//! only once, so the first use of `-` copies standard input to a
//! temporary file that every later use opens. [`Input`] owns that copy and
//! removes it when dropped; a Ctrl-C handler removes it on an interrupt.

use std::io::IsTerminal;
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

/// The traces of one command.
pub struct Input {
    stdin_copy: Option<tempfile::NamedTempFile>,
    /// Line analyzers refuse a trace that implies more line requests.
    pub max_line_requests: u64,
}

impl Default for Input {
    fn default() -> Input {
        Input { stdin_copy: None, max_line_requests: MAX_LINE_REQUESTS }
    }
}

impl Input {
    /// The file to read for `path`: itself, or the copy of standard input.
    pub fn source(&mut self, path: &Path) -> Result<PathBuf, Failure> {
        if !is_std(path) {
            return Ok(path.to_path_buf());
        }
        if let Some(copy) = &self.stdin_copy {
            return Ok(copy.path().to_path_buf());
        }
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            return Err(fail(path, "is a terminal; pipe a trace into it (record -o - | analyze ard -)"));
        }
        let mut file = tempfile::Builder::new().prefix(".memtrace-stdin.").tempfile().map_err(|e| fail(path, e))?;
        // Ctrl-C would skip the removal on drop: the handler removes it.
        let copy = file.path().to_path_buf();
        let _ = ctrlc::set_handler(move || {
            let _ = std::fs::remove_file(&copy);
            std::process::exit(130);
        });
        std::io::copy(&mut stdin.lock(), &mut file).map_err(|e| fail(path, e))?;
        let source = file.path().to_path_buf();
        self.stdin_copy = Some(file);
        Ok(source)
    }

    /// Opens `path` as a trace.
    pub fn open(&mut self, path: &Path) -> Result<TraceReader, Failure> {
        TraceReader::open(self.source(path)?).map_err(|e| fail(path, e))
    }
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
