//! `analyze`: the command line over the analyzer library. It parses
//! arguments, opens traces, runs analyzers and prints; every error is one
//! line naming the file and the position, with a non-zero exit.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use memtrace::{Header, TraceReader};
use memtrace_analyzers::ard::Ard;
use memtrace_analyzers::cache::ObjectCaches;
use memtrace_analyzers::export::{Csv, EventFormat, JsonLines};
use memtrace_analyzers::hist::{Hist, Weight};
use memtrace_analyzers::info::Info;
use memtrace_analyzers::linecache::{LineCacheSim, LineConfig, PolicyKind, RequestCollector};
use memtrace_analyzers::render::{self, CacheRun, LineRun, Named};
use memtrace_analyzers::{replay_with_progress, units, Analyzer};
use rayon::prelude::*;

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
        /// Also LRU stack distances (distinct lines between reuses) at line granularity.
        #[arg(long)]
        stack: bool,
        /// Line size in bytes for --stack.
        #[arg(long, default_value_t = 64)]
        line: u64,
        #[arg(required = true)]
        traces: Vec<PathBuf>,
    },
    /// Cache simulation: the seeds' object LRU cache (default), or caches of lines like hardware.
    Cache {
        /// Cache sizes, comma separated: 32KiB,256KiB (a bare number is bytes; K, M, G are powers of 1024).
        #[arg(long, required = true, value_parser = parse_sizes)]
        size: Vec<Vec<u64>>,
        /// object: the seeds' model (whole accessed ranges); line: cache lines like hardware.
        #[arg(long, value_enum, default_value = "object")]
        granularity: Granularity,
        /// Line size in bytes (line granularity).
        #[arg(long, default_value_t = 64)]
        line: u64,
        /// Ways per set, or full (line granularity).
        #[arg(long, default_value = "full", value_parser = parse_ways)]
        assoc: Ways,
        /// Replacement policies, comma separated (line granularity; the object model is LRU).
        #[arg(long, value_enum, value_delimiter = ',', default_value = "lru")]
        policy: Vec<PolicyKind>,
        #[arg(long)]
        json: bool,
        #[arg(required = true)]
        traces: Vec<PathBuf>,
    },
    /// Exact LRU miss-ratio curve for every cache size, in one pass (line granularity).
    Mrc {
        /// Only at these sizes (comma list); without it, at every size where the curve changes.
        #[arg(long, value_parser = parse_sizes)]
        size: Vec<Vec<u64>>,
        #[arg(long, default_value_t = 64)]
        line: u64,
        /// SHARDS spatial sampling: track this fraction of lines (0 < R <= 1).
        #[arg(long, default_value_t = 1.0)]
        sample: f64,
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        #[arg(long)]
        csv: bool,
        /// Also draw the curves (all traces on one plot) as SVG.
        #[arg(long, value_name = "FILE.svg")]
        plot: Option<PathBuf>,
        #[arg(required = true)]
        traces: Vec<PathBuf>,
    },
    /// Energy of the data movement in an inclusive cache hierarchy: per step, per sample, by role.
    Energy {
        /// A cache level, from L1 down: SIZE[:WAYS|full[:POLICY]] (repeat; default 32KiB:8:lru and 1MiB:16:lru).
        #[arg(long = "level", value_parser = memtrace_analyzers::energy::parse_level)]
        levels: Vec<memtrace_analyzers::energy::LevelConfig>,
        #[arg(long, default_value_t = 64)]
        line: u64,
        /// Picojoules per 64-bit word at each level then DRAM, comma separated (default: Horowitz, ISSCC 2014).
        #[arg(long, value_delimiter = ',')]
        pj_per_word: Vec<f64>,
        /// Samples per step (default: the trace's `batch` metadata, else 1).
        #[arg(long)]
        batch: Option<u64>,
        #[arg(long)]
        json: bool,
        #[arg(required = true)]
        traces: Vec<PathBuf>,
    },
    /// Check a trace completely (structure, event count, CRC-32); exit 0 if it is sound.
    Verify {
        #[arg(required = true)]
        traces: Vec<PathBuf>,
    },
    /// Print every event, buffer names resolved: CSV (importable) or JSON Lines.
    Export {
        #[arg(long, conflicts_with = "jsonl")]
        csv: bool,
        #[arg(long)]
        jsonl: bool,
        /// Output file, or - for standard output.
        #[arg(short, long, default_value = "-")]
        output: PathBuf,
        trace: PathBuf,
    },
    /// Where two traces first differ (event, step, buffer); exit 0 identical, 1 different, 2 trouble.
    Diff {
        #[arg(long)]
        json: bool,
        a: PathBuf,
        b: PathBuf,
    },
    /// Turn an `op,buffer,size[,offset][,step]` CSV into a trace.
    Import {
        csv: PathBuf,
        /// Output trace; zstd-compressed when it ends in .zst.
        #[arg(short, long)]
        output: PathBuf,
    },
}

