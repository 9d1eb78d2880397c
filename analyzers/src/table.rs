//! Aligned text tables, and the side-by-side layout every analyzer uses for
//! several traces: one column per trace, each after the first followed by
//! its ratio to the first.

/// A table of left-aligned labels and right-aligned values.
pub struct Table {
    /// Column names.
    pub headers: Vec<String>,
    /// Cells, row by row.
    pub rows: Vec<Vec<String>>,
    /// Leading columns that are text, aligned left.
    pub text_columns: usize,
}

impl Table {
    /// An empty table with these columns.
    pub fn new(headers: Vec<String>) -> Table {
        Table { headers, rows: Vec::new(), text_columns: 1 }
    }

    /// The first `n` columns hold text and align left.
    pub fn text_columns(mut self, n: usize) -> Table {
        self.text_columns = n;
        self
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The aligned text, a line per row under a rule.
    pub fn render(&self) -> String {
        let cols = self.headers.len();
        let mut width = vec![0usize; cols];
        for r in std::iter::once(&self.headers).chain(&self.rows) {
            for (i, c) in r.iter().enumerate().take(cols) {
                width[i] = width[i].max(c.chars().count());
            }
        }
        let mut out = String::new();
        let line = |r: &[String], out: &mut String| {
            for (i, c) in r.iter().enumerate().take(cols) {
                let pad = width[i] - c.chars().count();
                if i < self.text_columns {
                    if i > 0 {
                        out.push_str("  ");
                    }
                    out.push_str(c);
                    out.push_str(&" ".repeat(pad));
                } else {
                    out.push_str("  ");
                    out.push_str(&" ".repeat(pad));
                    out.push_str(c);
                }
            }
            let trimmed = out.trim_end().len();
            out.truncate(trimmed);
            out.push('\n');
        };
        line(&self.headers, &mut out);
        let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
        line(&rule, &mut out);
        for r in &self.rows {
            line(r, &mut out);
        }
        out
    }
}

/// A metric's value in one trace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// An integer, with thousands separators.
    Int(u64),
    /// A number with two decimals.
    Float(f64),
    /// A fraction shown as a percentage.
    Percent(f64),
    /// No value: `-`.
    Missing,
}

impl Value {
    fn number(self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(i as f64),
            Value::Float(f) | Value::Percent(f) => Some(f),
            Value::Missing => None,
        }
    }

    /// The cell's text.
    pub fn render(self) -> String {
        match self {
            Value::Int(i) => thousands(i),
            Value::Float(f) => float(f),
            Value::Percent(f) => format!("{:.2}%", f * 100.0),
            Value::Missing => "-".into(),
        }
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A float with thousands separators and two decimals (more for small values).
pub fn float(f: f64) -> String {
    if !f.is_finite() {
        return f.to_string();
    }
    if f.abs() < 1.0 && f != 0.0 {
        return format!("{f:.4}");
    }
    let neg = f < 0.0;
    let scaled = (f.abs() * 100.0).round() as u64;
    format!("{}{}.{:02}", if neg { "-" } else { "" }, thousands(scaled / 100), scaled % 100)
}

/// Renders metrics side by side: `labels[i]` with `values[i][t]` for trace `t`.
pub fn side_by_side(first_header: &str, traces: &[String], rows: &[(String, Vec<Value>)]) -> String {
    let mut headers = vec![first_header.to_string()];
    for (t, name) in traces.iter().enumerate() {
        headers.push(name.clone());
        if t > 0 {
            headers.push(format!("vs {}", short(&traces[0])));
        }
    }
    let mut table = Table::new(headers);
    for (label, values) in rows {
        let mut cells = vec![label.clone()];
        for (t, v) in values.iter().enumerate() {
            cells.push(v.render());
            if t > 0 {
                cells.push(match (v.number(), values[0].number()) {
                    (Some(a), Some(b)) if b != 0.0 => format!("{:.2}x", a / b),
                    _ => "-".into(),
                });
            }
        }
        table.row(cells);
    }
    table.render()
}

/// The file name of a path, for narrow headers.
pub fn short(path: &str) -> String {
    std::path::Path::new(path).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_the_seeds() {
        assert_eq!(thousands(2455931), "2,455,931");
        assert_eq!(thousands(999), "999");
        assert_eq!(float(17976.402757), "17,976.40");
        assert_eq!(float(0.5), "0.5000");
        assert_eq!(Value::Percent(0.9166).render(), "91.66%");
    }

    #[test]
    fn ratios_are_to_the_first_trace() {
        let out = side_by_side(
            "metric",
            &["a".into(), "b".into()],
            &[("reads".into(), vec![Value::Int(10), Value::Int(25)])],
        );
        assert!(out.contains("2.50x"), "{out}");
    }
}
