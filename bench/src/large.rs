//! The `large` section: a whole training run of at least 100 M events
//! (about 12 G line requests), recorded and analyzed by the `record` and
//! `analyze` commands exactly as a user runs them, each timed once, beside
//! the time of merely reading the file (`cat` from the page cache, `zstd
//! -d`). Issue 18's targets are checked here, and printed with each row.
//!
//! `MEMTRACE_BENCH_LARGE_EVENTS` sets another size (for a quick look); the
//! binaries come from the same target directory as this one (`make bench`
//! builds them first).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use memtrace_analyzers::linecache::LineRequestCount;

const DEFAULT_EVENTS: u64 = 100_000_000;
/// Width of the command column.
const W: usize = 74;

/// A command of this target directory (`record`, `analyze`), if built.
fn sibling(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let path = exe.parent()?.join(name);
    path.exists().then_some(path)
}

/// Runs `program args`, its output discarded; the seconds it took, or why it failed.
fn timed(program: &Path, args: &[&str]) -> Result<f64, String> {
    let start = Instant::now();
    let out = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("{}: {e}", program.display()))?;
    let secs = start.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    Ok(secs)
}

/// `record`'s summary line: `PATH: N events, ...`.
fn recorded_events(stderr_and_out: &str) -> Option<u64> {
    let line = stderr_and_out.lines().find(|l| l.contains(" events, "))?;
    let n = line.rsplit(": ").next()?.split(' ').next()?;
    n.parse().ok()
}

fn record(record: &Path, epochs: u64, out: &Path) -> Result<u64, String> {
    let epochs = epochs.to_string();
    let output = Command::new(record)
        .args(["--hidden", "1000", "--lr", "0.001", "--epochs", &epochs, "--force", "-o"])
        .arg(out)
        .output()
        .map_err(|e| e.to_string())?;
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    if !output.status.success() {
        return Err(text.trim().to_string());
    }
    recorded_events(&text).ok_or_else(|| format!("no event count in record's output: {text}"))
}

/// The 64-byte line requests of a trace, counted from its events (the
/// count every line analyzer makes first).
fn line_requests(trace: &Path) -> Option<u64> {
    let reader = memtrace::TraceReader::open(trace).ok()?;
    let total = memtrace_analyzers::replay(reader, |h| LineRequestCount::new(h, 64)).ok()?;
    u64::try_from(total).ok()
}

