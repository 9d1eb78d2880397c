//! `analyze mrc`: the exact LRU miss-ratio curve for every cache size in one
//! pass, from LRU stack distances (Mattson et al.): a request's distance is
//! the number of distinct lines touched since the line's previous request,
//! plus one; a fully associative LRU cache of C lines hits exactly the
//! requests with distance <= C.
//!
//! Distances come from the set of each line's latest request time
//! ([`crate::timeset::TimeSet`], O(log n) per request). Times are
//! renumbered whenever they run out of room, so memory follows the number
//! of distinct lines, not the length of the trace.
//!
//! `--sample R` is SHARDS-style spatial sampling (Waldspurger et al., FAST
//! 2015): only lines whose hash falls below R are tracked, and their
//! distances and counts are scaled by 1/R.

use memtrace::{Event, Header};
use serde::Serialize;

use crate::linecache::LineLayout;
use crate::linemap::LineMap;
use crate::report::{Named, Report};
use crate::table::{thousands, Table};
use crate::timeset::TimeSet;
use crate::units::{fixed, format_size};

/// LRU stack distances, one request at a time.
pub struct StackDistances {
    /// Each line's latest request time (renumbered by `compact`).
    last: LineMap,
    times: TimeSet,
    capacity: usize,
    /// The least capacity a renumbering leaves ([`MIN_CAPACITY`]; smaller in tests).
    min_capacity: usize,
    now: usize,
}

impl Default for StackDistances {
    fn default() -> Self {
        StackDistances::new()
    }
}

/// Request times before a renumbering, at least: a renumbering costs a
/// sort of the distinct lines and a new tree, so doing it every few
/// thousand requests (twice the distinct lines, for a training trace's
/// 1,700) cost more than the requests themselves. 8 MiB of tree.
const MIN_CAPACITY: usize = 1 << 20;

impl StackDistances {
    /// An empty stack.
    pub fn new() -> StackDistances {
        StackDistances::with_min_capacity(MIN_CAPACITY)
    }

    /// An empty stack that renumbers once `min_capacity` times are used
    /// (tests make renumbering frequent).
    pub fn with_min_capacity(min_capacity: usize) -> StackDistances {
        let first = 1024.min(min_capacity).max(2);
        StackDistances {
            last: LineMap::new(),
            times: TimeSet::with_first(first, 0),
            capacity: first,
            min_capacity,
            now: 0,
        }
    }

    /// The requests of lines `first..=last` in order, reported as
    /// `f(distance, count)` for groups of consecutive lines with the same
    /// distance (`None`: first requests).
    ///
    /// A training trace sweeps buffers: a range of lines last requested
    /// together, in the same order, is requested again. Then every line of
    /// the run has the same distance, that of its first line: between a
    /// line's previous request and this one lie the rest of the old run, what
    /// came after it, and the lines of the new run already requested, and
    /// the first and the last of these trade places along the run. So a run
    /// costs one distance query, two range updates of the tree and a map
    /// update per line, instead of a query and two updates per line. Lines
    /// whose previous requests were not contiguous split the run where they
    /// stop; the property tests compare the result with a list-based model.
    pub fn access_run(&mut self, first: u64, last: u64, mut f: impl FnMut(Option<u64>, u64)) {
        let mut line = first;
        loop {
            if self.now == self.capacity {
                self.compact();
            }
            let max = (last - line).min((self.capacity - self.now - 1) as u64) + 1;
            let t = self.now;
            let prev = self.last.get(line);
            let mut n = 1u64;
            match prev {
                None => {
                    while n < max && self.last.get(line + n).is_none() {
                        n += 1;
                    }
                }
                Some(p) => {
                    while n < max && self.last.get(line + n) == Some(p + n as u32) {
                        n += 1;
                    }
                }
            }
            let k = n as usize;
            let distance = prev.map(|p| {
                let p = p as usize;
                let between = self.live_after(p);
                self.times.remove(p, p + k);
                between as u64 + 1
            });
            self.times.insert(t, t + k);
            for i in 0..n {
                self.last.insert(line + i, (t as u64 + i) as u32);
            }
            self.now += k;
            f(distance, n);
            if line + n > last {
                return;
            }
            line += n;
        }
    }

