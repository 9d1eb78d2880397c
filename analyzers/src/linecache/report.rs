//! What `analyze cache --granularity line` prints: a column per
//! configuration for one trace, a table per configuration for several.

use serde_json::{Map, Value as Json};

use super::sim::{LineCacheSim, LineResult};
use crate::report::{per_configuration, tagged_json, Named, Report, Rows};
use crate::table::Value;
use crate::units::format_size;
use memtrace::{Event, Header, TraceSummary};

impl crate::Analyzer for LineCacheSim {
    type Output = LineResult;
    fn event(&mut self, e: &Event) {
        LineCacheSim::event(self, e)
    }
    fn finish(self, _: &Header, _: &TraceSummary) -> crate::Result<LineResult> {
        Ok(LineCacheSim::finish(self))
    }
}

/// The metrics of a line-cache result, one row each, over `results`.
fn line_rows(results: &[&LineResult]) -> Rows {
    let col = |f: fn(&LineResult) -> Value| results.iter().map(|r| f(r)).collect::<Vec<_>>();
    vec![
        ("hit rate".to_string(), col(|r| r.hit_rate.map_or(Value::Missing, Value::Percent))),
        ("line requests".to_string(), col(|r| Value::Int(r.requests))),
        ("read hits".to_string(), col(|r| Value::Int(r.traffic.read_hits))),
        ("read misses".to_string(), col(|r| Value::Int(r.traffic.read_misses))),
        ("write hits".to_string(), col(|r| Value::Int(r.traffic.write_hits))),
        ("write misses".to_string(), col(|r| Value::Int(r.traffic.write_misses))),
        ("bytes in".to_string(), col(|r| Value::Int(r.traffic.bytes_in))),
        ("bytes written back".to_string(), col(|r| Value::Int(r.traffic.bytes_written_back))),
    ]
}

/// `lru 32KiB 8-way`: a configuration without its line size.
fn line_config(r: &LineResult) -> String {
    format!("{} {} {}", r.policy, format_size(r.size_bytes), r.assoc)
}

impl Report for Vec<LineResult> {
    /// One trace: its configurations side by side, to compare policies and
    /// sizes. Several traces: a table per configuration, the traces side by
    /// side with ratios to the first.
    fn text(runs: &[Named<Vec<LineResult>>]) -> String {
        let line = runs.first().and_then(|r| r.report.first()).map_or(0, |r| r.line);
        per_configuration(
            runs,
            "line caches",
            &format!("{line}B lines"),
            line_config,
            |r| format!("{}, {}B lines", line_config(r), r.line),
            line_rows,
        )
    }

    /// `{"results": [...]}`, each result also with `cache_size_floats` and
    /// `total_accesses` (the object model's names, kept since version 1).
    fn json(runs: &[Named<Vec<LineResult>>]) -> Json {
        let mut results = Vec::new();
        for run in runs {
            for r in &run.report {
                let mut v = tagged_json(&run.trace, r);
                v["cache_size_floats"] = Json::from(r.size_bytes / 4);
                v["total_accesses"] = Json::from(r.requests);
                results.push(v);
            }
        }
        let mut map = Map::new();
        map.insert("results".into(), Json::Array(results));
        Json::Object(map)
    }
}
