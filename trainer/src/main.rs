//! `record`: train sparse parity with any seed variant; report the training
//! run, or record its memory accesses to a trace.
//!
//! Without `-o`: train and report per-epoch accuracy and loss.
//! With `-o` and `--epochs`: trace the whole training run.
//! With `-o` alone: optionally train untraced (`--warmup-*`), then trace a
//! window of `--steps` steps starting at `--start` or `--first-active`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use clap::{ArgGroup, CommandFactory, FromArgMatches, Parser};
use memtrace::output::Output;
use memtrace::Header;
use memtrace_trainer::record::TraceRecorder;
use memtrace_trainer::run::{RunConfig, Trainer};
use memtrace_trainer::task::{RngKind, Shape};
use memtrace_trainer::train::{predict, Tracer, Variant};
use serde_json::json;

#[derive(Parser, Debug)]
#[command(
    name = "record",
    version,
    allow_negative_numbers = true,
    about = "Train sparse parity with any seed variant; record its memory accesses"
)]
#[command(group(ArgGroup::new("warmup").args(["warmup_acc", "warmup_epochs"])))]
#[command(group(ArgGroup::new("window").args(["start", "first_active"])))]
struct Cli {
    #[arg(long, value_enum, default_value = "standard")]
    variant: Variant,
    /// Samples per step (1: single-sample SGD).
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Hidden rows per W1 tile (tiles larger than --hidden are one tile).
    #[arg(long)]
    tiles: Option<usize>,
    /// Random stream of data and weights: python (seeds 000-003) or numpy (seed 004).
    #[arg(long, value_enum, default_value = "python")]
    rng: RngKind,
    /// Visit each epoch in the order of a shuffle from one RandomState(0), as seed 004.
    #[arg(long)]
    shuffle: bool,
    #[arg(long, default_value_t = 20)]
    n_bits: usize,
    #[arg(long, default_value_t = 3)]
    k: usize,
    #[arg(long, default_value_t = 1000)]
    hidden: usize,
    #[arg(long, default_value_t = 500)]
    n_train: usize,
    #[arg(long, default_value_t = 200)]
    n_test: usize,
    #[arg(long, default_value_t = 0.1)]
    lr: f64,
    #[arg(long, default_value_t = 0.01)]
    wd: f64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Train untraced, one epoch at a time, until test accuracy reaches A.
    #[arg(long, value_name = "A")]
    warmup_acc: Option<f64>,
    /// Train untraced for E epochs first.
    #[arg(long, value_name = "E")]
    warmup_epochs: Option<usize>,
    /// First training sample of the traced window.
    #[arg(long, value_name = "I")]
    start: Option<usize>,
    /// Start the window at the first sample (in order) whose margin is < 1.
    #[arg(long)]
    first_active: bool,
    /// Traced steps.
    #[arg(long, value_name = "N", default_value_t = 1)]
    steps: usize,
    /// Each traced step begins by writing the parameters (else once, at the window start).
    #[arg(long)]
    reload_params: bool,
    /// Training epochs at most (with -o: trace the whole training run).
    #[arg(long, value_name = "E")]
    epochs: Option<usize>,
    /// Test accuracy at which training stops.
    #[arg(long, value_name = "A", default_value_t = 1.0)]
    until_acc: f64,
    #[arg(long)]
    json: bool,
    /// Trace file to write (zstd-compressed when it ends in .zst); `-`: a
    /// raw trace to standard output, for a pipe (`record -o - | analyze ard -`).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Replace the output file if it exists (without it, an existing file is refused).
    #[arg(long, requires = "output")]
    force: bool,
    /// The configuration as a canonical command line (see `configuration_command`).
    #[arg(skip)]
    command: String,
}

const DEFAULT_EPOCHS: usize = 200;

/// The machine's memory in bytes (Linux: `MemTotal` of /proc/meminfo);
/// `None` where it cannot be read, and then no run is refused for its size.
fn physical_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

