//! The comparison tables: published beside ours with a match column, as
//! aligned text for the terminal and Markdown for `reports/seeds.md`.

/// One value of ours, formatted the way the seed documents print theirs.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Int(u64),
    /// A float shown rounded to an integer (the seeds round ARDs).
    Rounded(f64),
    Fixed(f64, usize),
    /// A fraction shown as a whole percent.
    Percent0(f64),
    /// A fraction shown as a percent with one decimal.
    Percent1(f64),
    Text(String),
    Empty,
    /// A figure measured on this machine by this run (a wall time): printed,
    /// but kept out of the tracked report, so that running the demo leaves
    /// the checkout as it was.
    Measured(f64, usize),
}

/// What the report file shows for a [`Cell::Measured`].
pub const MEASURED_IN_FILE: &str = "(printed by make demo)";

impl Cell {
    pub fn int(v: u64) -> Cell {
        Cell::Int(v)
    }
    pub fn round(v: f64) -> Cell {
        Cell::Rounded(v)
    }

    /// The value as the published figure would print it, for comparison.
    fn shown(&self) -> Option<f64> {
        match *self {
            Cell::Int(v) => Some(v as f64),
            Cell::Rounded(v) => Some(v.round()),
            Cell::Fixed(v, d) => Some((v * 10f64.powi(d as i32)).round() / 10f64.powi(d as i32)),
            Cell::Percent0(v) => Some((v * 100.0).round()),
            Cell::Percent1(v) => Some((v * 1000.0).round() / 10.0),
            Cell::Text(_) | Cell::Empty | Cell::Measured(..) => None,
        }
    }

    pub fn render(&self) -> String {
        match self {
            Cell::Int(v) => thousands(*v as f64),
            Cell::Rounded(v) => thousands(v.round()),
            Cell::Fixed(v, d) | Cell::Measured(v, d) => format!("{v:.d$}"),
            Cell::Percent0(v) => format!("{:.0}%", v * 100.0),
            Cell::Percent1(v) => format!("{:.1}%", v * 100.0),
            Cell::Text(t) => t.clone(),
            Cell::Empty => String::new(),
        }
    }
}

fn thousands(v: f64) -> String {
    let neg = v < 0.0;
    let s = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if neg {
        format!("-{out}")
    } else {
        out
    }
}

/// How a published figure prints, in the style of the value beside it.
fn published(v: f64, like: &Cell) -> String {
    match like {
        Cell::Fixed(_, d) => format!("{v:.d$}"),
        Cell::Percent0(_) => format!("{v:.0}%"),
        Cell::Percent1(_) => format!("{v:.1}%"),
        _ if v.fract() == 0.0 => thousands(v),
        _ => format!("{v}"),
    }
}

pub struct Table {
    pub title: String,
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    /// `(row, column)` of the cells that are [`Cell::Measured`].
    measured: Vec<(usize, usize)>,
    notes: Vec<String>,
    compared: usize,
    matched: usize,
}

impl Table {
    pub fn new(title: &str, headers: &[&str]) -> Table {
        Table {
            title: title.into(),
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
            measured: Vec::new(),
            notes: Vec::new(),
            compared: 0,
            matched: 0,
        }
    }

    /// A row: label, then (published, ours, match) for each pair.
    pub fn compare_row(&mut self, label: &str, pairs: &[(Option<f64>, Cell)]) {
        self.row_cells(vec![Cell::Text(label.into())]);
        self.extend_compare(pairs);
    }

    pub fn row_cells(&mut self, cells: Vec<Cell>) {
        self.rows.push(Vec::new());
        self.row_extend(cells);
    }

    pub fn row_extend(&mut self, cells: Vec<Cell>) {
        let Some(row) = self.rows.len().checked_sub(1) else { return };
        for c in cells {
            if matches!(c, Cell::Measured(..)) {
                self.measured.push((row, self.rows[row].len()));
            }
            self.rows[row].push(c.render());
        }
    }

    /// Appends (published, ours, match) triples to the last row.
    pub fn extend_compare(&mut self, pairs: &[(Option<f64>, Cell)]) {
        let mut cells = Vec::new();
        for (p, ours) in pairs {
            let verdict = match (p, ours.shown()) {
                (Some(p), Some(o)) => {
                    self.compared += 1;
                    if (p - o).abs() < 1e-9 {
                        self.matched += 1;
                        "yes"
                    } else {
                        "NO"
                    }
                }
                _ => "",
            };
            cells.push(p.map(|p| published(p, ours)).unwrap_or_else(|| "-".into()));
            cells.push(ours.render());
            cells.push(verdict.into());
        }
        if let Some(r) = self.rows.last_mut() {
            r.extend(cells);
        }
    }

