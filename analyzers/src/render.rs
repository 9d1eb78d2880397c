//! Text and JSON renderings of the analyzers' reports. Text is for people
//! (aligned tables, several traces side by side with ratios to the first);
//! JSON is for programs (documented keys, one object per trace, each with a
//! `trace` key; an array when there are several traces).

use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::ard::ArdReport;
use crate::cache::CacheResult;
use crate::hist::{DistanceHistogram, HistReport};
use crate::info::InfoReport;
use crate::linecache::LineResult;
use crate::table::{self, side_by_side, thousands, Table, Value};
use crate::units::format_size;

/// A report tagged with the trace it came from.
pub struct Named<R> {
    pub trace: String,
    pub report: R,
}

/// `{"trace": ..., <report fields>}`.
pub fn tagged_json<R: Serialize>(n: &Named<R>) -> Json {
    let mut map = Map::new();
    map.insert("trace".into(), Json::String(n.trace.clone()));
    if let Ok(Json::Object(fields)) = serde_json::to_value(&n.report) {
        map.extend(fields);
    }
    Json::Object(map)
}

/// One object for one trace, an array for several.
pub fn json_per_trace<R: Serialize>(reports: &[Named<R>]) -> Json {
    match reports {
        [one] => tagged_json(one),
        many => Json::Array(many.iter().map(tagged_json).collect()),
    }
}

fn names<R>(reports: &[Named<R>]) -> Vec<String> {
    reports.iter().map(|r| r.trace.clone()).collect()
}

pub fn ard_text(reports: &[Named<ArdReport>]) -> String {
    let col = |f: fn(&ArdReport) -> Value| reports.iter().map(|r| f(&r.report)).collect::<Vec<_>>();
    let rows = vec![
        ("weighted ARD".to_string(), col(|r| Value::Float(r.weighted_ard))),
        ("dmc".to_string(), col(|r| Value::Float(r.dmc))),
        ("total floats accessed".to_string(), col(|r| Value::Int(r.total_floats_accessed))),
        ("floats read (warm)".to_string(), col(|r| Value::Int(r.total_floats_read))),
        ("reads".to_string(), col(|r| Value::Int(r.reads))),
        ("writes".to_string(), col(|r| Value::Int(r.writes))),
        ("cold reads".to_string(), col(|r| Value::Int(r.cold_reads))),
    ];
    let mut out = side_by_side("metric", &names(reports), &rows);
    out.push('\n');
    if let [one] = reports {
        let mut t = Table::new(
            ["buffer", "size", "reads", "avg dist", "min dist", "max dist"].iter().map(|s| s.to_string()).collect(),
        );
        for (name, b) in &one.report.per_buffer {
            t.row(vec![
                name.clone(),
                thousands(b.size),
                thousands(b.read_count),
                table::float(b.avg_dist),
                thousands(b.min_dist),
                thousands(b.max_dist),
            ]);
        }
        out.push_str(&t.render());
    } else {
        let mut all: Vec<&String> = reports.iter().flat_map(|r| r.report.per_buffer.keys()).collect();
        all.sort();
        all.dedup();
        let rows: Vec<(String, Vec<Value>)> = all
            .iter()
            .map(|name| {
                let vals = reports
                    .iter()
                    .map(|r| r.report.per_buffer.get(*name).map_or(Value::Missing, |b| Value::Float(b.avg_dist)))
                    .collect();
                ((*name).clone(), vals)
            })
            .collect();
        out.push_str(&side_by_side("avg dist by buffer", &names(reports), &rows));
    }
    out
}

/// Cache results of one trace at every size it was simulated.
pub struct CacheRun {
    pub trace: String,
    pub results: Vec<CacheResult>,
}

pub fn cache_json(runs: &[CacheRun]) -> Json {
    let mut results = Vec::new();
    for run in runs {
        for r in &run.results {
            results.push(tagged_json(&Named { trace: run.trace.clone(), report: r.clone() }));
        }
    }
    let mut map = Map::new();
    map.insert("results".into(), Json::Array(results));
    Json::Object(map)
}