    /// The distance of a request of `line` (`None`: first request, a cold miss).
    pub fn access(&mut self, line: u64) -> Option<u64> {
        if self.now == self.capacity {
            self.compact();
        }
        let t = self.now;
        self.now += 1;
        let d = match self.last.get(line) {
            Some(prev) => {
                let prev = prev as usize;
                let between = self.live_after(prev);
                self.times.remove(prev, prev + 1);
                Some(between as u64 + 1)
            }
            None => None,
        };
        self.last.insert(line, t as u32);
        self.times.insert(t, t + 1);
        d
    }

    /// Live times after time `p`: every line's latest request is before
    /// now, so they are the distinct lines less those at or before `p`
    /// (one prefix query, not two).
    #[inline]
    fn live_after(&self, p: usize) -> i64 {
        (self.last.len() - self.times.before(p + 1)) as i64
    }

    /// Renumbers the latest-request times 0..distinct, keeping their order:
    /// each line is put at its old time (they are distinct and below now),
    /// and the lines are read back in order of time.
    fn compact(&mut self) {
        let mut by_time = vec![u64::MAX; self.now];
        for (line, t) in self.last.iter() {
            by_time[t as usize] = line;
        }
        let distinct = self.last.len();
        // Times are u32: room for 2^31 distinct lines (128 GiB at 64-byte lines).
        self.capacity = (distinct * 2).clamp(self.min_capacity.max(2), u32::MAX as usize - 1);
        for (i, line) in by_time.into_iter().filter(|&l| l != u64::MAX).enumerate() {
            self.last.insert(line, i as u32);
        }
        self.times = TimeSet::with_first(self.capacity, distinct);
        self.now = distinct;
    }

    /// Distinct lines seen.
    pub fn distinct(&self) -> usize {
        self.last.len()
    }
}

/// One point of the curve. Fields in alphabetical order: JSON keys are
/// sorted everywhere, and `mrc --json` streams points straight from here.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    /// `misses / requests`.
    pub miss_ratio: f64,
    /// Misses of a fully associative LRU cache of that size.
    pub misses: u64,
    /// Line requests.
    pub requests: u64,
    /// Cache size.
    pub size_bytes: u64,
}

/// The distance histogram of a trace, from which any point of the curve follows.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Line size in bytes.
    pub line: u64,
    /// Line requests.
    pub requests: u64,
    /// First requests of a line (misses at every size).
    pub cold: u64,
    /// `hist[d]`: requests with stack distance d (index 0 unused).
    pub hist: Vec<u64>,
    /// The SHARDS sampling rate (1: exact).
    pub sample: f64,
}

impl Curve {
    /// Misses of a fully associative LRU cache of `size_bytes`.
    pub fn misses_at(&self, size_bytes: u64) -> u64 {
        let lines = (size_bytes / self.line) as usize;
        let hits: u64 = self.hist.iter().take(lines + 1).sum();
        self.requests - hits
    }

    /// The point of the curve at `size_bytes`.
    pub fn point(&self, size_bytes: u64) -> Point {
        let misses = self.misses_at(size_bytes);
        Point { size_bytes, misses, requests: self.requests, miss_ratio: ratio(misses, self.requests) }
    }

    /// The points where the curve changes: each distance that occurs, and 0.
    pub fn steps(&self) -> Vec<Point> {
        let mut out = vec![self.point(0)];
        let mut misses = self.requests;
        for (d, &n) in self.hist.iter().enumerate().skip(1) {
            if n > 0 {
                misses -= n;
                let size_bytes = d as u64 * self.line;
                out.push(Point {
                    size_bytes,
                    misses,
                    requests: self.requests,
                    miss_ratio: ratio(misses, self.requests),
                });
            }
        }
        out
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Builds a [`Curve`] from a trace's events.
pub struct Mrc {
    layout: LineLayout,
    stack: StackDistances,
    hist: Vec<u64>,
    requests: u64,
    cold: u64,
    /// Sampling threshold on a 24-bit hash, and the scale 1/R.
    threshold: u64,
    sample: f64,
}

const HASH_SPACE: u64 = 1 << 24;

#[inline]
fn spread(line: u64) -> u64 {
    // SplitMix64's finalizer: a well-mixed hash so that sampling is spatially uniform.
    let mut z = line.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) % HASH_SPACE
}

impl Mrc {
    /// `sample` in (0, 1]: the fraction of lines tracked (1: exact).
    pub fn new(header: &Header, line: u64, sample: f64) -> Mrc {
        let sample = if sample > 0.0 && sample <= 1.0 { sample } else { 1.0 };
        Mrc {
            layout: LineLayout::new(header, line),
            stack: StackDistances::new(),
            hist: vec![0; 2],
            requests: 0,
            cold: 0,
            threshold: (sample * HASH_SPACE as f64).round() as u64,
            sample,
        }
    }

