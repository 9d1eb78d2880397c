//! `analyze`: the command line over the analyzer library. It parses
//! arguments and dispatches: each analysis is one small function over one
//! generic path (open each trace, replay, collect the reports, print text
//! or JSON). Every error is one line naming the file and the position,
//! with a non-zero exit.

mod args;
mod input;
mod tools;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand, ValueEnum};
use memtrace::output::Output;
use memtrace::TraceReader;
use memtrace_analyzers::ard::Ard;
use memtrace_analyzers::cache::ObjectCaches;
use memtrace_analyzers::dmd::{self, Clock, DmdConfig, DmdReport};
use memtrace_analyzers::energy::{Hierarchy, LevelConfig, PJ_PER_WORD_DRAM};
use memtrace_analyzers::hist::{Hist, Weight};
use memtrace_analyzers::info::Info;
use memtrace_analyzers::linecache::{
    Counted, Future, FutureBuilder, LineCacheSim, LineConfig, LineRequestCount, PolicyKind, IN_MEMORY_REQUESTS,
    SPOOL_BYTES_PER_REQUEST,
};
use memtrace_analyzers::mrc::{self, Mrc, MrcReport};
use memtrace_analyzers::{replay_all, replay_with_progress, Analyzer, Named, Report};

use args::{check_cache, check_line, parse_level, parse_policy, parse_sizes, parse_ways, parse_weight, Ways};
use input::{fail, Input, Progress};