/// Every trace's results at the same configurations (sizes, policies).
/// One trace at several: a `kind` title line, then a column per
/// configuration named by `config` (no ratios: the columns are
/// alternatives, not a baseline and its variants). Otherwise a table per
/// configuration, headed by `head`, the traces side by side with ratios to
/// the first.
fn per_configuration<R>(
    runs: &[(&str, &[R])],
    kind: &str,
    corner: &str,
    config: impl Fn(&R) -> String,
    head: impl Fn(&R) -> String,
    rows: impl Fn(&[&R]) -> Vec<(String, Vec<Value>)>,
) -> String {
    if let [(trace, results)] = runs {
        if results.len() > 1 {
            let mut t = Table::new(std::iter::once(corner.to_string()).chain(results.iter().map(config)).collect());
            for (label, values) in rows(&results.iter().collect::<Vec<_>>()) {
                t.row(std::iter::once(label).chain(values.iter().map(|v| v.render())).collect());
            }
            return format!("{kind} of {trace}\n{}", t.render());
        }
    }
    let traces: Vec<String> = runs.iter().map(|(t, _)| t.to_string()).collect();
    let mut out = String::new();
    for i in 0..runs.first().map_or(0, |(_, r)| r.len()) {
        let results: Vec<&R> = runs.iter().map(|(_, r)| &r[i]).collect();
        out.push_str(&side_by_side(&head(results[0]), &traces, &rows(&results)));
        out.push('\n');
    }
    out
}

/// The metrics of an object-cache result, one row each, over `results`.
fn cache_rows(results: &[&CacheResult]) -> Vec<(String, Vec<Value>)> {
    let col = |f: fn(&CacheResult) -> Value| results.iter().map(|r| f(r)).collect::<Vec<_>>();
    vec![
        ("hit rate".to_string(), col(|r| Value::Percent(r.hit_rate))),
        ("hits".to_string(), col(|r| Value::Int(r.hits))),
        ("misses".to_string(), col(|r| Value::Int(r.misses))),
        ("reads".to_string(), col(|r| Value::Int(r.total_accesses))),
        ("effective ARD".to_string(), col(|r| Value::Float(r.effective_ard))),
        ("floats missed (warm)".to_string(), col(|r| Value::Int(r.total_miss_floats))),
    ]
}

/// `32KiB (8,192 floats)`.
fn cache_size(size: u64) -> String {
    format!("{} ({} floats)", format_size(size), thousands(size / 4))
}

/// One trace: its sizes side by side. Several traces: a table per size,
/// the traces side by side with ratios to the first.
pub fn cache_text(runs: &[CacheRun]) -> String {
    let runs: Vec<(&str, &[CacheResult])> = runs.iter().map(|r| (r.trace.as_str(), r.results.as_slice())).collect();
    per_configuration(
        &runs,
        "object LRU caches",
        "cache",
        |r| cache_size(r.size_bytes),
        |r| format!("cache {}", cache_size(r.size_bytes)),
        cache_rows,
    )
}

fn hist_row(name: &str, h: &DistanceHistogram) -> Vec<String> {
    vec![name.to_string(), thousands(h.count), thousands(h.p50), thousands(h.p90), thousands(h.p99), thousands(h.max)]
}

/// A bar chart of the power-of-two buckets.
fn bars(h: &DistanceHistogram) -> String {
    let peak = h.buckets.iter().map(|b| b.count).max().unwrap_or(0).max(1);
    let mut out = String::new();
    let label_w =
        h.buckets.iter().map(|b| format!("{}..{}", thousands(b.lo), thousands(b.hi)).len()).max().unwrap_or(0);
    for b in h.buckets.iter().skip_while(|b| b.count == 0) {
        let label = format!("{}..{}", thousands(b.lo), thousands(b.hi));
        let n = ((b.count as f64 / peak as f64) * 40.0).round() as usize;
        let bar = if b.count > 0 && n == 0 { "▏".to_string() } else { "█".repeat(n) };
        out.push_str(&format!("  {label:>label_w$} | {bar} {}\n", thousands(b.count)));
    }
    out
}