    /// One event.
    #[inline]
    pub fn event(&mut self, e: &Event) {
        let (a, b) = self.layout.lines(e);
        let exact = self.sample >= 1.0;
        if exact {
            let (hist, cold) = (&mut self.hist, &mut self.cold);
            self.requests += b - a + 1;
            self.stack.access_run(a, b, |d, n| match d {
                Some(d) => {
                    let d = d as usize;
                    if d >= hist.len() {
                        hist.resize((d + 1).next_power_of_two(), 0);
                    }
                    hist[d] += n;
                }
                None => *cold += n,
            });
            return;
        }
        for l in a..=b {
            if !exact && spread(l) >= self.threshold {
                continue;
            }
            self.requests += 1;
            match self.stack.access(l) {
                Some(d) => {
                    // The d - 1 sampled lines in between stand for (d - 1) / R lines:
                    // an immediate reuse stays at distance 1 (scaling d itself would
                    // push every short reuse past small caches).
                    let d = if exact { d as usize } else { ((d - 1) as f64 / self.sample).round() as usize + 1 };
                    if d >= self.hist.len() {
                        self.hist.resize((d + 1).next_power_of_two(), 0);
                    }
                    self.hist[d] += 1;
                }
                None => self.cold += 1,
            }
        }
    }

    /// The curve.
    pub fn finish(self) -> Curve {
        let scale = |n: u64| if self.sample >= 1.0 { n } else { (n as f64 / self.sample).round() as u64 };
        let mut hist: Vec<u64> = self.hist.iter().map(|&n| scale(n)).collect();
        let requests = hist.iter().sum::<u64>() + scale(self.cold);
        while hist.len() > 2 && hist.last() == Some(&0) {
            hist.pop();
        }
        Curve { line: self.layout.line_bytes(), requests, cold: scale(self.cold), hist, sample: self.sample }
    }
}

impl crate::Analyzer for Mrc {
    type Output = Curve;
    fn event(&mut self, e: &Event) {
        Mrc::event(self, e)
    }
    fn finish(self, _: &Header, _: &memtrace::TraceSummary) -> crate::Result<Curve> {
        Ok(Mrc::finish(self))
    }
}

/// What `analyze mrc` prints of one trace: points of its curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MrcReport {
    /// At the sizes asked for, or wherever the curve changes.
    pub points: Vec<Point>,
    /// The SHARDS sampling rate: 1 for the exact curve; below, every count
    /// is an estimate (sampled counts scaled by 1 / sample).
    pub sample: f64,
}

impl MrcReport {
    /// The points of `curve` at `sizes` (every step when empty).
    pub fn of(curve: &Curve, sizes: &[u64]) -> MrcReport {
        let points = if sizes.is_empty() { curve.steps() } else { sizes.iter().map(|&s| curve.point(s)).collect() };
        MrcReport { points, sample: curve.sample }
    }

    /// `, estimated (SHARDS sample 0.1)` for a sampled curve; nothing for an exact one.
    fn estimated(&self) -> String {
        if self.sample < 1.0 {
            format!(", estimated (SHARDS sample {})", self.sample)
        } else {
            String::new()
        }
    }

    /// `trace,size_bytes,misses,requests,miss_ratio`, a line per point,
    /// written as it goes.
    pub fn write_csv(curves: &[Named<MrcReport>], out: &mut dyn std::io::Write) -> std::io::Result<()> {
        writeln!(out, "trace,size_bytes,misses,requests,miss_ratio")?;
        for c in curves {
            let trace = crate::export::csv_field(&c.trace);
            for p in &c.report.points {
                writeln!(out, "{trace},{},{},{},{}", p.size_bytes, p.misses, p.requests, p.miss_ratio)?;
            }
        }
        Ok(())
    }
}

/// Points of a curve, tagged with its trace, keys in order: `analyze mrc
/// --json` streams them (a full curve has a point per distinct distance).
#[derive(Serialize)]
struct TaggedMrc<'a> {
    points: &'a [Point],
    sample: f64,
    trace: &'a str,
}

/// Curves with more points than this are written row by row.
const STREAM_POINTS: usize = 1 << 16;

