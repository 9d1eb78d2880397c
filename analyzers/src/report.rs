//! The output side of every analysis: a [`Report`] serializes to the
//! documented JSON and renders its own text, for one trace or several side
//! by side (hyperfine's exporters, drcachesim's `print_results`).
//!
//! One JSON envelope for every subcommand (`docs/analyzers.md`): for one
//! trace, one object with the report's keys and a `trace` key (keys in
//! alphabetical order); for several, an array of those objects in the
//! order the traces were given. `cache` keeps its
//! version-1 shape, `{"results": [...]}` with one such object per trace and
//! configuration.

use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::table::{side_by_side, Table, Value};

/// A report tagged with the trace it came from.
#[derive(Debug, Clone)]
pub struct Named<R> {
    /// The trace as the user named it.
    pub trace: String,
    /// Its report.
    pub report: R,
}

/// What an analysis prints.
pub trait Report: Serialize + Sized {
    /// Text for people: one trace alone, several side by side.
    fn text(reports: &[Named<Self>]) -> String;

    /// JSON for programs: the envelope of the module documentation.
    fn json(reports: &[Named<Self>]) -> Json {
        json_per_trace(reports)
    }

    /// [`Report::json`], pretty-printed to `out`. A report whose JSON is
    /// large (a histogram per buffer) streams it instead of building the
    /// whole document as values first (ten times its text in memory).
    fn write_json(reports: &[Named<Self>], out: &mut dyn std::io::Write) -> serde_json::Result<()> {
        serde_json::to_writer_pretty(out, &Self::json(reports))
    }

    /// [`Report::text`] to `out`, control characters in names escaped for
    /// a terminal. A report of millions of rows (a full miss-ratio curve)
    /// writes them as it goes instead.
    fn write_text(reports: &[Named<Self>], out: &mut dyn std::io::Write) -> std::io::Result<()> {
        out.write_all(crate::table::printable_except(&Self::text(reports), Some('\n')).as_bytes())
    }
}

/// `{"trace": ..., <report fields>}`.
pub fn tagged_json<R: Serialize>(trace: &str, report: &R) -> Json {
    let mut map = Map::new();
    map.insert("trace".into(), Json::String(trace.to_string()));
    if let Ok(Json::Object(fields)) = serde_json::to_value(report) {
        map.extend(fields);
    }
    Json::Object(map)
}

/// One object for one trace, an array for several.
pub fn json_per_trace<R: Serialize>(reports: &[Named<R>]) -> Json {
    match reports {
        [one] => tagged_json(&one.trace, &one.report),
        many => Json::Array(many.iter().map(|n| tagged_json(&n.trace, &n.report)).collect()),
    }
}

/// `{"results": [...]}`: one tagged object per trace and configuration.
pub fn results_json<R: Serialize>(runs: &[Named<Vec<R>>]) -> Json {
    let results = runs.iter().flat_map(|run| run.report.iter().map(|r| tagged_json(&run.trace, r))).collect();
    let mut map = Map::new();
    map.insert("results".into(), Json::Array(results));
    Json::Object(map)
}

/// The traces' names, for table headings.
pub fn names<R>(reports: &[Named<R>]) -> Vec<String> {
    reports.iter().map(|r| r.trace.clone()).collect()
}

/// Rows of metrics, one per configuration result.
pub type Rows = Vec<(String, Vec<Value>)>;

/// Every trace's results at the same configurations (sizes, policies).
/// One trace at several: a `kind` title line, then a column per
/// configuration named by `config` (no ratios: the columns are
/// alternatives, not a baseline and its variants). Otherwise a table per
/// configuration, headed by `head`, the traces side by side with ratios to
/// the first.
pub fn per_configuration<R>(
    runs: &[Named<Vec<R>>],
    kind: &str,
    corner: &str,
    config: impl Fn(&R) -> String,
    head: impl Fn(&R) -> String,
    rows: impl Fn(&[&R]) -> Rows,
) -> String {
    if let [run] = runs {
        if run.report.len() > 1 {
            let mut t = Table::new(std::iter::once(corner.to_string()).chain(run.report.iter().map(config)).collect());
            for (label, values) in rows(&run.report.iter().collect::<Vec<_>>()) {
                t.row(std::iter::once(label).chain(values.iter().map(|v| v.render())).collect());
            }
            return format!("{kind} of {}\n{}", run.trace, t.render());
        }
    }
    let traces = names(runs);
    let mut out = String::new();
    for i in 0..runs.first().map_or(0, |r| r.report.len()) {
        let results: Vec<&R> = runs.iter().map(|r| &r.report[i]).collect();
        out.push_str(&side_by_side(&head(results[0]), &traces, &rows(&results)));
        out.push('\n');
    }
    out
}

/// One row per name found in any trace's `map`, in name order: the value
/// `cell` gives, or `-` where a trace lacks the name (the side-by-side
/// "by buffer" tables).
pub fn by_name<R, V>(
    reports: &[Named<R>],
    map: impl Fn(&R) -> &std::collections::BTreeMap<String, V>,
    cell: impl Fn(&V) -> Value,
) -> Rows {
    let mut all: Vec<&String> = reports.iter().flat_map(|r| map(&r.report).keys()).collect();
    all.sort();
    all.dedup();
    all.into_iter()
        .map(|name| {
            (name.clone(), reports.iter().map(|r| map(&r.report).get(name).map_or(Value::Missing, &cell)).collect())
        })
        .collect()
}

/// Colours of the plots' series, in order.
pub const PALETTE: [(u8, u8, u8); 5] = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189)];

/// `a / b`, or 0 when `b` is 0.
pub fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}
