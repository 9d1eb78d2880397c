//! What `analyze dmd` prints: a row per buffer and a total for one trace;
//! several traces side by side with ratios to the first; and a plot of
//! where the live cost accrues and how deep reads go.

use memtrace::{Event, Header, TraceSummary};

use super::{DmdReport, Replay, Scan};
use crate::report::{by_name, names, Named, Report, Rows, PALETTE};
use crate::table::{side_by_side, thousands, Table, Value};

impl crate::Analyzer for Scan {
    type Output = Replay;
    fn event(&mut self, e: &Event) {
        Scan::event(self, e)
    }
    fn finish(self, _: &Header, _: &TraceSummary) -> crate::Result<Replay> {
        Scan::finish(self)
    }
}

impl crate::Analyzer for Replay {
    type Output = DmdReport;
    fn event(&mut self, e: &Event) {
        Replay::event(self, e)
    }
    fn finish(self, _: &Header, _: &TraceSummary) -> crate::Result<DmdReport> {
        Replay::finish(self)
    }
}

/// `4 bytes per element` or `each buffer's element size`, and the clock.
fn pricing(r: &DmdReport) -> String {
    let bytes = match r.bytes_per_element {
        Some(b) => format!("{b} byte{} per element", if b == 1 { "" } else { "s" }),
        None => "each buffer's own element size".to_string(),
    };
    format!("{bytes}, space_dmd clock: {}", r.clock.name())
}

const COSTS: [&str; 4] = ["bytedmd_classic", "bytedmd_live", "space_dmd", "address_cost"];

impl Report for DmdReport {
    fn text(reports: &[Named<DmdReport>]) -> String {
        let Some(first) = reports.first() else { return String::new() };
        let mut out = format!("geometric-stack costs ({})\n", pricing(&first.report));
        if let [one] = reports {
            let r = &one.report;
            out.push_str(&format!(
                "{}: {} loads ({} cold), {} stores\n",
                one.trace,
                thousands(r.loads),
                thousands(r.cold_loads),
                thousands(r.stores)
            ));
            let mut t = Table::new(
                std::iter::once("buffer").chain(std::iter::once("loads")).chain(COSTS).map(String::from).collect(),
            );
            for (name, b) in &r.per_buffer {
                let cells = [b.loads, b.bytedmd_classic, b.bytedmd_live, b.space_dmd, b.address_cost];
                t.row(std::iter::once(name.clone()).chain(cells.iter().map(|&v| thousands(v))).collect());
            }
            let cells = [r.loads, r.bytedmd_classic, r.bytedmd_live, r.space_dmd, r.address_cost];
            t.row(std::iter::once("(total)".to_string()).chain(cells.iter().map(|&v| thousands(v))).collect());
            out.push_str(&t.render());
            return out;
        }
        let col = |f: fn(&DmdReport) -> u64| reports.iter().map(|r| Value::Int(f(&r.report))).collect::<Vec<_>>();
        let rows: Rows = vec![
            ("loads".to_string(), col(|r| r.loads)),
            ("stores".to_string(), col(|r| r.stores)),
            ("cold loads".to_string(), col(|r| r.cold_loads)),
            ("bytedmd_classic".to_string(), col(|r| r.bytedmd_classic)),
            ("bytedmd_live".to_string(), col(|r| r.bytedmd_live)),
            ("space_dmd".to_string(), col(|r| r.space_dmd)),
            ("address_cost".to_string(), col(|r| r.address_cost)),
        ];
        out.push_str(&side_by_side("metric", &names(reports), &rows));
        out.push('\n');
        let rows = by_name(reports, |r| &r.per_buffer, |b| Value::Int(b.bytedmd_live));
        out.push_str(&side_by_side("bytedmd_live by buffer", &names(reports), &rows));
        out
    }
}

impl DmdReport {
    /// Two panels on one SVG: each trace's cumulative `bytedmd_live` over
    /// the fraction of its reads done, and how many reads fall at each
    /// live depth (log2 buckets).
    pub fn plot(path: &std::path::Path, reports: &[Named<DmdReport>]) -> Result<(), String> {
        use plotters::prelude::*;
        let err = |e: &dyn std::fmt::Display| format!("cannot draw the plot: {e}");
        let root = SVGBackend::new(path, (1000, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let (left, right) = root.split_horizontally(520);
        let colors = PALETTE.map(|(r, g, b)| RGBColor(r, g, b));
        let top = reports.iter().map(|r| r.report.bytedmd_live).max().unwrap_or(1).max(1) as f64;
        let mut chart = ChartBuilder::on(&left)
            .caption("cumulative bytedmd_live", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..1.0, 0.0..top * 1.05)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("fraction of element reads")
            .y_desc("cost")
            .y_label_formatter(&|y| format!("{:.3e}", y))
            .draw()
            .map_err(|e| err(&e))?;
        for (i, r) in reports.iter().enumerate() {
            let color = colors[i % colors.len()];
            let reads = r.report.loads.max(1) as f64;
            let pts = std::iter::once((0.0, 0.0))
                .chain(r.report.profile.cumulative_live.iter().map(|&(n, c)| (n as f64 / reads, c as f64)));
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                .map_err(|e| err(&e))?
                .label(r.trace.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(&e))?;
        let buckets = reports.iter().map(|r| r.report.profile.live_depths.len()).max().unwrap_or(1).max(1);
        let peak = reports.iter().flat_map(|r| r.report.profile.live_depths.iter()).copied().max().unwrap_or(1).max(1);
        let mut hist = ChartBuilder::on(&right)
            .caption("reads by live depth", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..buckets as f64 + 1.0, 0.0..peak as f64 * 1.05)
            .map_err(|e| err(&e))?;
        hist.configure_mesh()
            .x_desc("live depth (log2 bucket: 2^k .. 2^(k+1)-1)")
            .y_desc("element reads")
            .x_label_formatter(&|x| format!("2^{}", *x as u64))
            .y_label_formatter(&|y| thousands(*y as u64))
            .draw()
            .map_err(|e| err(&e))?;
        for (i, r) in reports.iter().enumerate() {
            let color = colors[i % colors.len()];
            // A step per bucket, so that buckets read as bars.
            let mut pts = Vec::new();
            for (k, &n) in r.report.profile.live_depths.iter().enumerate() {
                pts.push((k as f64, n as f64));
                pts.push((k as f64 + 1.0, n as f64));
            }
            hist.draw_series(LineSeries::new(pts, color.stroke_width(2))).map_err(|e| err(&e))?;
        }
        root.present().map_err(|e| err(&e))
    }
}