pub fn hist_text(reports: &[Named<HistReport>]) -> String {
    let mut out = String::new();
    if reports.len() > 1 {
        let col = |f: fn(&DistanceHistogram) -> u64| reports.iter().map(|r| Value::Int(f(&r.report.all))).collect();
        let rows = vec![
            ("count".to_string(), col(|h| h.count)),
            ("p50".to_string(), col(|h| h.p50)),
            ("p90".to_string(), col(|h| h.p90)),
            ("p99".to_string(), col(|h| h.p99)),
            ("max".to_string(), col(|h| h.max)),
        ];
        out.push_str(&side_by_side("all buffers", &names(reports), &rows));
        out.push('\n');
    }
    for r in reports {
        if reports.len() > 1 {
            out.push_str(&format!("== {}\n", r.trace));
        }
        let mut t = Table::new(["buffer", "count", "p50", "p90", "p99", "max"].iter().map(|s| s.to_string()).collect());
        for (name, h) in &r.report.per_buffer {
            t.row(hist_row(name, h));
        }
        t.row(hist_row("(all)", &r.report.all));
        out.push_str(&format!(
            "reuse distances, one value per {}\n",
            if r.report.weight == "reads" { "read" } else { "float" }
        ));
        out.push_str(&t.render());
        out.push_str("\nall buffers:\n");
        out.push_str(&bars(&r.report.all));
        out.push('\n');
        if let Some(st) = &r.report.stack {
            let mut t =
                Table::new(["buffer", "count", "p50", "p90", "p99", "max"].iter().map(|s| s.to_string()).collect());
            for (name, h) in &st.per_buffer {
                t.row(hist_row(name, h));
            }
            t.row(hist_row("(all)", &st.all));
            out.push_str(&format!(
                "LRU stack distances in {}-byte lines ({} requests, {} first touches without one); an LRU cache of C lines hits distances <= C\n",
                st.line,
                thousands(st.requests),
                thousands(st.cold)
            ));
            out.push_str(&t.render());
            out.push_str("\nall buffers:\n");
            out.push_str(&bars(&st.all));
            out.push('\n');
        }
    }
    out
}