#[derive(Parser)]
#[command(
    name = "analyze",
    version,
    about = "Replay memtrace traces offline: reuse distance, histograms, caches, geometric-stack costs"
)]
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
    #[command(allow_negative_numbers = true)]
    Ard {
        #[arg(long)]
        json: bool,
        #[arg(required = true)]
        traces: Vec<PathBuf>,
    },
    /// Per-buffer reuse-distance histograms (count, p50, p90, p99, max, bars).
    #[command(allow_negative_numbers = true)]
    Hist {
        #[arg(long)]
        json: bool,
        /// One value per read (its mean distance) or one per float read: reads or floats.
        #[arg(long, default_value = "reads", value_parser = parse_weight)]
        weight: Weight,
        /// Also LRU stack distances (distinct lines between reuses) at line granularity.
        #[arg(long)]
        stack: bool,
        /// Line size in bytes for --stack [default: 64].
        #[arg(long, requires = "stack")]
        line: Option<u64>,
        /// Refuse a trace that implies more line requests than this (a guard against days of replay).
        #[arg(long, value_name = "N", default_value_t = input::MAX_LINE_REQUESTS)]
        max_line_requests: u64,
        #[arg(required = true)]
        traces: Vec<PathBuf>,
    },
    /// Cache simulation: the seeds' object LRU cache (default), or caches of lines like hardware.
    #[command(allow_negative_numbers = true)]
    Cache {
        /// Cache sizes, comma separated: 32KiB,256KiB (a bare number is bytes; K, M, G are powers of 1024).
        #[arg(long, required = true, value_parser = parse_sizes, action = ArgAction::Append)]
        size: Vec<Vec<u64>>,
        /// object: the seeds' model (whole accessed ranges); line: cache lines like hardware [default: object].
        #[arg(long, value_enum)]
        granularity: Option<Granularity>,
        /// Line size in bytes (needs --granularity line) [default: 64].
        #[arg(long, requires = "granularity")]
        line: Option<u64>,
        /// Ways per set, or full (needs --granularity line) [default: full].
        #[arg(long, value_parser = parse_ways, requires = "granularity")]
        assoc: Option<Ways>,
        /// Replacement policies, comma separated (needs --granularity line): lru, fifo, clock, sieve, lfu, arc, s3fifo, random, opt.
        #[arg(long, value_parser = parse_policy, value_delimiter = ',', requires = "granularity")]
        policy: Vec<PolicyKind>,
        #[arg(long)]
        json: bool,
        /// Refuse a trace that implies more line requests than this (a guard against days of replay).
        #[arg(long, value_name = "N", default_value_t = input::MAX_LINE_REQUESTS)]
        max_line_requests: u64,
        #[arg(required = true)]
        traces: Vec<PathBuf>,
    },
    /// Exact LRU miss-ratio curve for every cache size, in one pass (line granularity).
    #[command(allow_negative_numbers = true)]
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
        /// Replace the plot file if it exists.
        #[arg(long, requires = "plot")]
        force: bool,
        /// Refuse a trace that implies more line requests than this (a guard against days of replay).
        #[arg(long, value_name = "N", default_value_t = input::MAX_LINE_REQUESTS)]
        max_line_requests: u64,
        #[arg(required = true)]
        traces: Vec<PathBuf>,
    },
    /// Energy of the data movement in an inclusive cache hierarchy: per step, per sample, by role.
    #[command(allow_negative_numbers = true)]
    Energy {
        /// A cache level, from L1 down: SIZE[:WAYS|full[:POLICY]] (repeat; default 32KiB:8:lru and 1MiB:16:lru).
        #[arg(long = "level", value_parser = parse_level)]
        levels: Vec<LevelConfig>,
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
        /// Refuse a trace that implies more line requests than this (a guard against days of replay).
        #[arg(long, value_name = "N", default_value_t = input::MAX_LINE_REQUESTS)]
        max_line_requests: u64,
        #[arg(required = true)]
        traces: Vec<PathBuf>,
    },
    /// Geometric-stack costs: ByteDMD classic and live, density-ranked space_dmd, address cost.
    #[command(allow_negative_numbers = true)]
    Dmd {
        /// Price every buffer's elements at N bytes (default: each buffer's own element size).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        bytes_per_element: Option<u32>,
        /// The clock of space_dmd: the event index, or the events' step field.
        #[arg(long, value_enum, default_value = "events")]
        clock: ClockArg,
        #[arg(long)]
        json: bool,
        /// Also draw, per trace, the cumulative bytedmd_live and the distribution of read depths as SVG.
        #[arg(long, value_name = "FILE.svg")]
        plot: Option<PathBuf>,
        /// Replace the plot file if it exists.
        #[arg(long, requires = "plot")]
        force: bool,
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
        /// Replace the output file if it exists (without it, an existing file is refused).
        #[arg(long)]
        force: bool,
        trace: PathBuf,
    },
    /// Where two traces first differ (event, step, buffer); exit 0 identical, 1 different, 2 trouble.
    Diff {
        #[arg(long)]
        json: bool,
        a: PathBuf,
        b: PathBuf,
    },
    /// Turn an `op,buffer,size[,offset][,step][,role]` CSV into a trace.
    Import {
        csv: PathBuf,
        /// Output trace; zstd-compressed when it ends in .zst.
        #[arg(short, long)]
        output: PathBuf,
        /// Replace the output file if it exists (without it, an existing file is refused).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Granularity {
    Object,
    Line,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ClockArg {
    Events,
    Steps,
}

/// An error already carrying the file it concerns.
pub struct Failure(pub String);

/// Refuses, before any work, a plot the run could not write or should not
/// replace (an existing file without --force, one of the traces).
fn check_plot(plot: Option<&Path>, force: bool, traces: &[PathBuf]) -> Result<(), Failure> {
    let Some(svg) = plot else { return Ok(()) };
    let inputs: Vec<&Path> = traces.iter().map(PathBuf::as_path).collect();
    resolve(svg, force, &inputs).map(drop)
}

/// Where an output goes, decided before any work (`memtrace::output`).
fn resolve(path: &Path, force: bool, inputs: &[&Path]) -> Result<Output, Failure> {
    memtrace::output::resolve(path, force, inputs).map_err(|e| fail(path, e))
}

fn label(path: &Path) -> String {
    path.display().to_string()
}

/// Replays `path` through the analyzer `make` builds, with a progress bar on long reads.
fn replay<A: Analyzer>(
    reader: TraceReader,
    path: &Path,
    make: impl FnOnce(&memtrace::Header) -> A,
) -> Result<A::Output, Failure> {
    let mut progress = Progress::new(path);
    replay_with_progress(reader, make, &mut |_, d, t| progress.update(d, t)).map_err(|e| fail(path, e))
}

/// The line requests `path` implies in lines of `line` bytes (a fast pass
/// over its events), refused above `--max-line-requests`.
fn line_requests(input: &mut Input, path: &Path, line: u64) -> Result<u64, Failure> {
    let total = replay(input.open(path)?, path, |h| LineRequestCount::new(h, line))?;
    let limit = input.max_line_requests;
    if total > u128::from(limit) {
        return Err(fail(
            path,
            format!(
                "implies {} line requests of {line}-byte lines, more than the limit of {} (at about 150 M/s: {}); \
                 if that is meant, raise it with --max-line-requests {}",
                thousands_u128(total),
                memtrace_analyzers::table::thousands(limit),
                duration_at(total, 150e6),
                total.min(u128::from(u64::MAX))
            ),
        ));
    }
    Ok(total as u64)
}

fn thousands_u128(n: u128) -> String {
    match u64::try_from(n) {
        Ok(n) => memtrace_analyzers::table::thousands(n),
        Err(_) => n.to_string(),
    }
}

/// How long `work` units take at `rate` per second, in words.
fn duration_at(work: u128, rate: f64) -> String {
    let s = work as f64 / rate;
    let (v, unit) = match s {
        s if s < 120.0 => (s, "seconds"),
        s if s < 7200.0 => (s / 60.0, "minutes"),
        s if s < 172_800.0 => (s / 3600.0, "hours"),
        s if s < 63_072_000.0 => (s / 86_400.0, "days"),
        s => (s / 31_536_000.0, "years"),
    };
    format!("{} {unit}", if v < 1e6 { format!("{v:.0}") } else { format!("{v:.1e}") })
}

/// Replays `path` through a line analyzer, after checking the line requests
/// it implies; the progress bar follows line requests.
fn replay_lines<A: Analyzer>(
    input: &mut Input,
    path: &Path,
    line: u64,
    make: impl FnOnce(&memtrace::Header) -> A,
) -> Result<A::Output, Failure> {
    let total = line_requests(input, path, line)?;
    let mut progress = Progress::lines(path);
    replay_with_progress(input.open(path)?, |h| Counted::new(make(h), h, line), &mut |a: &Counted<A>, _, _| {
        progress.update(a.done(), Some(total))
    })
    .map_err(|e| fail(path, e))
}

/// The generic path: every trace through `one`, then the reports printed.
fn each<R: Report>(
    input: &mut Input,
    traces: &[PathBuf],
    json: bool,
    mut one: impl FnMut(&mut Input, &Path) -> Result<R, Failure>,
) -> Result<Vec<Named<R>>, Failure> {
    let mut reports = Vec::new();
    for path in traces {
        reports.push(Named { trace: label(path), report: one(input, path)? });
    }
    print(&reports, json)?;
    Ok(reports)
}

fn print<R: Report>(reports: &[Named<R>], json: bool) -> Result<(), Failure> {
    write_out(|out| {
        if json {
            R::write_json(reports, out).map_err(std::io::Error::from)?;
            out.write_all(b"\n")
        } else {
            R::write_text(reports, out)
        }
    })
}

/// Standard output, buffered, for `write`: reports are written as they are
/// formatted, never held whole (a full curve of millions of points).
fn write_out(write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<(), Failure> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    match write(&mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        // A closed pipe (`analyze ... | head`) is not an error worth a message.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure(format!("cannot write output: {e}"))),
    }
}

fn emit(s: &str) -> Result<(), Failure> {
    // Names come from files: no control character but the line ends reaches a terminal.
    write_out(|out| out.write_all(memtrace_analyzers::table::printable_except(s, Some('\n')).as_bytes()))
}

fn run(cli: Cli, input: &mut Input) -> Result<(), Failure> {
    match cli.command {
        Command::Info { json, traces } => info(input, &traces, json),
        Command::Ard { json, traces } => {
            each(input, &traces, json, |input, path| replay(input.open(path)?, path, Ard::new)).map(drop)
        }
        Command::Hist { json, weight, stack, line, max_line_requests, traces } => {
            input.max_line_requests = max_line_requests;
            hist(input, &traces, json, weight, stack, line)
        }
        Command::Cache { size, granularity, line, assoc, policy, json, max_line_requests, traces } => {
            input.max_line_requests = max_line_requests;
            let sizes: Vec<u64> = size.into_iter().flatten().collect();
            if granularity == Some(Granularity::Line) {
                let line = line.unwrap_or(64);
                let policy = if policy.is_empty() { vec![PolicyKind::Lru] } else { policy };
                line_cache(input, &traces, json, &sizes, line, assoc.unwrap_or(Ways(None)), &policy)
            } else if line.is_some() || assoc.is_some() || !policy.is_empty() {
                Err(Failure("--line, --assoc and --policy are for --granularity line; the object cache is the seeds' LRU of whole ranges".into()))
            } else {
                each(input, &traces, json, |input, path| {
                    replay(input.open(path)?, path, |h| ObjectCaches::new(h, &sizes))
                })
                .map(drop)
            }
        }
        Command::Mrc { size, line, sample, json, csv, plot, force, max_line_requests, traces } => {
            input.max_line_requests = max_line_requests;
            check_plot(plot.as_deref(), force, &traces)?;
            mrc(input, &traces, json, csv, plot.as_deref(), &size.concat(), line, sample)
        }
        Command::Energy { levels, line, pj_per_word, batch, json, max_line_requests, traces } => {
            input.max_line_requests = max_line_requests;
            energy(input, &traces, json, levels, line, &pj_per_word, batch)
        }
        Command::Dmd { bytes_per_element, clock, json, plot, force, traces } => {
            check_plot(plot.as_deref(), force, &traces)?;
            let clock = if clock == ClockArg::Steps { Clock::Steps } else { Clock::Events };
            dmd(input, &traces, json, plot.as_deref(), DmdConfig { bytes_per_element, clock })
        }
        Command::Verify { traces } => tools::verify(input, &traces),
        Command::Export { jsonl, output, force, trace, .. } => {
            let target = resolve(&output, force, &[&trace])?;
            tools::export(input, &trace, &output, target, jsonl)
        }
        Command::Import { csv, output, force } => {
            let target = resolve(&output, force, &[&csv])?;
            tools::import(input, &csv, &output, target)
        }
        Command::Diff { .. } => Ok(()), // handled in main: its exit status has three values
    }
}

fn info(input: &mut Input, traces: &[PathBuf], json: bool) -> Result<(), Failure> {
    each(input, traces, json, |input, path| {
        let mut reader = input.open(path)?;
        reader.compute_content_hash();
        replay(reader, path, Info::new)
    })
    .map(drop)
}

fn hist(
    input: &mut Input,
    traces: &[PathBuf],
    json: bool,
    weight: Weight,
    stack: bool,
    line: Option<u64>,
) -> Result<(), Failure> {
    let line = line.unwrap_or(64);
    if stack {
        check_line(line, 1)?;
    }
    each(input, traces, json, |input, path| {
        if stack {
            replay_lines(input, path, line, |h| Hist::new(h, weight).with_stack(h, line))
        } else {
            replay(input.open(path)?, path, |h| Hist::new(h, weight))
        }
    })
    .map(drop)
}

/// Line caches: each configuration replays the trace on its own core.
fn line_cache(
    input: &mut Input,
    traces: &[PathBuf],
    json: bool,
    sizes: &[u64],
    line: u64,
    assoc: Ways,
    policies: &[PolicyKind],
) -> Result<(), Failure> {
    check_line(line, 1)?;
    for &size in sizes {
        check_cache("--size", size, line, assoc.0)?;
    }
    let configs: Vec<LineConfig> = sizes
        .iter()
        .flat_map(|&s| policies.iter().map(move |&p| LineConfig { policy: p, size_bytes: s, line, assoc: assoc.0 }))
        .collect();
    each(input, traces, json, |input, path| {
        let per_pass = line_requests(input, path, line)?;
        let source = input.source(path)?;
        let open = || TraceReader::open(&source).map_err(|e| fail(path, e));
        let future = if policies.contains(&PolicyKind::Opt) {
            if per_pass > IN_MEMORY_REQUESTS {
                eprintln!(
                    "analyze: {}: opt spools the future of {} line requests to a temporary file in {} ({} of disk, \
                     removed when done)",
                    input::shown(path),
                    memtrace_analyzers::table::thousands(per_pass),
                    std::env::temp_dir().display(),
                    memtrace_analyzers::units::format_size(per_pass.saturating_mul(SPOOL_BYTES_PER_REQUEST))
                );
            }
            Some(replay(open()?, path, |h| FutureBuilder::new(h, line, IN_MEMORY_REQUESTS))?)
        } else {
            None
        };
        // One pass for every configuration, on every core; the bar
        // follows the line requests handed out.
        let reader = open()?;
        let mut counted = LineRequestCount::new(reader.header(), line);
        let mut progress = Progress::lines(path);
        replay_all(
            reader,
            configs.len(),
            |i, h| LineCacheSim::new(h, configs[i], future.as_ref()),
            &mut |batch, _, _| {
                for e in batch {
                    Analyzer::event(&mut counted, e);
                }
                progress.update(counted.done(), Some(per_pass));
            },
        )
        .map_err(|e| fail(path, e))
        .and_then(|results| match future.as_ref().map(Future::check) {
            Some(Err(e)) => Err(fail(path, format!("reading opt's temporary file: {e}"))),
            _ => Ok(results),
        })
    })
    .map(drop)
}

#[allow(clippy::too_many_arguments)]
fn mrc(
    input: &mut Input,
    traces: &[PathBuf],
    json: bool,
    csv: bool,
    plot: Option<&Path>,
    sizes: &[u64],
    line: u64,
    sample: f64,
) -> Result<(), Failure> {
    check_line(line, 1)?;
    if !(sample > 0.0 && sample <= 1.0) {
        return Err(Failure(format!("--sample {sample}: a fraction of lines, 0 < R <= 1")));
    }
    let mut curves = Vec::new();
    for path in traces {
        let curve = replay_lines(input, path, line, |h| Mrc::new(h, line, sample))?;
        curves.push(Named { trace: label(path), report: curve });
    }
    if let Some(svg) = plot {
        mrc::plot(svg, &curves).map_err(|e| fail(svg, e))?;
    }
    let points: Vec<Named<MrcReport>> =
        curves.iter().map(|c| Named { trace: c.trace.clone(), report: MrcReport::of(&c.report, sizes) }).collect();
    if csv {
        write_out(|out| MrcReport::write_csv(&points, out))
    } else {
        print(&points, json)
    }
}

fn energy(
    input: &mut Input,
    traces: &[PathBuf],
    json: bool,
    levels: Vec<LevelConfig>,
    line: u64,
    pj_per_word: &[f64],
    batch: Option<u64>,
) -> Result<(), Failure> {
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
        for (l, &e) in levels.iter_mut().zip(pj_per_word) {
            l.pj_per_word = e;
        }
        dram = pj_per_word[levels.len()];
    }
    for l in &levels {
        check_cache("--level", l.size_bytes, line, l.assoc)?;
    }
    each(input, traces, json, |input, path| {
        let reader = input.open(path)?;
        let samples =
            batch.unwrap_or_else(|| reader.header().metadata("batch").and_then(|v| v.parse().ok()).unwrap_or(1));
        let hierarchy = Hierarchy::new(reader.header(), &levels, line, dram, samples).map_err(|e| fail(path, e))?;
        drop(reader);
        replay_lines(input, path, line, |_| hierarchy)
    })
    .map(drop)
}