pub fn large_trace(dir: &Path) {
    let target: u64 =
        std::env::var("MEMTRACE_BENCH_LARGE_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_EVENTS);
    let (Some(record_bin), Some(analyze)) = (sibling("record"), sibling("analyze")) else {
        println!("large trace: skipped, `record` and `analyze` are not built (`cargo build --release --workspace`)\n");
        return;
    };
    // Events per epoch from a short run, then enough epochs for the target.
    let probe = dir.join("probe.zst");
    let per_epoch = match record(&record_bin, 2, &probe) {
        Ok(n) => n.div_ceil(2).max(1),
        Err(e) => {
            println!("large trace: skipped, record failed: {e}\n");
            return;
        }
    };
    // Steps record fewer events as training converges (a sample already
    // learned changes nothing): more epochs until the target is reached.
    let mut epochs = target.div_ceil(per_epoch) + 1;
    let zst = dir.join("large.zst");
    let raw = dir.join("large.trace");
    let (mut events, mut record_secs) = (0, 0.0);
    for _ in 0..6 {
        let start = Instant::now();
        events = match record(&record_bin, epochs, &zst) {
            Ok(n) => n,
            Err(e) => {
                println!("large trace: skipped, record failed: {e}\n");
                return;
            }
        };
        record_secs = start.elapsed().as_secs_f64();
        if events >= target {
            break;
        }
        epochs = (epochs as f64 * target as f64 / events.max(1) as f64 * 1.05).ceil() as u64;
    }
    let zst_s = zst.to_string_lossy().into_owned();
    let raw_s = raw.to_string_lossy().into_owned();
    // A .zst trace is one zstd frame of the raw trace; without zstd, record again.
    if timed(Path::new("zstd"), &["-d", "-q", "-f", &zst_s, "-o", &raw_s]).is_err() {
        if let Err(e) = record(&record_bin, epochs, &raw) {
            println!("large trace: skipped, could not write the raw copy: {e}\n");
            return;
        }
    }
    let lines = line_requests(&zst).unwrap_or(0);
    println!(
        "large trace: record --hidden 1000 --lr 0.001 --epochs {epochs} -o large.zst: {:.1} M events, {:.2} G line requests, recorded in {record_secs:.1} s",
        events as f64 / 1e6,
        lines as f64 / 1e9
    );
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    println!(
        "  large.zst {:.0} MB, large.trace {:.0} MB; reading rows: best of 3 runs, line rows: one run",
        size(&zst) as f64 / 1e6,
        size(&raw) as f64 / 1e6
    );

    let run = |label: &str, program: &Path, args: &[&str]| -> Option<f64> {
        match timed(program, args) {
            Ok(secs) => Some(secs),
            Err(e) => {
                println!("  {label}: failed: {e}");
                None
            }
        }
    };
    // Commands of a second or two vary by 10% or more from run to run on
    // this machine; the best of three is the steadiest figure of each.
    let best_of_3 = |label: &str, program: &Path, args: &[&str]| -> Option<f64> {
        (0..3)
            .map(|_| run(label, program, args))
            .collect::<Option<Vec<f64>>>()
            .map(|t| t.into_iter().fold(f64::MAX, f64::min))
    };
    // Reading alone: the floor every analyzer is measured against.
    let cat = Path::new("cat");
    run("cat", cat, &[&raw_s]); // warms the page cache
    let cat_secs = best_of_3("cat", cat, &[&raw_s]);
    let zstd_secs = best_of_3("zstd -d", Path::new("zstd"), &["-d", "-c", &zst_s]);
    let per_event = |secs: f64| events as f64 / secs / 1e6;
    let per_line = |secs: f64| lines as f64 / secs / 1e6;
    println!("  {:<W$} {:>8} {:>14}  target", "command (analyze: this target directory's)", "seconds", "throughput");
    if let Some(s) = cat_secs {
        println!("  {:<W$} {:>8.2} {:>9.0} M ev/s", "cat large.trace", s, per_event(s));
    }
    if let Some(s) = zstd_secs {
        println!("  {:<W$} {:>8.2} {:>9.0} M ev/s", "zstd -d -c large.zst", s, per_event(s));
    }
    // Issue 18 item 2: within 1.2x of zstd -d on the .zst, 2x of cat on the raw file.
    for (name, args) in
        [("ard", vec!["ard"]), ("cache --size 32KiB", vec!["cache", "--size", "32KiB"]), ("hist", vec!["hist"])]
    {
        for (file, path, floor, limit, floor_name) in
            [("large.zst", &zst_s, zstd_secs, 1.2, "zstd -d"), ("large.trace", &raw_s, cat_secs, 2.0, "cat")]
        {
            let mut a: Vec<&str> = args.clone();
            a.push(path);
            let Some(s) = best_of_3(name, &analyze, &a) else { continue };
            let verdict = floor.map_or(String::new(), |f| {
                let x = s / f;
                format!("{x:.2}x {floor_name} (target {limit}x{})", if x <= limit { "" } else { ", not met" })
            });
            println!("  {:<W$} {:>8.2} {:>9.1} M ev/s  {verdict}", format!("analyze {name} {file}"), s, per_event(s));
        }
    }
    // Item 1: line granularity, at least 100 M line requests/s, and each
    // policy at line LRU's speed per core.
    let line = ["cache", "--granularity", "line", "--size", "32KiB"];
    let mut lru = None;
    for policy in ["lru", "fifo", "clock", "sieve"] {
        let mut a = line.to_vec();
        a.extend(["--policy", policy, &zst_s]);
        let Some(s) = run(policy, &analyze, &a) else { continue };
        let verdict = match lru {
            None => {
                lru = Some(s);
                String::new()
            }
            Some(l) => {
                let x = l / s;
                format!("{x:.2}x lru's speed (target 1x{})", if x >= 1.0 { "" } else { ", not met" })
            }
        };
        println!(
            "  {:<W$} {:>8.2} {:>9.1} M ln/s  {verdict}",
            format!("analyze cache --granularity line --size 32KiB --policy {policy} large.zst"),
            s,
            per_line(s)
        );
    }
    {
        let mut a = line.to_vec();
        a.extend(["--policy", "lru,fifo,clock,sieve", &zst_s]);
        if let Some(s) = run("four policies", &analyze, &a) {
            let verdict = lru.map_or(String::new(), |l| format!("{:.2}x the time of lru alone, on two cores", s / l));
            println!(
                "  {:<W$} {:>8.2} {:>9.1} M ln/s  {verdict}",
                "  the four at once: --policy lru,fifo,clock,sieve",
                s,
                4.0 * per_line(s)
            );
        }
    }
    for (name, args) in [
        (
            "cache --granularity line --size 32KiB --assoc 8",
            vec!["cache", "--granularity", "line", "--size", "32KiB", "--assoc", "8"],
        ),
        ("mrc", vec!["mrc"]),
        ("hist --stack", vec!["hist", "--stack"]),
        ("energy", vec!["energy"]),
    ] {
        let mut a = args.clone();
        a.push(&zst_s);
        let Some(s) = run(name, &analyze, &a) else { continue };
        let rate = per_line(s);
        let verdict = if name.starts_with("cache") {
            String::new()
        } else {
            format!("(target 100 M ln/s{})", if rate >= 100.0 { "" } else { ", not met" })
        };
        println!("  {:<W$} {:>8.2} {:>9.1} M ln/s  {verdict}", format!("analyze {name} large.zst"), s, rate);
    }
    println!();
}
