//! The results table, shared by the terminal and Markdown renderers.

use super::verdict::{sci, thousands};
use super::{CaseReport, Report};
use crate::classify::Outcome;

/// Column headers.
pub const HEADERS: [&str; 16] = [
    "strategy",
    "writes",
    "w-err",
    "reads",
    "exposed",
    "ok",
    "stale",
    "empty",
    "missing",
    "torn-unparse",
    "torn-parse",
    "error",
    "would-403",
    "0 ⇒ p ≤",
    "first anomaly",
    "status",
];

/// One row per case.
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
        w403,
        // The bound for a zero count depends only on the number of reads, so
        // one column serves every zero in the row.
        sci(crate::stats::clopper_pearson(0, c.reads).1),
        first,
        format!("{:?}", c.status).to_lowercase(),
    ]
}

/// The table as aligned plain text (for the terminal).
pub fn plain(report: &Report) -> String {
    let rows = rows(report);
    let mut width: Vec<usize> = HEADERS.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, cell) in width.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| -> String {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&width).enumerate() {
            let pad = w - cell.chars().count();
            if i == 0 || i >= 14 {
                s.push_str(cell);
                s.push_str(&" ".repeat(pad));
            } else {
                s.push_str(&" ".repeat(pad));
                s.push_str(cell);
            }
            s.push_str("  ");
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(HEADERS.iter().map(|h| h.to_string()).collect());
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

/// The table in Markdown.
pub fn markdown(report: &Report) -> String {
    let mut out = format!("| {} |\n", HEADERS.join(" | "));
    out.push_str(&format!(
        "|{}\n",
        HEADERS
            .iter()
            .enumerate()
            .map(|(i, _)| if i == 0 || i >= 14 { "---|" } else { "---:|" })
            .collect::<String>()
    ));
    for r in rows(report) {
        out.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    out
}
