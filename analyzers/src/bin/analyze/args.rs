//! Flag values of `analyze` that need more than clap's parsers: cache
//! levels, associativity, policies, line sizes. Each error names the flag.

use memtrace_analyzers::energy::{default_pj_per_word, LevelConfig};
use memtrace_analyzers::hist::Weight;
use memtrace_analyzers::linecache::PolicyKind;
use memtrace_analyzers::units;

use crate::Failure;

/// `--assoc`: ways per set, `None` for fully associative.
#[derive(Clone, Copy, Debug)]
pub struct Ways(pub Option<u64>);

pub fn parse_ways(s: &str) -> Result<Ways, String> {
    parse_assoc(s).map(Ways)
}

/// A number of ways or `full`.
fn parse_assoc(s: &str) -> Result<Option<u64>, String> {
    if s.eq_ignore_ascii_case("full") {
        return Ok(None);
    }
    match s.parse::<u64>() {
        Ok(0) | Err(_) => Err(format!("--assoc takes a number of ways (1, 2, 4, ...) or full; got {s:?}")),
        Ok(w) => Ok(Some(w)),
    }
}

pub fn parse_sizes(s: &str) -> Result<Vec<u64>, String> {
    units::parse_sizes(s)
}

/// `--policy`: one name of the policy table.
pub fn parse_policy(s: &str) -> Result<PolicyKind, String> {
    s.parse()
}

/// `--weight`.
pub fn parse_weight(s: &str) -> Result<Weight, String> {
    Weight::from_name(s).ok_or_else(|| format!("unknown weight {s:?}; reads or floats"))
}

/// `--level SIZE[:WAYS|full[:POLICY]]`.
pub fn parse_level(s: &str) -> Result<LevelConfig, String> {
    let mut parts = s.split(':');
    let size = units::parse_size(parts.next().unwrap_or(""))?;
    let assoc = match parts.next() {
        None => Some(8),
        Some(a) => parse_assoc(a)?,
    };
    let policy = match parts.next() {
        None => PolicyKind::Lru,
        Some(p) => PolicyKind::from_name(p).ok_or_else(|| {
            let online: Vec<&str> = PolicyKind::all().filter(|k| *k != PolicyKind::Opt).map(PolicyKind::name).collect();
            format!("--level {s:?}: unknown policy {p:?} ({})", online.join(", "))
        })?,
    };
    if policy == PolicyKind::Opt {
        return Err(format!(
            "--level {s:?}: opt needs each level's own future, which depends on the levels above; use it with analyze cache"
        ));
    }
    if parts.next().is_some() {
        return Err(format!("--level {s:?}: expected SIZE[:WAYS|full[:POLICY]]"));
    }
    Ok(LevelConfig { size_bytes: size, assoc, policy, pj_per_word: default_pj_per_word(size) })
}

/// A cache of `size` bytes in `line`-byte lines with `ways` per set (or
/// fully associative): refused unless it is what gets simulated, whole
/// lines split into whole sets.
pub fn check_cache(flag: &str, size: u64, line: u64, ways: Option<u64>) -> Result<(), Failure> {
    use memtrace_analyzers::units::format_size;
    if size < line {
        return Err(Failure(format!(
            "{flag} {}: smaller than one {line}-byte line; a line cache holds whole lines",
            format_size(size)
        )));
    }
    if !size.is_multiple_of(line) {
        return Err(Failure(format!(
            "{flag} {}: not a whole number of {line}-byte lines; give a multiple of the line size",
            format_size(size)
        )));
    }
    let lines = size / line;
    match ways {
        Some(w) if w < lines && !lines.is_multiple_of(w) => Err(Failure(format!(
            "{flag} {} with {w} ways: its {lines} lines do not split into sets of {w}; choose ways that divide {lines}",
            format_size(size)
        ))),
        _ => Ok(()),
    }
}

/// `--line`: a power of two of at least `least` bytes.
pub fn check_line(line: u64, least: u64) -> Result<(), Failure> {
    if line >= least.max(1) && line.is_power_of_two() {
        return Ok(());
    }
    let floor = if least > 1 { format!(" of at least {least} bytes") } else { String::new() };
    Err(Failure(format!("--line {line}: a line size is a power of two{floor}")))
}
