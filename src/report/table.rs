//! The results table: every column (`--wide`, Markdown, HTML), or the few
//! that fit a terminal.
//!
//! The terminal table has five columns — strategy, exposed reads, the
//! anomalies that occurred by kind, the 95% bound, and the status with its
//! reason — laid out by comfy-table within the terminal's width. Long labels
//! (a gate's whole command line) keep their program name and lose the middle.

use comfy_table::{CellAlignment, ColumnConstraint, ContentArrangement, Table};

use super::words;
use super::{CaseReport, Report};
use crate::classify::Outcome;
use crate::numbers::{sci, thousands};

/// A column of the wide table.
pub struct Column {
    pub header: &'static str,
    /// Text (left-aligned) rather than a number (right-aligned).
    pub text: bool,
}

const fn num(header: &'static str) -> Column {
    Column { header, text: false }
}
const fn text(header: &'static str) -> Column {
    Column { header, text: true }
}

/// Every column, in order: the wide table.
pub const COLUMNS: [Column; 17] = [
    text("strategy"),
    num("writes"),
    num("w-err"),
    num("reads"),
    num("exposed"),
    num("ok"),
    num("stale"),
    num("empty"),
    num("missing"),
    num("torn-unparse"),
    num("torn-parse"),
    num("error"),
    num("foreign"),
    num("would-403"),
    num("0 ⇒ p ≤"),
    text("first anomaly"),
    text("status"),
];

/// What each column means (the pages' glossary, the README).
pub const GLOSSARY: &[(&str, &str)] = &[
    (
        "strategy",
        "the subject: a built-in strategy, or your writer's command",
    ),
    ("writes", "writes that returned success (committed versions)"),
    ("w-err", "writes that returned an error"),
    ("reads", "reads made by all readers together"),
    (
        "exposed",
        "reads that overlapped a write in flight: only these can tear",
    ),
    (
        "ok",
        "a whole version, current when the read began or written during it",
    ),
    (
        "stale",
        "a whole version, but a newer one had already been committed",
    ),
    ("empty", "zero bytes"),
    ("missing", "the file did not exist (ENOENT)"),
    (
        "torn-unparse",
        "bytes that equal no whole version, rejected by the client's parser",
    ),
    (
        "torn-parse",
        "bytes that equal no whole version, accepted by the parser: wrong data",
    ),
    ("error", "any other I/O error"),
    (
        "foreign",
        "the target was not torn's regular file (a link out, a FIFO, a device)",
    ),
    (
        "would-403",
        "calls whose token the client would have been refused with",
    ),
    (
        "0 ⇒ p ≤",
        "exact one-sided 95% upper bound on the probability of an anomalous read per exposed read, on rows with no anomalous read and nothing else found",
    ),
    ("first anomaly", "when the first anomaly came, and which"),
    (
        "anomalies",
        "(terminal) every anomaly that occurred, by kind: reads (torn-p = torn-parseable, torn-u = torn-unparseable) and writer-side (mode, litter, w-err, ...)",
    ),
    (
        "95% bound",
        "(terminal) for a case whose reads showed no anomaly, the exact 95% upper bound on the probability of one per exposed read",
    ),
    (
        "status",
        "pass, reproduced (a control showed the race), expected (a known flaw showed), fail, inconclusive, info, subject-error",
    ),
];

/// One row per case, every column.
pub fn rows(report: &Report) -> Vec<Vec<String>> {
    report.cases.iter().map(row).collect()
}

fn row(c: &CaseReport) -> Vec<String> {
    let count = |o: Outcome| thousands(c.outcome(o).count);
    // Per call: for a re-reading client one call is one read.
    let w = &c.calls_would_403;
    let w403 = if w.count == 0 {
        "0".to_string()
    } else {
        format!("{} ({:.2}%)", thousands(w.count), w.rate * 100.0)
    };
    let first = c.first_anomaly.map_or("—".to_string(), |f| {
        format!(
            "{:.2} ms, read {} ({})",
            f.seen.at_ms,
            thousands(f.seen.read_index),
            f.outcome.name()
        )
    });
    vec![
        c.label.clone(),
        thousands(c.writes.committed),
        thousands(c.writes.errors),
        thousands(c.reads),
        thousands(c.exposed_reads),
        count(Outcome::Ok),
        count(Outcome::Stale),
        count(Outcome::Empty),
        count(Outcome::Missing),
        count(Outcome::TornUnparseable),
        count(Outcome::TornParseable),
        count(Outcome::Error),
        count(Outcome::Foreign),
        w403,
        // The bound of a zero, per exposed read as everywhere, on rows whose
        // zero means something.
        words::zero_bound(c).map_or("—".into(), sci),
        first,
        words::status_cell(c),
    ]
}