    pub fn note(&mut self, text: &str) {
        self.notes.push(text.into());
    }

    fn text(&self) -> String {
        let cols = self.headers.len();
        let mut w = vec![0; cols];
        for r in std::iter::once(&self.headers).chain(&self.rows) {
            for (i, c) in r.iter().enumerate().take(cols) {
                w[i] = w[i].max(c.chars().count());
            }
        }
        let line = |r: &[String]| {
            let cells: Vec<String> = (0..cols)
                .map(|i| {
                    let c = r.get(i).map(String::as_str).unwrap_or("");
                    if i == 0 {
                        format!("{c:<width$}", width = w[i])
                    } else {
                        format!("{c:>width$}", width = w[i])
                    }
                })
                .collect();
            cells.join("  ").trim_end().to_string() + "\n"
        };
        let mut out = format!("{}\n\n", self.title);
        out += &line(&self.headers);
        out += &line(&w.iter().map(|n| "-".repeat(*n)).collect::<Vec<_>>());
        for r in &self.rows {
            out += &line(r);
        }
        for n in &self.notes {
            out += &format!("\n  note: {n}\n");
        }
        out + "\n"
    }

    fn markdown(&self) -> String {
        let mut out = format!("## {}\n\n", self.title);
        out += &format!("| {} |\n", self.headers.join(" | "));
        out += &format!("|{}\n", "---|".repeat(self.headers.len()));
        for (i, r) in self.rows.iter().enumerate() {
            let mut cells = r.clone();
            cells.resize(self.headers.len(), String::new());
            for &(_, col) in self.measured.iter().filter(|(row, _)| *row == i) {
                cells[col] = MEASURED_IN_FILE.into();
            }
            out += &format!("| {} |\n", cells.join(" | "));
        }
        for n in &self.notes {
            out += &format!("\n{n}\n");
        }
        out + "\n"
    }
}

#[derive(Default)]
pub struct Report {
    tables: Vec<Table>,
}

impl Report {
    pub fn push(&mut self, t: Table) {
        self.tables.push(t);
    }
    pub fn compared(&self) -> usize {
        self.tables.iter().map(|t| t.compared).sum()
    }
    pub fn matched(&self) -> usize {
        self.tables.iter().map(|t| t.matched).sum()
    }
    pub fn text(&self) -> String {
        self.tables.iter().map(Table::text).collect()
    }
    pub fn markdown(&self, plots: &[(&str, &str, &str)]) -> String {
        let mut out = String::from(
            "# The seed experiments, regenerated from traces\n\n\
             Generated by `make reproduce` (`target/release/reproduce`): every trace is recorded with `record` \
             into `traces/seeds/` and analyzed with `analyze`, the commands a user would type. *published* is \
             the figure printed in the seed document; *ours* is this project's; *match* compares them at the \
             published precision.\n\n",
        );
        out += &format!(
            "{} published figures compared: {} match, {} differ (each explained below its table).\n\n",
            self.compared(),
            self.matched(),
            self.compared() - self.matched()
        );
        for t in &self.tables {
            out += &t.markdown();
        }
        out += "## Plots\n\n";
        for (title, file, note) in plots {
            out += &format!("### {title}\n\n![{title}]({file})\n\n");
            if !note.is_empty() {
                out += &format!("{note}\n\n");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    /// A wall time reaches the terminal, never the tracked report: the
    /// demo leaves the checkout as it found it.
    #[test]
    fn measured_cells_stay_out_of_the_report_file() {
        let mut t = Table::new("t", &["variant", "wall s"]);
        t.row_cells(vec![Cell::Text("a".into()), Cell::Measured(0.012345, 4)]);
        assert!(t.text().contains("0.0123"));
        let md = t.markdown();
        assert!(md.contains(MEASURED_IN_FILE) && !md.contains("0.0123"), "{md}");
    }

    use super::*;

    #[test]
    fn matches_are_judged_at_the_published_precision() {
        let mut t = Table::new("t", &["m", "p", "o", "match"]);
        t.compare_row("a", &[(Some(31_500.0), Cell::round(31_499.64))]);
        t.compare_row("b", &[(Some(73.0), Cell::Percent0(0.7328))]);
        t.compare_row("c", &[(Some(1.39), Cell::Fixed(1.3867, 2))]);
        t.compare_row("d", &[(Some(32.0), Cell::int(49))]);
        t.compare_row("e", &[(None, Cell::int(49))]);
        assert_eq!((t.compared, t.matched), (4, 3));
        assert!(t.text().contains("NO"));
    }
}