impl Cli {
    fn validate(&self) -> Result<(), String> {
        self.shape().validate()?;
        if self.batch == 0 {
            return Err("--batch must be at least 1".into());
        }

        if self.output.as_deref().is_some_and(|p| p.as_os_str() == "-") {
            if self.json {
                return Err("--json with -o -: the trace already goes to standard output".into());
            }
            if std::io::stdout().is_terminal() {
                return Err("-o -: standard output is a terminal; pipe the trace (record -o - | analyze ard -) \
                            or redirect it to a file"
                    .into());
            }
        }
        // Refuse a run that cannot fit, with the flags to blame, rather than
        // abort in the allocator (or be killed) halfway through.
        let needed = self.shape().bytes_needed(self.batch);
        if let Some(total) = physical_memory() {
            if needed.is_none_or(|b| b > total) {
                let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
                let need = needed.map_or("more than 2^64 bytes".to_string(), |b| format!("about {:.1} GiB", gib(b)));
                return Err(format!(
                    "this run needs {need}, more than this machine's {:.1} GiB of memory; \
                     lower --n-train, --n-test, --hidden, --n-bits or --batch",
                    gib(total)
                ));
            }
        }
        if self.tiles == Some(0) {
            return Err("--tiles must be at least 1".into());
        }
        if self.steps == 0 {
            return Err("--steps must be at least 1".into());
        }
        if self.epochs == Some(0) {
            return Err("--epochs must be at least 1".into());
        }
        if !(self.lr.is_finite() && self.wd.is_finite()) {
            return Err("--lr and --wd must be finite numbers".into());
        }
        for (flag, v) in [("--until-acc", Some(self.until_acc)), ("--warmup-acc", self.warmup_acc)] {
            if let Some(a) = v {
                if !(0.0..=1.0).contains(&a) {
                    return Err(format!("{flag} must be an accuracy from 0 to 1; got {a}"));
                }
            }
        }
        if let Some(s) = self.start {
            if s >= self.n_train {
                return Err(format!("--start {s} is past the training set (--n-train {})", self.n_train));
            }
        }
        if self.rng == RngKind::Numpy && self.seed >= u32::MAX as u64 {
            return Err("--rng numpy takes a seed below 2^32 - 1".into());
        }
        Ok(())
    }

    fn shape(&self) -> Shape {
        Shape { n_bits: self.n_bits, k: self.k, hidden: self.hidden, n_train: self.n_train, n_test: self.n_test }
    }

    fn run_config(&self) -> RunConfig {
        RunConfig {
            shape: self.shape(),
            lr: self.lr,
            wd: self.wd,
            seed: self.seed,
            rng: self.rng,
            variant: self.variant,
            batch: self.batch,
            tiles: self.tiles,
            shuffle: self.shuffle,
        }
    }
}

/// A progress bar that appears only on a terminal and only after a second.
struct Progress {
    started: Instant,
    bar: Option<indicatif::ProgressBar>,
    total: u64,
    enabled: bool,
}

impl Progress {
    fn new(total: u64) -> Progress {
        Progress { started: Instant::now(), bar: None, total, enabled: std::io::stderr().is_terminal() }
    }

    fn set(&mut self, done: u64, msg: &str) {
        if !self.enabled {
            return;
        }
        if self.bar.is_none() && self.started.elapsed().as_secs_f64() > 1.0 {
            let bar = indicatif::ProgressBar::new(self.total);
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len} epochs {msg}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            bar.set_message(msg.to_string());
        }
    }

    fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A tracer that also hears Ctrl-C (and SIGTERM, SIGHUP): epochs stop
/// after the current step.
struct Stoppable<'a, T> {
    inner: &'a mut T,
    stop: &'a AtomicBool,
}