/// The wide table as aligned plain text (`--wide`): every column.
pub fn plain(report: &Report) -> String {
    let rows = rows(report);
    let mut width: Vec<usize> = COLUMNS.iter().map(|c| c.header.chars().count()).collect();
    for r in &rows {
        for (w, cell) in width.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| -> String {
        let mut s = String::new();
        for ((cell, w), col) in cells.iter().zip(&width).zip(&COLUMNS) {
            let pad = " ".repeat(w - cell.chars().count());
            if col.text {
                s.push_str(cell);
                s.push_str(&pad);
            } else {
                s.push_str(&pad);
                s.push_str(cell);
            }
            s.push_str("  ");
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(COLUMNS.iter().map(|c| c.header.to_string()).collect());
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

/// The table for the terminal: fitted to `width` columns, or every column.
pub fn terminal(report: &Report, wide: bool) -> String {
    let mut out = if wide {
        plain(report)
    } else {
        fitted(report, terminal_width())
    };
    out.push_str(&clients(report, sentence_width()));
    out
}

/// The real clients' side, under the table: one wrapped line per case whose
/// scenario has a `client:` profile, in the client's own words.
pub fn clients(report: &Report, width: usize) -> String {
    let mut out = String::new();
    for c in &report.cases {
        if let Some(client) = &c.client {
            out.push('\n');
            out.push_str(&wrap(&format!("{}: {}", c.label, client.summary()), width));
            out.push('\n');
        }
    }
    out
}

/// The width to fit tables to: `COLUMNS` if set, else the terminal stderr is
/// on, else 80.
pub fn terminal_width() -> usize {
    known_width().unwrap_or(80)
}

/// The width to wrap sentences (verdict lines) at: the terminal's, or
/// `COLUMNS`. Without either (a CI log, a file) a sentence stays on one line,
/// whole for `grep`.
pub fn sentence_width() -> usize {
    known_width().unwrap_or(usize::MAX)
}

fn known_width() -> Option<usize> {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c > 0)
        .or_else(|| terminal_size::terminal_size_of(std::io::stderr()).map(|(w, _)| w.0 as usize))
}

/// Narrowest table torn lays out; a narrower terminal wraps it.
const MIN_WIDTH: usize = 40;

/// The five-column table, no line wider than `width`.
///
/// One line per case when that fits; otherwise, in this order, each kind of
/// anomaly goes on a line of its own, the status's reason goes under the
/// status, and the label gives way (down to 10 columns): a strategy's name
/// is worth more than a line. comfy-table wraps whatever still does not fit
/// inside its column.
pub fn fitted(report: &Report, width: usize) -> String {
    let width = width.max(MIN_WIDTH);
    let rows: Vec<FittedRow> = report.cases.iter().map(FittedRow::new).collect();
    let headers = ["strategy", "exposed", "anomalies", "95% bound", "status"];
    // Two spaces between columns.
    const GAP: usize = 2;
    let widest = |i: usize, split: bool| {
        rows.iter()
            .flat_map(|r| r.cell(i, split).lines().map(display_width).collect::<Vec<_>>())
            .chain([display_width(headers[i])])
            .max()
            .unwrap_or(0)
    };
    let label_natural = widest(0, false);
    let (mut split_anomalies, mut split_status) = (false, false);
    let others =
        |a: bool, s: bool| widest(1, false) + widest(2, a) + widest(3, false) + widest(4, s) + 4 * GAP;
    let label_room = |a, s| width.saturating_sub(others(a, s));
    if label_room(false, false) < label_natural {
        split_anomalies = true;
        if label_room(true, false) < label_natural {
            split_status = true;
        }
    }
    let label_width = label_natural.min(label_room(split_anomalies, split_status).max(10));
    let mut table = Table::new();
    table
        .load_style(comfy_table::presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(u16::try_from(width).unwrap_or(u16::MAX))
        .set_header(headers);
    for r in &rows {
        table.add_row([
            shorten_label(&r.label, label_width),
            r.cell(1, false),
            r.cell(2, split_anomalies),
            r.cell(3, false),
            r.cell(4, split_status),
        ]);
    }
    for (i, col) in table.column_iter_mut().enumerate() {
        col.set_padding((0, if i == 4 { 0 } else { GAP as u16 }));
        if i == 1 || i == 3 {
            col.set_cell_alignment(CellAlignment::Right);
        }
        // Labels are already short enough; numbers never wrap.
        if i < 4 && i != 2 {
            col.set_constraint(ColumnConstraint::ContentWidth);
        }
    }
    let mut out = String::new();
    for line in table.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A case's cells in the fitted table.
struct FittedRow {
    label: String,
    exposed: String,
    anomalies: Vec<String>,
    bound: String,
    status: String,
}

impl FittedRow {
    fn new(c: &CaseReport) -> Self {
        Self {
            label: c.label.clone(),
            exposed: thousands(c.exposed_reads),
            anomalies: words::parts(c).into_iter().map(|p| p.short).collect(),
            bound: bound_cell(c),
            status: words::status_cell(c),
        }
    }

    /// Cell `i`; `split` puts each anomaly (or the status's reason) on a line.
    fn cell(&self, i: usize, split: bool) -> String {
        match i {
            0 => self.label.clone(),
            1 => self.exposed.clone(),
            2 if self.anomalies.is_empty() => "—".into(),
            2 => self.anomalies.join(if split { "\n" } else { ", " }),
            3 => self.bound.clone(),
            _ if split => self.status.replacen(": ", ":\n", 1),
            _ => self.status.clone(),
        }
    }
}

/// The 95% upper bound on anomalous reads per exposed read, for a case whose
/// reads showed none (for the others the counts say more).
fn bound_cell(c: &CaseReport) -> String {
    words::zero_bound(c).map_or("—".into(), sci)
}

/// Columns a string takes on a terminal (every character torn prints is
/// one column wide: no CJK, no emoji).
fn display_width(s: &str) -> usize {
    s.chars().count()
}

/// Fits a case label into `max` columns. Until it fits: every path in it
/// keeps only its last component (`examples/writers/durable.py` →
/// `…/durable.py`); the `{path}`-style placeholders go; the subject kind
/// (`writer-stdio: `) goes; then the middle gives way to `…`, keeping the
/// start and, a little longer, the end (where the program's name is).
pub fn shorten_label(label: &str, max: usize) -> String {
    let fits = |s: &str| display_width(s) <= max;
    if fits(label) {
        return label.to_string();
    }
    let words = |s: &str, f: &dyn Fn(&str) -> Option<String>| -> String {
        s.split(' ').filter_map(f).collect::<Vec<_>>().join(" ")
    };
    let steps: [&dyn Fn(&str) -> String; 3] = [
        &|s| {
            words(s, &|w| match w.rsplit_once('/') {
                Some((dir, file)) if !dir.is_empty() && !dir.ends_with('…') && !file.is_empty() => {
                    Some(format!("…/{file}"))
                }
                _ => Some(w.to_string()),
            })
        },
        &|s| {
            words(s, &|w| {
                (!(w.starts_with('{') && w.ends_with('}'))).then(|| w.to_string())
            })
        },
        &|s| {
            s.replacen("writer-stdio: ", "", 1)
                .replacen("writer-cmd: ", "", 1)
        },
    ];
    let mut short = label.to_string();
    for step in steps {
        short = step(&short);
        if fits(&short) {
            return short;
        }
    }
    let chars: Vec<char> = short.chars().collect();
    let keep = max.saturating_sub(1);
    let head = keep * 2 / 5;
    let tail = keep - head;
    let mut s: String = chars[..head].iter().collect();
    s.push('…');
    s.extend(&chars[chars.len() - tail..]);
    s
}

/// The line printed when a case ends, fitted to `width` columns (lines of
/// the same run line up: the label's column depends only on the width).
pub fn progress_line(i: usize, n: usize, c: &CaseReport, width: usize) -> String {
    let prefix = format!("[{}/{}] ", i + 1, n);
    let tail = format!(
        " {:>9} exposed {:>9} anomalies  {}",
        thousands(c.exposed_reads),
        thousands(c.anomalous_reads()),
        c.status.name()
    );
    // Room for a status as long as "inconclusive"; a longer one takes it
    // from this line's label.
    let fixed = display_width(&prefix) + display_width(&tail) - c.status.name().len();
    let label_width = width.saturating_sub(fixed + "inconclusive".len()).clamp(8, 30);
    let label_width = label_width.min(width.saturating_sub(fixed + c.status.name().len()).max(8));
    let label = shorten_label(&c.label, label_width);
    let mut line = format!("{prefix}{label:<label_width$}{tail}");
    // Writes with a recipe finding are their own count, in their own unit,
    // where the line has room for them (the table and verdict name them).
    if c.recipe_anomalies > 0 {
        let flagged = format!(" · {} flagged writes", thousands(c.recipe_anomalies));
        if display_width(&line) + display_width(&flagged) <= width {
            line.push_str(&flagged);
        }
    }
    if display_width(&line) <= width {
        line
    } else {
        // Narrower than torn lays out: cut the line (the table follows).
        line.chars().take(width.saturating_sub(1)).chain(['…']).collect()
    }
}

/// Word-wraps a line to `width` columns; its continuation lines are
/// indented four more than its own indentation. A word longer than the
/// width (a path) stays whole.
pub fn wrap(line: &str, width: usize) -> String {
    let width = width.max(MIN_WIDTH);
    let body = line.trim_start_matches(' ');
    let indent = &line[..line.len() - body.len()];
    let more = format!("{indent}    ");
    let mut out = String::new();
    let mut current = indent.to_string();
    let mut empty = true;
    for word in body.split(' ') {
        if !empty && display_width(&current) + 1 + display_width(word) > width {
            out.push_str(&current);
            out.push('\n');
            current = more.clone();
            empty = true;
        }
        if !empty {
            current.push(' ');
        }
        current.push_str(word);
        empty = false;
    }
    out.push_str(&current);
    out
}

/// Escapes text for a Markdown table cell (`|` ends a cell; a newline a row).
pub fn md_cell(s: &str) -> String {
    s.replace('\\', "\\\\").replace('|', "\\|").replace('\n', " ")
}

/// The wide table in Markdown.
pub fn markdown(report: &Report) -> String {
    let headers: Vec<String> = COLUMNS.iter().map(|c| md_cell(c.header)).collect();
    let mut out = format!("| {} |\n|", headers.join(" | "));
    for c in &COLUMNS {
        out.push_str(if c.text { "---|" } else { "---:|" });
    }
    out.push('\n');
    for r in rows(report) {
        let cells: Vec<String> = r.iter().map(|c| md_cell(c)).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_keep_the_program_and_lose_the_middle() {
        let gate = "subject: writer-stdio: python3 examples/writers/durable.py {path}";
        assert_eq!(shorten_label(gate, 80), gate);
        assert_eq!(
            shorten_label(gate, 50),
            "subject: writer-stdio: python3 …/durable.py {path}"
        );
        assert_eq!(
            shorten_label(gate, 45),
            "subject: writer-stdio: python3 …/durable.py"
        );
        assert_eq!(shorten_label(gate, 30), "subject: python3 …/durable.py");
        let s = shorten_label(gate, 20);
        assert_eq!(s.chars().count(), 20, "{s}");
        assert!(s.starts_with("subject") && s.ends_with("durable.py"), "{s}");
        assert_eq!(
            shorten_label("flock-guarded+locking-readers", 20).chars().count(),
            20
        );
    }

    #[test]
    fn wrapping_keeps_indentation_and_width() {
        let line = format!("  first {}", "word ".repeat(30));
        let wrapped = wrap(line.trim_end(), 40);
        assert!(wrapped.lines().all(|l| l.chars().count() <= 40), "{wrapped}");
        assert!(wrapped.starts_with("  first word"));
        assert!(
            wrapped.lines().skip(1).all(|l| l.starts_with("      word")),
            "{wrapped}"
        );
        assert_eq!(wrap("short", 80), "short");
    }

    #[test]
    fn markdown_cells_escape_the_pipe() {
        assert_eq!(md_cell("sh -c 'a | b'"), "sh -c 'a \\| b'");
    }
}