pub fn info_text(reports: &[Named<InfoReport>]) -> String {
    let mut out = String::new();
    for n in reports {
        let r = &n.report;
        out.push_str(&format!("trace      {}\n", n.trace));
        out.push_str(&format!("format     memtrace v{} ({})\n", r.format_version, r.encoding));
        out.push_str(&format!("producer   {} {}\n", r.producer, r.producer_version));
        for (k, v) in &r.metadata {
            out.push_str(&format!("meta       {k} = {v}\n"));
        }
        out.push_str(&format!(
            "events     {} ({} reads, {} writes) over {} steps\n",
            thousands(r.events),
            thousands(r.reads),
            thousands(r.writes),
            thousands(r.steps)
        ));
        out.push_str(&format!(
            "elements   {} read, {} written\n",
            thousands(r.elements_read),
            thousands(r.elements_written)
        ));
        out.push_str(&format!("raw bytes  {}\n", thousands(r.raw_bytes)));
        out.push_str(&format!("checksum   crc32 {} {}\n", r.crc32, r.checksum));
        out.push_str(&format!("content    {}\n\n", r.content_hash));
        let mut t = Table::new(
            ["buffer", "role", "id", "length", "elem", "reads", "writes", "elems read", "elems written"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        )
        .text_columns(2);
        for b in &r.buffers {
            t.row(vec![
                b.name.clone(),
                b.role.to_string(),
                b.id.to_string(),
                thousands(b.len),
                format!("{}B", b.elem_size),
                thousands(b.reads),
                thousands(b.writes),
                thousands(b.elements_read),
                thousands(b.elements_written),
            ]);
        }
        out.push_str(&t.render());
        out.push('\n');
    }
    out
}

/// Line-cache results of one trace, one per configuration.
pub struct LineRun {
    pub trace: String,
    pub results: Vec<LineResult>,
}

pub fn line_cache_json(runs: &[LineRun]) -> Json {
    let mut results = Vec::new();
    for run in runs {
        for r in &run.results {
            let mut v = tagged_json(&Named { trace: run.trace.clone(), report: r.clone() });
            v["cache_size_floats"] = Json::from(r.size_bytes / 4);
            v["total_accesses"] = Json::from(r.requests);
            results.push(v);
        }
    }
    let mut map = Map::new();
    map.insert("results".into(), Json::Array(results));
    Json::Object(map)
}

/// The metrics of a line-cache result, one row each, over `results`.
fn line_rows(results: &[&LineResult]) -> Vec<(String, Vec<Value>)> {
    let col = |f: fn(&LineResult) -> Value| results.iter().map(|r| f(r)).collect::<Vec<_>>();
    vec![
        ("hit rate".to_string(), col(|r| Value::Percent(r.hit_rate))),
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
    let assoc = match &r.assoc {
        Json::Number(w) => format!("{w}-way"),
        _ => "fully assoc.".into(),
    };
    format!("{} {} {}", r.policy, format_size(r.size_bytes), assoc)
}

/// One trace: its configurations side by side, to compare policies and
/// sizes. Several traces: a table per configuration, the traces side by
/// side with ratios to the first.
pub fn line_cache_text(runs: &[LineRun]) -> String {
    let line = runs.first().and_then(|r| r.results.first()).map_or(0, |r| r.line);
    let runs: Vec<(&str, &[LineResult])> = runs.iter().map(|r| (r.trace.as_str(), r.results.as_slice())).collect();
    per_configuration(
        &runs,
        "line caches",
        &format!("{line}B lines"),
        line_config,
        |r| format!("{}, {}B lines", line_config(r), r.line),
        line_rows,
    )
}

type CurvePoints = [(String, Vec<crate::mrc::Point>)];

/// `{"points": [...]}` for one trace; an array of those, each with `trace`, for several.
pub fn mrc_json(curves: &CurvePoints) -> Json {
    let one = |(t, pts): &(String, Vec<crate::mrc::Point>)| {
        let mut m = Map::new();
        m.insert("trace".into(), Json::String(t.clone()));
        m.insert("points".into(), serde_json::to_value(pts).unwrap_or_default());
        Json::Object(m)
    };
    match curves {
        [c] => one(c),
        many => Json::Array(many.iter().map(one).collect()),
    }
}

pub fn mrc_csv(curves: &CurvePoints) -> String {
    let mut out = String::from("trace,size_bytes,misses,requests,miss_ratio\n");
    for (t, pts) in curves {
        for p in pts {
            out.push_str(&format!("{t},{},{},{},{}\n", p.size_bytes, p.misses, p.requests, p.miss_ratio));
        }
    }
    out
}

/// Several traces at the same sizes (`--size`): one table, a miss-ratio
/// column per trace, misses in parentheses. Otherwise a table per trace.
pub fn mrc_text(curves: &CurvePoints) -> String {
    let same_sizes = curves.len() > 1
        && curves.windows(2).all(|w| {
            w[0].1.len() == w[1].1.len() && w[0].1.iter().zip(&w[1].1).all(|(a, b)| a.size_bytes == b.size_bytes)
        });
    if same_sizes {
        let mut table = Table::new(
            std::iter::once("LRU miss ratio".to_string()).chain(curves.iter().map(|(t, _)| t.clone())).collect(),
        );
        let requests = curves.iter().map(|(_, pts)| pts.first().map_or(0, |p| p.requests));
        table.row(std::iter::once("requests".to_string()).chain(requests.map(thousands)).collect());
        for (i, p) in curves[0].1.iter().enumerate() {
            let cells =
                curves.iter().map(|(_, pts)| format!("{:.4} ({})", pts[i].miss_ratio, thousands(pts[i].misses)));
            table.row(std::iter::once(format_size(p.size_bytes)).chain(cells).collect());
        }
        return table.render();
    }
    let mut out = String::new();
    for (t, pts) in curves {
        out.push_str(&format!("LRU miss-ratio curve of {t}\n"));
        let mut table =
            Table::new(["cache size", "misses", "requests", "miss ratio"].iter().map(|s| s.to_string()).collect());
        for p in pts {
            table.row(vec![
                format_size(p.size_bytes),
                thousands(p.misses),
                thousands(p.requests),
                format!("{:.4}", p.miss_ratio),
            ]);
        }
        out.push_str(&table.render());
        out.push('\n');
    }
    out
}

/// All curves on one SVG, cache size on a log scale.
pub fn mrc_plot(path: &std::path::Path, curves: &[(String, crate::mrc::Curve)]) -> Result<(), String> {
    use plotters::prelude::*;
    let err = |e: &dyn std::fmt::Display| format!("cannot draw the plot: {e}");
    let root = SVGBackend::new(path, (800, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let max_size = curves.iter().map(|(_, c)| (c.hist.len() as u64 + 1) * c.line).max().unwrap_or(64).max(128) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption("LRU miss-ratio curve", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d((64.0..max_size).log_scale(), 0.0..1.0)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("cache size (bytes, log scale)")
        .y_desc("miss ratio")
        .x_label_formatter(&|x| match *x {
            x if x >= 1048576.0 => format!("{:.0}MiB", x / 1048576.0),
            x if x >= 1024.0 => format!("{:.0}KiB", x / 1024.0),
            x => format!("{x:.0}B"),
        })
        .draw()
        .map_err(|e| err(&e))?;
    let colors = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
    ];
    for (i, (name, c)) in curves.iter().enumerate() {
        let color = colors[i % colors.len()];
        // A step function: the ratio drops at each size where lines start to hit.
        let mut pts = Vec::new();
        let mut prev = 1.0;
        for p in c.steps().into_iter().filter(|p| p.size_bytes >= 64) {
            pts.push((p.size_bytes as f64, prev));
            pts.push((p.size_bytes as f64, p.miss_ratio));
            prev = p.miss_ratio;
        }
        pts.push((max_size, prev));
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))
}

/// `analyze energy`: levels, DRAM traffic and energy (in nanojoules), side by side.
pub fn energy_text(reports: &[Named<crate::energy::EnergyReport>]) -> String {
    use crate::energy::EnergyReport;
    let Some(first) = reports.first() else { return String::new() };
    let nj = |pj: f64| Value::Float(pj / 1000.0);
    let mut rows: Vec<(String, Vec<Value>)> = Vec::new();
    let col = |f: &dyn Fn(&EnergyReport) -> Value| reports.iter().map(|r| f(&r.report)).collect::<Vec<_>>();
    for (i, l) in first.report.levels.iter().enumerate() {
        let assoc = match &l.assoc {
            Json::String(s) => s.clone(),
            other => format!("{other}-way"),
        };
        let name = format!("{} {} {} {}", l.name, format_size(l.size_bytes), assoc, l.policy);
        let level = |r: &EnergyReport| r.levels.get(i).cloned();
        rows.push((
            format!("{name}: hit rate"),
            col(&|r| level(r).map_or(Value::Missing, |l| Value::Percent(ratio(l.hits, l.requests)))),
        ));
        rows.push((format!("{}: misses", l.name), col(&|r| level(r).map_or(Value::Missing, |l| Value::Int(l.misses)))));
        rows.push((
            format!("{}: lines written back", l.name),
            col(&|r| level(r).map_or(Value::Missing, |l| Value::Int(l.lines_written_back))),
        ));
    }
    rows.push(("DRAM lines read".into(), col(&|r| Value::Int(r.dram_lines_read))));
    rows.push(("DRAM lines written".into(), col(&|r| Value::Int(r.dram_lines_written))));
    rows.push(("steps".into(), col(&|r| Value::Int(r.steps))));
    rows.push(("samples".into(), col(&|r| Value::Int(r.samples))));
    rows.push(("energy, nJ".into(), col(&|r| nj(r.energy_pj.total))));
    let n_levels = first.report.levels.len();
    for i in 0..=n_levels {
        let name = if i == n_levels { "DRAM".to_string() } else { format!("L{}", i + 1) };
        rows.push((format!("  at {name}"), col(&|r| r.energy_pj.by_level.get(i).map_or(Value::Missing, |&pj| nj(pj)))));
    }
    let mut roles: Vec<&str> = reports.iter().flat_map(|r| r.report.per_role.keys().copied()).collect();
    roles.sort();
    roles.dedup();
    for role in roles {
        rows.push((
            format!("  of {role} buffers"),
            col(&|r| r.per_role.get(role).map_or(Value::Missing, |j| nj(j.total))),
        ));
    }
    rows.push(("energy per step, nJ".into(), col(&|r| nj(r.pj_per_step))));
    rows.push(("energy per sample, nJ".into(), col(&|r| nj(r.pj_per_sample))));
    let head = format!("energy ({}-byte lines)", first.report.line);
    side_by_side(&head, &names(reports), &rows)
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}