impl<T: Tracer> Tracer for Stoppable<'_, T> {
    #[inline(always)]
    fn access(
        &mut self,
        buf: memtrace_trainer::train::Buf,
        sample: usize,
        op: memtrace::Op,
        offset: usize,
        len: usize,
    ) {
        self.inner.access(buf, sample, op, offset, len)
    }
    fn end_step(&mut self) {
        self.inner.end_step()
    }
    fn interrupted(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

fn interrupted(flag: &AtomicBool) -> Result<(), String> {
    if flag.load(Ordering::Relaxed) {
        Err("interrupted; no trace was written".into())
    } else {
        Ok(())
    }
}

fn history_json(t: &Trainer, solved: Option<usize>, wall_s: f64) -> serde_json::Value {
    json!({
        "epochs": t.history.test_accs.len(),
        "solved_epoch": solved,
        "train_accs": t.history.train_accs,
        "test_accs": t.history.test_accs,
        "train_losses": t.history.train_losses,
        "test_losses": t.history.test_losses,
        "wall_s": wall_s,
    })
}

/// A loss for the table: six decimals while that is readable, scientific
/// notation past it (a diverging run's losses reach 1e100 and more).
fn loss_cell(v: f64) -> String {
    if v.is_finite() && (v == 0.0 || (1e-4..1e6).contains(&v.abs())) {
        format!("{v:.6}")
    } else {
        format!("{v:.4e}")
    }
}

fn history_text(t: &Trainer, solved: Option<usize>, until: f64, wall_s: f64) -> String {
    let h = &t.history;
    let mut out = String::from("epoch  train acc  test acc  train loss  test loss\n");
    for e in 0..h.test_accs.len() {
        out.push_str(&format!(
            "{:>5}  {:>9.3}  {:>8.3}  {:>10}  {:>9}\n",
            e + 1,
            h.train_accs[e],
            h.test_accs[e],
            loss_cell(h.train_losses[e]),
            loss_cell(h.test_losses[e])
        ));
    }
    match solved {
        Some(e) => out.push_str(&format!("test accuracy reached {until} at epoch {e} ({wall_s:.3} s)\n")),
        None => out.push_str(&format!(
            "test accuracy did not reach {until} in {} epochs ({wall_s:.3} s)\n",
            h.test_accs.len()
        )),
    }
    out
}

/// Trains `max` epochs at most until test accuracy reaches `until`, with
/// `tracer` seeing every step; returns the 1-based solving epoch.
fn train_epochs<T: Tracer>(
    t: &mut Trainer,
    max: usize,
    until: f64,
    tracer: &mut T,
    stop: &AtomicBool,
    what: &str,
) -> Result<Option<usize>, String> {
    let mut progress = Progress::new(max as u64);
    let mut tracer = Stoppable { inner: tracer, stop };
    for e in 1..=max {
        t.epoch(&mut tracer);
        interrupted(stop)?;
        let acc = t.record_epoch();
        progress.set(e as u64, &format!("{what} test acc {acc:.3}"));
        if acc >= until {
            progress.finish();
            return Ok(Some(e));
        }
    }
    progress.finish();
    Ok(None)
}

/// The flags given on the command line that configure the trace, in the
/// order `--help` lists them and spelled `--name value`: the same
/// experiment gives the same `command` metadata (and the same bytes)
/// whatever the output name, the order or spelling of the flags, the
/// directory, or the path `record` was called by. The output, `--force`
/// and `--json` say where and how to report, not what is traced.
fn configuration_command(matches: &clap::ArgMatches) -> String {
    let mut words = vec!["record".to_string()];
    for arg in Cli::command().get_arguments() {
        let id = arg.get_id().as_str();
        if matches!(id, "output" | "force" | "json")
            || matches.value_source(id) != Some(clap::parser::ValueSource::CommandLine)
        {
            continue;
        }
        words.push(format!("--{}", arg.get_long().unwrap_or(id)));
        if arg.get_action().takes_values() {
            for v in matches.get_raw(id).into_iter().flatten() {
                words.push(v.to_string_lossy().into_owned());
            }
        }
    }
    words.join(" ")
}

fn metadata(cli: &Cli, header: &mut Header) {
    header.set_metadata("command", cli.command.clone());
    header.set_metadata("variant", cli.variant.name());
    for (k, v) in [
        ("batch", cli.batch.to_string()),
        ("tiles", cli.tiles.map_or("none".into(), |t| t.to_string())),
        ("rng", format!("{:?}", cli.rng).to_lowercase()),
        ("shuffle", cli.shuffle.to_string()),
        ("n_bits", cli.n_bits.to_string()),
        ("k", cli.k.to_string()),
        ("hidden", cli.hidden.to_string()),
        ("n_train", cli.n_train.to_string()),
        ("n_test", cli.n_test.to_string()),
        ("lr", cli.lr.to_string()),
        ("wd", cli.wd.to_string()),
        ("seed", cli.seed.to_string()),
    ] {
        header.set_metadata(k, v);
    }
}

fn run(cli: Cli, stop: &AtomicBool) -> Result<(), String> {
    cli.validate()?;
    // Decided before any work: a run never ends by refusing to write.
    let target = match &cli.output {
        Some(p) => Some(memtrace::output::resolve(p, cli.force, &[]).map_err(|e| format!("{}: {e}", p.display()))?),
        None => None,
    };
    if cli.batch > cli.n_train {
        eprintln!(
            "record: warning: --batch {} is larger than the training set (--n-train {}): \
             every batch is the whole training set, {} samples",
            cli.batch, cli.n_train, cli.n_train
        );
    }
    let started = Instant::now();
    let mut trainer = Trainer::new(cli.run_config());
    let Some(path) = cli.output.clone() else {
        let max = cli.epochs.unwrap_or(DEFAULT_EPOCHS);
        let solved = train_epochs(&mut trainer, max, cli.until_acc, &mut memtrace_trainer::train::NoTrace, stop, "")?;
        let wall = started.elapsed().as_secs_f64();
        let out = if cli.json {
            format!("{}\n", history_json(&trainer, solved, wall))
        } else {
            history_text(&trainer, solved, cli.until_acc, wall)
        };
        print!("{out}");
        return Ok(());
    };

    // Untraced warmup.
    let mut warmup_epochs = 0;
    if let Some(e) = cli.warmup_epochs {
        for _ in 0..e {
            trainer.epoch(&mut Stoppable { inner: &mut memtrace_trainer::train::NoTrace, stop });
            interrupted(stop)?;
            trainer.record_epoch();
        }
        warmup_epochs = e;
    } else if let Some(acc) = cli.warmup_acc {
        let max = cli.epochs.unwrap_or(DEFAULT_EPOCHS);
        match train_epochs(&mut trainer, max, acc, &mut memtrace_trainer::train::NoTrace, stop, "warmup")? {
            Some(e) => warmup_epochs = e,
            None => return Err(format!("warmup did not reach test accuracy {acc} in {max} epochs")),
        }
    }
    let warmup_acc = trainer.history.test_accs.last().copied();

    let mut header = Header::new("memtrace-record", env!("CARGO_PKG_VERSION"));
    metadata(&cli, &mut header);
    header.set_metadata("warmup_epochs", warmup_epochs.to_string());
    let n = cli.n_bits;
    let n_train = cli.n_train;
    let start = if cli.first_active {
        (0..n_train)
            .find(|&s| {
                predict(trainer.params(), &trainer.data().x_train[s * n..(s + 1) * n], n) * trainer.data().y_train[s]
                    < 1.0
            })
            .ok_or("--first-active: every training sample already has margin >= 1")?
    } else {
        cli.start.unwrap_or(0)
    };
    let whole_run = cli.epochs.is_some() && cli.warmup_acc.is_none();
    if whole_run {
        header.set_metadata("traced", "training run");
    } else {
        header.set_metadata("traced", format!("{} steps from sample {start}", cli.steps));
        header.set_metadata("start", start.to_string());
        header.set_metadata("steps", cli.steps.to_string());
        header.set_metadata("reload_params", cli.reload_params.to_string());
    }
    let to_stdout = path.as_os_str() == "-";
    let shown = if to_stdout { "standard output".to_string() } else { path.display().to_string() };
    let recorder = match target {
        Some(Output::Stdout) | None => TraceRecorder::to_stream(std::io::stdout(), header, n, cli.hidden, cli.batch),
        // A device or FIFO is written in place, raw: `-o /dev/null` discards.
        Some(Output::Device(file)) => TraceRecorder::to_stream(file, header, n, cli.hidden, cli.batch),
        Some(Output::File(path)) => {
            if let Some(warning) = memtrace::WriteOptions::name_mismatch(&path) {
                eprintln!("record: warning: {warning}");
            }
            TraceRecorder::create(&path, header, n, cli.hidden, cli.batch)
        }
    }
    .map_err(|e| format!("{shown}: {e}"))?;
    let mut tracer = recorder;
    let mut solved = None;
    if whole_run {
        trainer.stepper.write_params(&mut tracer);
        solved =
            train_epochs(&mut trainer, cli.epochs.unwrap_or(DEFAULT_EPOCHS), cli.until_acc, &mut tracer, stop, "")?;
    } else {
        // As in training (and the reference's slicing), a batch never holds
        // a sample twice: at most the whole training set.
        let per_step = cli.batch.clamp(1, n_train);
        for k in 0..cli.steps {
            if k == 0 || cli.reload_params {
                trainer.stepper.write_params(&mut tracer);
            }
            let samples: Vec<usize> = (0..per_step).map(|i| (start + k * per_step + i) % n_train).collect();
            trainer.step(&samples, &mut tracer);
            interrupted(stop)?;
        }
    }
    let backward = tracer.backward();
    let summary = tracer.finish().map_err(|e| format!("{shown}: {e}"))?;
    let wall = started.elapsed().as_secs_f64();
    if cli.json {
        let mut v = json!({
            "trace": path.display().to_string(),
            "events": summary.events,
            "file_bytes": summary.file_bytes,
            "raw_bytes": summary.raw_bytes,
            "warmup_epochs": warmup_epochs,
            "warmup_test_acc": warmup_acc,
            "wall_s": wall,
        });
        if whole_run {
            v["solved_epoch"] = json!(solved);
            v["epochs"] = json!(trainer.history.test_accs.len());
        } else {
            v["start"] = json!(start);
            v["steps"] = json!(cli.steps);
        }
        println!("{v}");
    } else {
        eprintln!(
            "{shown}: {} events, {} bytes {} ({} raw){}",
            summary.events,
            summary.file_bytes,
            if to_stdout { "written" } else { "on disk" },
            summary.raw_bytes,
            if whole_run { String::new() } else { format!("; window starts at sample {start}") }
        );
        if !backward {
            eprintln!(
                "{shown}: no sample in the window has margin < 1: forward passes only (--first-active starts at the first that has)"
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    cli.command = configuration_command(&matches);
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // Without the handler Ctrl-C still leaves no file under the output
        // name (only a hidden .partial file); with it, that file goes too.
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed));
    }
    match run(cli, &stop) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("record: {msg}");
            ExitCode::from(if stop.load(Ordering::Relaxed) { 130 } else { 1 })
        }
    }
}