/// `dmd`: two replays of each trace (the second needs the future the first learns).
fn dmd(
    input: &mut Input,
    traces: &[PathBuf],
    json: bool,
    plot: Option<&Path>,
    config: DmdConfig,
) -> Result<(), Failure> {
    let reports = each(input, traces, json, |input, path| {
        let second = replay(input.open(path)?, path, |h| dmd::Scan::new(h, config))?;
        replay(input.open(path)?, path, |_| second)
    })?;
    if let Some(svg) = plot {
        DmdReport::plot(svg, &reports).map_err(|e| fail(svg, e))?;
    }
    Ok(())
}

/// The width tables must fit: the terminal's when standard output is one,
/// else `$COLUMNS` when set, else none (piped output keeps whole lines).
fn table_width() -> Option<usize> {
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        if let Some((_, columns)) = console::Term::stdout().size_checked() {
            return Some(usize::from(columns));
        }
    }
    std::env::var("COLUMNS").ok()?.trim().parse().ok().filter(|&w: &usize| w >= 20)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Ctrl-C, SIGTERM, SIGHUP: exit skips destructors, so remove what they
    // would (copies of standard input, outputs not yet renamed into place).
    let _ = ctrlc::set_handler(|| {
        memtrace::output::remove_partials();
        std::process::exit(130);
    });
    memtrace_analyzers::table::set_max_width(table_width());
    let mut input = Input::default();
    if let Command::Diff { json, a, b } = &cli.command {
        return tools::diff(&mut input, *json, a, b);
    }
    match run(cli, &mut input) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg)) => {
            eprintln!("analyze: {msg}");
            ExitCode::FAILURE
        }
    }
}