impl Report for MrcReport {
    fn write_json(curves: &[Named<MrcReport>], out: &mut dyn std::io::Write) -> serde_json::Result<()> {
        fn tag(c: &Named<MrcReport>) -> TaggedMrc<'_> {
            TaggedMrc { points: &c.report.points, sample: c.report.sample, trace: &c.trace }
        }
        match curves {
            [one] => serde_json::to_writer_pretty(out, &tag(one)),
            many => serde_json::to_writer_pretty(out, &many.iter().map(tag).collect::<Vec<_>>()),
        }
    }

    /// Long curves (a point per distinct distance: millions for a large
    /// working set) are written row by row in the same layout.
    fn write_text(curves: &[Named<MrcReport>], out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let points: usize = curves.iter().map(|c| c.report.points.len()).sum();
        if points <= STREAM_POINTS || curves.len() > 1 {
            let text = MrcReport::text(curves);
            return out.write_all(crate::table::printable_except(&text, Some('\n')).as_bytes());
        }
        for c in curves {
            let title = format!("LRU miss-ratio curve of {}{}", c.trace, c.report.estimated());
            out.write_all(crate::table::printable(&title).as_bytes())?;
            out.write_all(b"\n")?;
            let headers: Vec<String> = ["cache size", "misses", "requests", "miss ratio"].map(String::from).to_vec();
            let rows = |f: &mut dyn FnMut(&[String])| {
                for p in &c.report.points {
                    f(&[format_size(p.size_bytes), thousands(p.misses), thousands(p.requests), fixed(p.miss_ratio, 4)]);
                }
            };
            crate::table::stream_table(&headers, 1, &rows, out)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Several traces at the same sizes (`--size`): one table, a miss-ratio
    /// column per trace, misses in parentheses. Otherwise a table per trace.
    fn text(curves: &[Named<MrcReport>]) -> String {
        let same_sizes = curves.len() > 1
            && curves.windows(2).all(|w| {
                let (a, b) = (&w[0].report.points, &w[1].report.points);
                a.len() == b.len() && a.iter().zip(b).all(|(a, b)| a.size_bytes == b.size_bytes)
            });
        if same_sizes {
            let corner = format!("LRU miss ratio{}", curves[0].report.estimated());
            let mut table = Table::new(std::iter::once(corner).chain(curves.iter().map(|c| c.trace.clone())).collect());
            let requests = curves.iter().map(|c| c.report.points.first().map_or(0, |p| p.requests));
            table.row(std::iter::once("requests".to_string()).chain(requests.map(thousands)).collect());
            for (i, p) in curves[0].report.points.iter().enumerate() {
                let cells = curves.iter().map(|c| {
                    let q = &c.report.points[i];
                    format!("{:.4} ({})", q.miss_ratio, thousands(q.misses))
                });
                table.row(std::iter::once(format_size(p.size_bytes)).chain(cells).collect());
            }
            return table.render();
        }
        let mut out = String::new();
        for c in curves {
            out.push_str(&format!("LRU miss-ratio curve of {}{}\n", c.trace, c.report.estimated()));
            let mut table =
                Table::new(["cache size", "misses", "requests", "miss ratio"].iter().map(|s| s.to_string()).collect());
            for p in &c.report.points {
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
}

/// All curves on one SVG, cache size on a log scale.
pub fn plot(path: &std::path::Path, curves: &[Named<Curve>]) -> Result<(), String> {
    use plotters::prelude::*;
    let err = |e: &dyn std::fmt::Display| format!("cannot draw the plot: {e}");
    let root = SVGBackend::new(path, (800, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    // The axis runs a power of two past the largest size where a curve
    // changes, so the working-set cliff is not pressed against the frame.
    let largest = curves.iter().map(|n| (n.report.hist.len() as u64 + 1) * n.report.line).max().unwrap_or(64).max(128);
    let max_size = (largest.next_power_of_two() * 2) as f64;
    // Ticks at powers of two, at most about ten of them.
    let powers: Vec<f64> = (6..=max_size.log2() as u32).map(|k| (1u64 << k) as f64).collect();
    let every = powers.len().div_ceil(10).max(1);
    let ticks: Vec<f64> = powers.iter().copied().step_by(every).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption("LRU miss-ratio curve", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d((64.0..max_size).log_scale().with_key_points(ticks), 0.0..1.0)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("cache size (bytes, log scale)")
        .y_desc("miss ratio")
        .x_label_formatter(&|x| format_size(x.round() as u64))
        .draw()
        .map_err(|e| err(&e))?;
    let colors = crate::report::PALETTE.map(|(r, g, b)| RGBColor(r, g, b));
    for (i, n) in curves.iter().enumerate() {
        let (name, c) = (&n.trace, &n.report);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_distances_count_distinct_lines_in_between() {
        let mut s = StackDistances::new();
        let d: Vec<Option<u64>> = [1, 2, 3, 1, 1, 2, 3, 3].iter().map(|&l| s.access(l)).collect();
        assert_eq!(d, [None, None, None, Some(3), Some(1), Some(3), Some(3), Some(1)]);
    }

    #[test]
    fn compaction_keeps_distances() {
        let mut a = StackDistances::with_min_capacity(1024);
        let mut naive: Vec<u64> = Vec::new();
        for k in 0..20_000u64 {
            let line = (k * 7919) % 300;
            let got = a.access(line);
            let want = naive.iter().rev().position(|&x| x == line).map(|p| {
                let tail = &naive[naive.len() - p..];
                tail.iter().collect::<std::collections::HashSet<_>>().len() as u64 + 1
            });
            assert_eq!(got, want, "request {k}");
            naive.push(line);
            if naive.len() > 4000 {
                naive.drain(..1000);
            }
        }
        assert!(a.capacity < 5000, "memory follows distinct lines");
    }

    /// The LRU stack as a list, most recent first: a line's distance is its
    /// position plus one. No trees, no times, no runs.
    struct NaiveStack(Vec<u64>);

    impl NaiveStack {
        fn access(&mut self, line: u64) -> Option<u64> {
            let at = self.0.iter().position(|&l| l == line);
            if let Some(i) = at {
                self.0.remove(i);
            }
            self.0.insert(0, line);
            at.map(|i| i as u64 + 1)
        }
    }

    #[test]
    fn runs_give_each_line_its_own_distance() {
        // Sweeps of ranges, repeated, interleaved and partly overlapping (as
        // training traces are), and scattered single lines, over 400 lines.
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut rand = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        for min_capacity in [2, 64, 1 << 20] {
            let mut fast = StackDistances::with_min_capacity(min_capacity);
            let mut naive = NaiveStack(Vec::new());
            let mut runs = 0;
            for _ in 0..3000 {
                let (first, len) = match rand(4) {
                    0 => (rand(400), 1),
                    1 => (rand(4) * 100, 100),
                    _ => {
                        let a = rand(400);
                        (a, 1 + rand(400 - a))
                    }
                };
                let mut want = Vec::new();
                for l in first..first + len {
                    want.push(naive.access(l));
                }
                let mut got = Vec::new();
                fast.access_run(first, first + len - 1, |d, n| {
                    runs += usize::from(n > 1 && d.is_some());
                    got.extend(std::iter::repeat_n(d, n as usize));
                });
                assert_eq!(got, want, "lines {first}..{}, min capacity {min_capacity}", first + len);
            }
            assert!(runs > 100, "the run path was exercised ({runs} runs)");
        }
    }

    #[test]
    fn a_long_curve_streams_the_same_text_and_json() {
        // A point per distance from 1 to 100,000: beyond STREAM_POINTS.
        let n = 100_000usize;
        let curve = Curve { line: 64, requests: 3 * n as u64, cold: n as u64, hist: vec![2; n + 1], sample: 1.0 };
        let named = vec![Named { trace: "t".to_string(), report: MrcReport::of(&curve, &[]) }];
        assert!(named[0].report.points.len() > STREAM_POINTS);
        let mut streamed = Vec::new();
        MrcReport::write_text(&named, &mut streamed).unwrap();
        // Compared without printing megabytes on failure: the first difference.
        let same = |a: &str, b: &str| {
            let at = a.bytes().zip(b.bytes()).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
            assert!(
                a == b,
                "differ at byte {at}: {:?} vs {:?}",
                &a[at.saturating_sub(40)..(at + 40).min(a.len())],
                &b[at.saturating_sub(40)..(at + 40).min(b.len())]
            );
        };
        same(&String::from_utf8(streamed).unwrap(), &MrcReport::text(&named));
        let mut json = Vec::new();
        MrcReport::write_json(&named, &mut json).unwrap();
        same(&String::from_utf8(json).unwrap(), &serde_json::to_string_pretty(&MrcReport::json(&named)).unwrap());
    }
}
