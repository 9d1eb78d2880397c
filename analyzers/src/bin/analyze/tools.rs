//! The subcommands that handle traces rather than analyze them: `verify`,
//! `export`, `import`, `diff`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use memtrace::output::Output;
use memtrace::Header;
use memtrace_analyzers::export::{Csv, EventFormat, JsonLines};

use crate::input::{fail, shown, Input, Progress};
use crate::{emit, label, Failure};

pub fn verify(input: &mut Input, traces: &[PathBuf]) -> Result<(), Failure> {
    for path in traces {
        let mut reader = input.open(path)?;
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

pub fn export(input: &mut Input, trace: &Path, output: &Path, target: Output, jsonl: bool) -> Result<(), Failure> {
    let mut format: Box<dyn EventFormat> = if jsonl { Box::new(JsonLines) } else { Box::new(Csv) };
    // Nothing is printed from a trace that fails its checks: a stream is
    // verified in a first pass; a file is written aside and renamed into
    // place only once the trace's checksum has been verified.
    let mut staged = None;
    let to_stdout = matches!(target, Output::Stdout);
    let mut sink: Box<dyn Write> = match target {
        Output::Stdout | Output::Device(_) => {
            let mut reader = input.open(trace)?;
            while reader.next_batch().map_err(|e| fail(trace, e))?.is_some() {}
            match target {
                Output::Device(file) => Box::new(std::io::BufWriter::new(file)),
                _ => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            }
        }
        Output::File(path) => {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let file = tempfile::Builder::new()
                .prefix(".memtrace-export.")
                .suffix(".partial")
                .tempfile_in(dir)
                .map_err(|e| fail(output, format!("cannot write into {}: {e}", dir.display())))?;
            let handle = file.as_file().try_clone().map_err(|e| fail(output, e))?;
            let partial = memtrace::output::Partial::register(file.path());
            staged = Some((file, path, partial));
            Box::new(std::io::BufWriter::new(handle))
        }
    };
    let mut reader = input.open(trace)?;
    let header = reader.header().clone();
    let write_err = |e: std::io::Error| -> Failure {
        if to_stdout {
            Failure(format!("cannot write output: {e}"))
        } else {
            fail(output, e)
        }
    };
    let result = (|| -> Result<(), Failure> {
        format.begin(&mut sink).map_err(write_err)?;
        while let Some(batch) = reader.next_batch().map_err(|e| fail(trace, e))? {
            for e in batch {
                format.event(&mut sink, &header, e).map_err(write_err)?;
            }
        }
        sink.flush().map_err(write_err)
    })();
    drop(sink);
    match result {
        Err(Failure(m)) if to_stdout && m.contains("Broken pipe") => Ok(()),
        Err(f) => Err(f),
        Ok(()) => {
            if let Some((file, path, _partial)) = staged {
                file.persist(&path).map_err(|e| fail(output, e.error))?;
            }
            Ok(())
        }
    }
}

/// Imports whose raw trace reaches this size say so before writing.
const LARGE_IMPORT_BYTES: u64 = 1 << 30;

pub fn import(input: &mut Input, csv: &Path, output: &Path, target: Output) -> Result<(), Failure> {
    let mut header = Header::new("memtrace-import", env!("CARGO_PKG_VERSION"));
    // The file's name, not its path: the same CSV gives the same trace from
    // any directory, and a shared trace does not show where it was made.
    let name = csv.file_name().map_or_else(|| shown(csv), |n| n.to_string_lossy().into_owned());
    header.set_metadata("source", if crate::input::is_std(csv) { shown(csv) } else { name });
    let source = input.source_of(csv, crate::input::Expect::Csv)?;
    let to_stdout = matches!(target, Output::Stdout);
    if to_stdout && std::io::stdout().is_terminal() {
        return Err(Failure(
            "-o -: standard output is a terminal; pipe the trace (analyze import log.csv -o - | analyze ard -) \
             or give a file name"
                .into(),
        ));
    }
    let target = match target {
        Output::Stdout => memtrace::import::Target::Stream(Box::new(std::io::stdout())),
        Output::Device(file) => memtrace::import::Target::Stream(Box::new(file)),
        Output::File(ref path) => {
            if let Some(warning) = memtrace::WriteOptions::name_mismatch(path) {
                eprintln!("analyze: warning: {warning}");
            }
            memtrace::import::Target::File(path)
        }
    };
    let say_size = |plan: &memtrace::import::ImportPlan| {
        if plan.raw_bytes >= LARGE_IMPORT_BYTES {
            eprintln!(
                "analyze: {}: {} events: the trace is {} raw (less with .zst); writing it",
                shown(csv),
                plan.events,
                memtrace_analyzers::units::format_size(plan.raw_bytes)
            );
        }
    };
    let s = memtrace::import::import(&source, target, header, say_size).map_err(|e| match e.side {
        memtrace::import::Side::Input => fail(csv, e),
        memtrace::import::Side::Output => fail(output, e),
    })?;
    let written = if to_stdout { "standard output".to_string() } else { output.display().to_string() };
    eprintln!("{written}: {} events, {} bytes ({} raw)", s.events, s.file_bytes, s.raw_bytes);
    Ok(())
}

/// `analyze diff`: exit 0 identical, 1 different, 2 trouble (as `cmp` does).
pub fn diff(input: &mut Input, json: bool, a: &Path, b: &Path) -> ExitCode {
    let report = input.open(a).and_then(|ra| Ok((ra, input.open(b)?))).and_then(|(ra, rb)| {
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
