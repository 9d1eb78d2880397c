//! `analyze`: the command line over the analyzer library. It parses
//! arguments, opens traces, runs analyzers and prints; every error is one
//! line naming the file and the position, with a non-zero exit.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use memtrace::{Header, TraceReader};
use memtrace_analyzers::ard::Ard;
use memtrace_analyzers::cache::ObjectCaches;
use memtrace_analyzers::hist::{Hist, Weight};
use memtrace_analyzers::info::Info;
use memtrace_analyzers::render::{self, CacheRun, Named};
use memtrace_analyzers::{replay, units};

#[derive(Parser)]
#[command(name = "analyze", version, about = "Replay memtrace traces offline: reuse distance, histograms, caches")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Header, metadata, buffer table, event counts and checksum status.
    Info {
        #[arg(long)]
        json: bool,
        #[arg(required = true)]
        traces: Vec<PathBuf>,
    },
    /// The seeds' weighted average reuse distance, dmc and per-buffer distances.
    Ard {
        #[arg(long)]
        json: bool,
        #[arg(required = true)]
        traces: Vec<PathBuf>,
    },
    /// Per-buffer reuse-distance histograms (count, p50, p90, p99, max, bars).
    Hist {
        #[arg(long)]
        json: bool,
        /// One value per read (its mean distance) or one per float read.
        #[arg(long, value_enum, default_value = "reads")]
        weight: Weight,
        #[arg(required = true)]
        traces: Vec<PathBuf>,
    },
    /// The seeds' object LRU cache (fully associative, whole accessed ranges).
    Cache {
        /// Cache sizes, comma separated: 32KiB,256KiB (a bare number is bytes; K, M, G are powers of 1024).
        #[arg(long, required = true, value_parser = parse_sizes)]
        size: Vec<Vec<u64>>,
        #[arg(long)]
        json: bool,
        #[arg(required = true)]
        traces: Vec<PathBuf>,
    },
    /// Turn an `op,buffer,size[,offset][,step]` CSV into a trace.
    Import {
        csv: PathBuf,
        /// Output trace; zstd-compressed when it ends in .zst.
        #[arg(short, long)]
        output: PathBuf,
    },
}

fn parse_sizes(s: &str) -> Result<Vec<u64>, String> {
    units::parse_sizes(s)
}

/// An error already carrying the file it concerns.
struct Failure(String);

fn fail(path: &Path, e: impl std::fmt::Display) -> Failure {
    Failure(format!("{}: {e}", path.display()))
}

fn open(path: &Path) -> Result<TraceReader, Failure> {
    TraceReader::open(path).map_err(|e| fail(path, e))
}

fn label(path: &Path) -> String {
    path.display().to_string()
}

fn print_json(v: &serde_json::Value) -> Result<(), Failure> {
    let s = serde_json::to_string_pretty(v).map_err(|e| Failure(format!("cannot encode JSON: {e}")))?;
    emit(&format!("{s}\n"))
}

fn emit(s: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        // A closed pipe (`analyze ... | head`) is not an error worth a message.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure(format!("cannot write output: {e}"))),
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Info { json, traces } => {
            let mut reports = Vec::new();
            for path in &traces {
                let mut reader = open(path)?;
                let header: Header = reader.header().clone();
                let mut info = Info::new(&header);
                while let Some(batch) = reader.next_batch().map_err(|e| fail(path, e))? {
                    batch.iter().for_each(|e| info.event(e));
                }
                let summary = reader.summary().ok_or_else(|| fail(path, "the trace ended early"))?;
                reports.push(Named { trace: label(path), report: info.finish(&header, &summary) });
            }
            if json {
                print_json(&render::json_per_trace(&reports))
            } else {
                emit(&render::info_text(&reports))
            }
        }
        Command::Ard { json, traces } => {
            let mut reports = Vec::new();
            for path in &traces {
                let (report, _, _) = replay(open(path)?, Ard::new).map_err(|e| fail(path, e))?;
                reports.push(Named { trace: label(path), report });
            }
            if json {
                print_json(&render::json_per_trace(&reports))
            } else {
                emit(&render::ard_text(&reports))
            }
        }
        Command::Hist { json, weight, traces } => {
            let mut reports = Vec::new();
            for path in &traces {
                let (report, _, _) = replay(open(path)?, |h| Hist::new(h, weight)).map_err(|e| fail(path, e))?;
                reports.push(Named { trace: label(path), report });
            }
            if json {
                print_json(&render::json_per_trace(&reports))
            } else {
                emit(&render::hist_text(&reports))
            }
        }
        Command::Cache { size, json, traces } => {
            let sizes: Vec<u64> = size.into_iter().flatten().collect();
            let mut runs = Vec::new();
            for path in &traces {
                let (results, _, _) =
                    replay(open(path)?, |h| ObjectCaches::new(h, &sizes)).map_err(|e| fail(path, e))?;
                runs.push(CacheRun { trace: label(path), results });
            }
            if json {
                print_json(&render::cache_json(&runs))
            } else {
                emit(&render::cache_text(&runs))
            }
        }
        Command::Import { csv, output } => {
            let mut header = Header::new("memtrace-import", env!("CARGO_PKG_VERSION"));
            header.set_metadata("source", csv.display().to_string());
            let s = memtrace::import::import_csv(&csv, &output, header).map_err(|e| {
                // CSV errors are about the input; writer errors about the output.
                match e.line() {
                    Some(_) => fail(&csv, e),
                    None if matches!(e.kind(), memtrace::ErrorKind::Io(_)) => fail(&csv, e),
                    None => fail(&output, e),
                }
            })?;
            eprintln!("{}: {} events, {} bytes ({} raw)", output.display(), s.events, s.file_bytes, s.raw_bytes);
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg)) => {
            eprintln!("analyze: {msg}");
            ExitCode::FAILURE
        }
    }
}
