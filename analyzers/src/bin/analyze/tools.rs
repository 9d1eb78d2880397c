//! The subcommands that handle traces rather than analyze them: `verify`,
//! `export`, `import`, `diff`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use memtrace::Header;
use memtrace_analyzers::export::{Csv, EventFormat, JsonLines};

use crate::input::{fail, Input, Progress};
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

pub fn export(input: &mut Input, trace: &Path, output: &Path, jsonl: bool) -> Result<(), Failure> {
    let mut format: Box<dyn EventFormat> = if jsonl { Box::new(JsonLines) } else { Box::new(Csv) };
    let mut reader = input.open(trace)?;
    let header = reader.header().clone();
    let to_stdout = output.as_os_str() == "-";
    let mut sink: Box<dyn Write> = if to_stdout {
        Box::new(std::io::BufWriter::new(std::io::stdout().lock()))
    } else {
        Box::new(std::io::BufWriter::new(std::fs::File::create(output).map_err(|e| fail(output, e))?))
    };
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
    match result {
        Err(Failure(m)) if to_stdout && m.contains("Broken pipe") => Ok(()),
        other => other,
    }
}

pub fn import(input: &mut Input, csv: &Path, output: &Path) -> Result<(), Failure> {
    let mut header = Header::new("memtrace-import", env!("CARGO_PKG_VERSION"));
    header.set_metadata("source", csv.display().to_string());
    let source = input.source(csv)?;
    let to_stdout = output.as_os_str() == "-";
    if to_stdout && std::io::stdout().is_terminal() {
        return Err(Failure(
            "-o -: standard output is a terminal; pipe the trace (analyze import log.csv -o - | analyze ard -) \
             or give a file name"
                .into(),
        ));
    }
    if let Some(warning) = memtrace::WriteOptions::name_mismatch(output).filter(|_| !to_stdout) {
        eprintln!("analyze: warning: {warning}");
    }
    let imported = if to_stdout {
        memtrace::import::import_csv_to_stream(&source, std::io::stdout(), header)
    } else {
        memtrace::import::import_csv(&source, output, header)
    };
    let s = imported.map_err(|e| {
        // CSV errors are about the input; writer errors about the output.
        match e.line() {
            Some(_) => fail(csv, e),
            None if matches!(e.kind(), memtrace::ErrorKind::Io(_)) => fail(csv, e),
            None => fail(output, e),
        }
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