/// `--assoc`: ways per set, `None` for fully associative.
#[derive(Clone, Copy, Debug)]
struct Ways(Option<u64>);

fn parse_ways(s: &str) -> Result<Ways, String> {
    memtrace_analyzers::linecache::parse_assoc(s).map(Ways)
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Granularity {
    Object,
    Line,
}

fn parse_sizes(s: &str) -> Result<Vec<u64>, String> {
    units::parse_sizes(s)
}

/// `--line`: a power of two of at least `least` bytes.
fn check_line(line: u64, least: u64) -> Result<(), Failure> {
    if line >= least.max(1) && line.is_power_of_two() {
        return Ok(());
    }
    let floor = if least > 1 { format!(" of at least {least} bytes") } else { String::new() };
    Err(Failure(format!("--line {line}: a line size is a power of two{floor}")))
}

/// An error already carrying the file it concerns.
struct Failure(String);

fn fail(path: &Path, e: impl std::fmt::Display) -> Failure {
    Failure(format!("{}: {e}", shown(path)))
}

fn open(path: &Path) -> Result<TraceReader, Failure> {
    TraceReader::open(source(path)?).map_err(|e| fail(path, e))
}

/// `-` on the command line: standard input.
fn is_std(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// How messages name `path`.
fn shown(path: &Path) -> String {
    if is_std(path) {
        "standard input".into()
    } else {
        path.display().to_string()
    }
}

/// Standard input, copied once. Analyses may read a trace more than once
/// (a pass per cache configuration, the header first) and a pipe can be
/// read only once, so the first use of `-` copies standard input to a
/// temporary file that every use opens; `main` deletes it on the way out.
static STDIN_COPY: std::sync::OnceLock<Result<tempfile::NamedTempFile, String>> = std::sync::OnceLock::new();

/// The file to read for `path`: itself, or the copy of standard input.
fn source(path: &Path) -> Result<PathBuf, Failure> {
    if !is_std(path) {
        return Ok(path.to_path_buf());
    }
    let copy = STDIN_COPY.get_or_init(|| {
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            return Err("is a terminal; pipe a trace into it (record -o - | analyze ard -)".into());
        }
        let mut file = tempfile::Builder::new().prefix(".memtrace-stdin.").tempfile().map_err(|e| e.to_string())?;
        // Ctrl-C would skip the removal in `main`: the handler removes it.
        let copy = file.path().to_path_buf();
        let _ = ctrlc::set_handler(move || {
            let _ = std::fs::remove_file(&copy);
            std::process::exit(130);
        });
        std::io::copy(&mut stdin.lock(), &mut file).map_err(|e| e.to_string())?;
        Ok(file)
    });
    copy.as_ref().map(|f| f.path().to_path_buf()).map_err(|e| fail(path, e))
}

/// A progress bar on standard error for reads that take more than a second,
/// only when standard error is a terminal.
struct Progress {
    started: Instant,
    bar: Option<indicatif::ProgressBar>,
    enabled: bool,
    label: String,
}

impl Progress {
    fn new(path: &Path) -> Progress {
        Progress { started: Instant::now(), bar: None, enabled: std::io::stderr().is_terminal(), label: label(path) }
    }

    fn update(&mut self, done: u64, total: Option<u64>) {
        if !self.enabled {
            return;
        }
        if self.bar.is_none() && self.started.elapsed().as_secs_f64() > 1.0 {
            let bar = indicatif::ProgressBar::new(total.unwrap_or(0));
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            ) {
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

/// Replays `path` through an analyzer, with a progress bar on long reads.
fn analyze<A: Analyzer>(path: &Path, make: impl FnOnce(&Header) -> A) -> Result<A::Report, Failure> {
    let mut progress = Progress::new(path);
    let (report, _, _) =
        replay_with_progress(open(path)?, make, &mut |d, t| progress.update(d, t)).map_err(|e| fail(path, e))?;
    Ok(report)
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
                reader.compute_content_hash();
                let header: Header = reader.header().clone();
                let mut info = Info::new(&header);
                let mut progress = Progress::new(path);
                while let Some(batch) = reader.next_batch().map_err(|e| fail(path, e))? {
                    batch.iter().for_each(|e| info.event(e));
                    let (d, t) = reader.progress();
                    progress.update(d, t);
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
                reports.push(Named { trace: label(path), report: analyze(path, Ard::new)? });
            }
            if json {
                print_json(&render::json_per_trace(&reports))
            } else {
                emit(&render::ard_text(&reports))
            }
        }
        Command::Hist { json, weight, stack, line, traces } => {
            if stack {
                check_line(line, 1)?;
            }
            let mut reports = Vec::new();
            for path in &traces {
                let make = |h: &Header| {
                    let hist = Hist::new(h, weight);
                    if stack {
                        hist.with_stack(h, line)
                    } else {
                        hist
                    }
                };
                reports.push(Named { trace: label(path), report: analyze(path, make)? });
            }
            if json {
                print_json(&render::json_per_trace(&reports))
            } else {
                emit(&render::hist_text(&reports))
            }
        }
        Command::Cache { size, granularity: Granularity::Line, line, assoc, policy, json, traces } => {
            check_line(line, 1)?;
            let sizes: Vec<u64> = size.into_iter().flatten().collect();
            let configs: Vec<LineConfig> = sizes
                .iter()
                .flat_map(|&s| {
                    policy.iter().map(move |&p| LineConfig { policy: p, size_bytes: s, line, assoc: assoc.0 })
                })
                .collect();
            let mut runs = Vec::new();
            for path in &traces {
                let requests = if policy.contains(&PolicyKind::Opt) {
                    Some(analyze(path, |h| RequestCollector::new(h, line))?)
                } else {
                    None
                };
                // Each configuration replays the trace on its own core.
                let results: Result<Vec<_>, Failure> = configs
                    .par_iter()
                    .map(|cfg| {
                        let (r, _, _) = memtrace_analyzers::replay(open(path)?, |h| {
                            LineCacheSim::new(h, *cfg, requests.as_deref())
                        })
                        .map_err(|e| fail(path, e))?;
                        Ok(r)
                    })
                    .collect();
                runs.push(LineRun { trace: label(path), results: results? });
            }
            if json {
                print_json(&render::line_cache_json(&runs))
            } else {
                emit(&render::line_cache_text(&runs))
            }
        }
        Command::Cache { size, json, traces, policy, .. } => {
            if policy.iter().any(|p| *p != PolicyKind::Lru) {
                return Err(Failure(
                    "the object cache is the seeds' LRU; other policies need --granularity line".into(),
                ));
            }
            let sizes: Vec<u64> = size.into_iter().flatten().collect();
            let mut runs = Vec::new();
            for path in &traces {
                runs.push(CacheRun { trace: label(path), results: analyze(path, |h| ObjectCaches::new(h, &sizes))? });
            }
            if json {
                print_json(&render::cache_json(&runs))
            } else {
                emit(&render::cache_text(&runs))
            }
        }
        Command::Verify { traces } => {
            for path in &traces {
                let mut reader = open(path)?;
                reader.compute_content_hash();
                let mut progress = Progress::new(path);
                while reader.next_batch().map_err(|e| fail(path, e))?.is_some() {
                    let (d, t) = reader.progress();
                    progress.update(d, t);
                }
                let s = reader.summary().ok_or_else(|| fail(path, "the trace ended early"))?;
                emit(&format!(
                    "{}: ok, format v{}, {} events, crc32 {:08x}, {}\n",
                    path.display(),
                    memtrace::FORMAT_VERSION,
                    s.events,
                    s.crc32,
                    s.content_hash().unwrap_or_default()
                ))?;
            }
            Ok(())
        }
        Command::Export { csv: _, jsonl, output, trace } => {
            let mut format: Box<dyn EventFormat> = if jsonl { Box::new(JsonLines) } else { Box::new(Csv) };
            let mut reader = open(&trace)?;
            let header = reader.header().clone();
            let to_stdout = output.as_os_str() == "-";
            let mut sink: Box<dyn Write> = if to_stdout {
                Box::new(std::io::BufWriter::new(std::io::stdout().lock()))
            } else {
                Box::new(std::io::BufWriter::new(std::fs::File::create(&output).map_err(|e| fail(&output, e))?))
            };
            let write_err = |e: std::io::Error| -> Failure {
                if to_stdout {
                    Failure(format!("cannot write output: {e}"))
                } else {
                    fail(&output, e)
                }
            };
            let result = (|| -> Result<(), Failure> {
                format.begin(&mut sink).map_err(write_err)?;
                while let Some(batch) = reader.next_batch().map_err(|e| fail(&trace, e))? {
                    for e in batch {
                        format.event(&mut sink, &header, e).map_err(write_err)?;
                    }
                }
                sink.flush().map_err(write_err)
            })();
            match result {
                Err(Failure(m)) if to_stdout && m.contains("Broken pipe") => Ok(()),
                other => other,
            }
        }
        Command::Mrc { size, line, sample, json, csv, plot, traces } => {
            check_line(line, 1)?;
            if !(sample > 0.0 && sample <= 1.0) {
                return Err(Failure(format!("--sample {sample}: a fraction of lines, 0 < R <= 1")));
            }
            let sizes: Vec<u64> = size.into_iter().flatten().collect();
            let mut curves = Vec::new();
            for path in &traces {
                let curve = analyze(path, |h| memtrace_analyzers::mrc::Mrc::new(h, line, sample))?;
                curves.push((label(path), curve));
            }
            if let Some(svg) = &plot {
                render::mrc_plot(svg, &curves).map_err(|e| fail(svg, e))?;
            }
            let points: Vec<(String, Vec<memtrace_analyzers::mrc::Point>)> = curves
                .iter()
                .map(|(t, c)| {
                    (t.clone(), if sizes.is_empty() { c.steps() } else { sizes.iter().map(|&s| c.point(s)).collect() })
                })
                .collect();
            if json {
                print_json(&render::mrc_json(&points))
            } else if csv {
                emit(&render::mrc_csv(&points))
            } else {
                emit(&render::mrc_text(&points))
            }
        }
        Command::Energy { levels, line, pj_per_word, batch, json, traces } => {
            use memtrace_analyzers::energy::{parse_level, Hierarchy, PJ_PER_WORD_DRAM};
            check_line(line, 8)?;
            let mut levels = if levels.is_empty() {
                vec![parse_level("32KiB:8:lru").map_err(Failure)?, parse_level("1MiB:16:lru").map_err(Failure)?]
            } else {
                levels
            };
            let mut dram = PJ_PER_WORD_DRAM;
            if !pj_per_word.is_empty() {
                if pj_per_word.len() != levels.len() + 1 || pj_per_word.iter().any(|e| !(e.is_finite() && *e >= 0.0)) {
                    return Err(Failure(format!(
                        "--pj-per-word takes {} non-negative numbers: one per level, then DRAM",
                        levels.len() + 1
                    )));
                }
                for (l, &e) in levels.iter_mut().zip(&pj_per_word) {
                    l.pj_per_word = e;
                }
                dram = pj_per_word[levels.len()];
            }
            if let Some(l) = levels.iter().find(|l| l.size_bytes < line) {
                return Err(Failure(format!("--level {}: smaller than one {line}-byte line", l.size_bytes)));
            }
            let mut reports = Vec::new();
            for path in &traces {
                let samples = match batch {
                    Some(b) => b,
                    None => {
                        let r = open(path)?;
                        r.header().metadata("batch").and_then(|v| v.parse().ok()).unwrap_or(1)
                    }
                };
                let report = analyze(path, |h| Hierarchy::new(h, &levels, line, dram, samples))?;
                reports.push(Named { trace: label(path), report });
            }
            if json {
                print_json(&render::json_per_trace(&reports))
            } else {
                emit(&render::energy_text(&reports))
            }
        }
        Command::Diff { .. } => unreachable!("handled in main"),
        Command::Import { csv, output } => {
            let mut header = Header::new("memtrace-import", env!("CARGO_PKG_VERSION"));
            header.set_metadata("source", csv.display().to_string());
            let input = source(&csv)?;
            let to_stdout = output.as_os_str() == "-";
            if to_stdout && std::io::stdout().is_terminal() {
                return Err(Failure(
                    "-o -: standard output is a terminal; pipe the trace (analyze import log.csv -o - | analyze ard -) \
                     or give a file name"
                        .into(),
                ));
            }
            let imported = if to_stdout {
                memtrace::import::import_csv_to_stream(&input, std::io::stdout(), header)
            } else {
                memtrace::import::import_csv(&input, &output, header)
            };
            let s = imported.map_err(|e| {
                // CSV errors are about the input; writer errors about the output.
                match e.line() {
                    Some(_) => fail(&csv, e),
                    None if matches!(e.kind(), memtrace::ErrorKind::Io(_)) => fail(&csv, e),
                    None => fail(&output, e),
                }
            })?;
            let written = if to_stdout { "standard output".to_string() } else { output.display().to_string() };
            eprintln!("{written}: {} events, {} bytes ({} raw)", s.events, s.file_bytes, s.raw_bytes);
            Ok(())
        }
    }
}

/// `analyze diff`: exit 0 identical, 1 different, 2 trouble (as `cmp` does).
fn run_diff(json: bool, a: &Path, b: &Path) -> ExitCode {
    let report = open(a).and_then(|ra| Ok((ra, open(b)?))).and_then(|(ra, rb)| {
        memtrace_analyzers::diff::diff(ra, rb).map_err(|(which, e)| fail(if which == 0 { a } else { b }, e))
    });
    let report = match report {
        Ok(r) => r,
        Err(Failure(msg)) => {
            eprintln!("analyze: {msg}");
            return ExitCode::from(2);
        }
    };
    let text = if json {
        let mut v = serde_json::to_value(&report).unwrap_or_default();
        v["a"] = serde_json::Value::String(label(a));
        v["b"] = serde_json::Value::String(label(b));
        format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
    } else if report.identical {
        format!("identical: {} events, same accesses and buffers\n", report.events_compared)
    } else {
        let mut t = String::new();
        if let Some(d) = &report.first_difference {
            let show = |e: &Option<memtrace_analyzers::diff::NamedEvent>| {
                e.as_ref().map_or("(no more events)".to_string(), |e| e.to_string())
            };
            t += &format!(
                "first difference at event {} (step {}), after {} identical events:\n  {}: {}\n  {}: {}\n",
                d.event,
                d.step,
                report.events_compared,
                a.display(),
                show(&d.a),
                b.display(),
                show(&d.b)
            );
        }
        for bd in &report.buffer_differences {
            t += &format!("buffer defined differently: {bd}\n");
        }
        t
    };
    if emit(&text).is_err() {
        return ExitCode::from(2);
    }
    ExitCode::from(if report.identical { 0 } else { 1 })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = if let Command::Diff { json, a, b } = &cli.command {
        run_diff(*json, a, b)
    } else {
        match run(cli) {
            Ok(()) => ExitCode::SUCCESS,
            Err(Failure(msg)) => {
                eprintln!("analyze: {msg}");
                ExitCode::FAILURE
            }
        }
    };
    // Statics are never dropped: the copy of standard input goes here.
    if let Some(Ok(copy)) = STDIN_COPY.get() {
        let _ = std::fs::remove_file(copy.path());
    }
    code
}
