//! Aligned text tables, and the side-by-side layout every analyzer uses for
//! several traces: one column per trace, each after the first followed by
//! its ratio to the first. A table wider than [`set_max_width`] allows is
//! wrapped: its value columns continue in further blocks under the same
//! row labels, so no line is wider than the terminal.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The widest line a table may print (0: no limit).
static MAX_WIDTH: AtomicUsize = AtomicUsize::new(0);

/// Limits the width of every table rendered from now on (the `analyze`
/// binary passes the terminal's width); `None` for no limit, the default.
pub fn set_max_width(width: Option<usize>) {
    MAX_WIDTH.store(width.unwrap_or(0), Ordering::Relaxed);
}

/// A table of left-aligned labels and right-aligned values.
pub struct Table {
    /// Column names.
    pub headers: Vec<String>,
    /// Cells, row by row.
    pub rows: Vec<Vec<String>>,
    /// Leading columns that are text, aligned left.
    pub text_columns: usize,
    /// Columns that stay in the same block as the column before them when
    /// a wide table wraps (a ratio beside its value).
    pub glued: Vec<bool>,
}

impl Table {
    /// An empty table with these columns.
    pub fn new(headers: Vec<String>) -> Table {
        let glued = vec![false; headers.len()];
        Table { headers, rows: Vec::new(), text_columns: 1, glued }
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

    /// The aligned text, a line per row under a rule; wrapped into blocks
    /// of columns when wider than [`set_max_width`] allows.
    pub fn render(&self) -> String {
        let escaped;
        let this = if self.headers.iter().chain(self.rows.iter().flatten()).any(|c| c.chars().any(char::is_control)) {
            let fix = |r: &Vec<String>| r.iter().map(|c| printable(c).into_owned()).collect::<Vec<_>>();
            escaped = Table {
                headers: fix(&self.headers),
                rows: self.rows.iter().map(fix).collect(),
                text_columns: self.text_columns,
                glued: self.glued.clone(),
            };
            &escaped
        } else {
            self
        };
        this.render_printable()
    }

    fn render_printable(&self) -> String {
        let cols = self.headers.len();
        let mut width = vec![0usize; cols];
        for r in std::iter::once(&self.headers).chain(&self.rows) {
            for (i, c) in r.iter().enumerate().take(cols) {
                width[i] = width[i].max(c.chars().count());
            }
        }
        let max = MAX_WIDTH.load(Ordering::Relaxed);
        let total: usize = width.iter().sum::<usize>() + 2 * cols.saturating_sub(1);
        let labels = self.text_columns.min(cols);
        if max == 0 || total <= max || cols <= labels + 1 {
            return self.render_columns(&(0..cols).collect::<Vec<_>>(), &width);
        }
        // Blocks of value columns, each under the label columns, each as
        // wide as fits (at least one column, glued columns kept together).
        let label_width: usize = width[..labels].iter().sum::<usize>() + 2 * labels.saturating_sub(1);
        let mut blocks: Vec<Vec<usize>> = Vec::new();
        let mut current: Vec<usize> = Vec::new();
        let mut used = label_width;
        let mut i = labels;
        while i < cols {
            let mut group = vec![i];
            while group.last().is_some_and(|&j| j + 1 < cols && self.glued.get(j + 1).copied().unwrap_or(false)) {
                group.push(group[group.len() - 1] + 1);
            }
            let mut need: usize = group.iter().map(|&j| width[j] + 2).sum();
            if label_width + need > max {
                // Too wide together: the glued columns go one by one.
                group.truncate(1);
                need = width[i] + 2;
            }
            if !current.is_empty() && used + need > max {
                blocks.push(std::mem::take(&mut current));
                used = label_width;
            }
            used += need;
            i += group.len();
            current.extend(group);
        }
        blocks.push(current);
        let rendered: Vec<String> = blocks
            .iter()
            .map(|block| self.render_columns(&(0..labels).chain(block.iter().copied()).collect::<Vec<_>>(), &width))
            .collect();
        rendered.join("\n")
    }

    /// The columns `which` (indices), aligned to `width`.
    fn render_columns(&self, which: &[usize], width: &[usize]) -> String {
        let cols = self.headers.len();
        let mut out = String::new();
        let line = |r: &[String], out: &mut String| {
            for (k, &i) in which.iter().enumerate() {
                let Some(c) = r.get(i) else { continue };
                let i_is_text = i < self.text_columns;
                let pad = width[i] - c.chars().count();
                if i_is_text {
                    if k > 0 {
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
        let rule: Vec<String> = width.iter().take(cols).map(|w| "-".repeat(*w)).collect();
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
    // Digits from the right into a buffer (u64::MAX takes 26 bytes with commas).
    let mut buf = [0u8; 26];
    let (mut at, mut n, mut digits) = (buf.len(), n, 0);
    loop {
        if digits > 0 && digits % 3 == 0 {
            at -= 1;
            buf[at] = b',';
        }
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        digits += 1;
        if n == 0 {
            break;
        }
    }
    buf[at..].iter().map(|&b| b as char).collect()
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
    for (i, h) in table.headers.iter().enumerate() {
        table.glued[i] = h.starts_with("vs ");
    }
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

/// Hands every row of a table to the callback it is given.
pub type RowSource<'a> = dyn Fn(&mut dyn FnMut(&[String])) + 'a;

/// Writes a table too long to hold (millions of rows) to `out`: `rows`
/// is called twice, once to measure the columns and once to write, and
/// hands each row to the callback. The layout is [`Table::render`]'s when
/// the table fits the width (the first `text_columns` columns left-aligned,
/// the rest right-aligned, two spaces apart, a rule under the headers);
/// cells are expected printable.
pub fn stream_table(
    headers: &[String],
    text_columns: usize,
    rows: &RowSource<'_>,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let mut width: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    rows(&mut |r| {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    });
    let mut line = String::new();
    let mut put = |r: &[String], out: &mut dyn std::io::Write| -> std::io::Result<()> {
        line.clear();
        for (i, (c, w)) in r.iter().zip(&width).enumerate() {
            let pad = w.saturating_sub(c.chars().count());
            if i < text_columns {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(c);
                line.extend(std::iter::repeat_n(' ', pad));
            } else {
                line.push_str("  ");
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(c);
            }
        }
        let trimmed = line.trim_end().len();
        line.truncate(trimmed);
        line.push('\n');
        out.write_all(line.as_bytes())
    };
    put(headers, out)?;
    let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
    put(&rule, out)?;
    let mut result = Ok(());
    rows(&mut |r| {
        if result.is_ok() {
            result = put(r, out);
        }
    });
    result
}

/// `text` with control characters escaped as Rust writes them (`\n`,
/// `\u{1b}`), for a terminal: a buffer name is data from a file, and an
/// escape sequence in it must not reach the screen as one.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    printable_except(text, None)
}

/// [`printable`], leaving `keep` (the line ends of a whole report) as it is.
pub fn printable_except(text: &str, keep: Option<char>) -> std::borrow::Cow<'_, str> {
    let escape = |c: char| c.is_control() && Some(c) != keep;
    if !text.chars().any(escape) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if escape(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
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
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
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
