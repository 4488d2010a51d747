//! `report.html`: one self-contained page (inline CSS and SVG, readable
//! offline) for a run or a matrix of runs. The page is well-formed XHTML.

use std::fmt::Write;

use super::plots::{self, Series};
use super::verdict::thousands;
use super::{Report, Reporter, table};

pub struct Html;

impl Reporter for Html {
    fn file_name(&self) -> &'static str {
        "report.html"
    }

    fn render(&self, report: &Report) -> anyhow::Result<Vec<u8>> {
        Ok(render(
            &format!("torn report: {}", report.scenario.name),
            std::slice::from_ref(report),
        )
        .into_bytes())
    }
}

/// Escapes text for HTML/XML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222;max-width:1400px}\
table{border-collapse:collapse;font-size:13px;margin:1em 0}\
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}\
th{background:#f3f3f3}td.l,th.l{text-align:left}\
.pass{color:#2a7a2a}.fail,.subjecterror{color:#b00}.inconclusive{color:#a60}\
figure{margin:1.5em 0}code{background:#f5f5f5;padding:0 3px}";

/// Renders one run (one report) or a matrix (several reports, one per
/// filesystem or machine) as a page.
pub fn render(title: &str, reports: &[Report]) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head><meta charset=\"utf-8\"/>\
         <title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n",
        escape(title),
        escape(title)
    );
    for r in reports {
        let e = &r.environment;
        let _ = writeln!(
            s,
            "<h2>{} on {} — <span class=\"{}\">{:?}</span> (exit {})</h2>",
            escape(&r.scenario.name),
            escape(&e.fs_label),
            r.verdict.status.name(),
            r.verdict.status.name(),
            r.verdict.exit_code
        );
        let _ = writeln!(
            s,
            "<p>{} · kernel {} · {} CPUs · {} ({}) mounted at <code>{}</code> with <code>{}</code> · \
             target <code>~/{}</code>, {} bytes per version · seed {}</p>",
            escape(&r.created),
            escape(&e.kernel),
            e.cpus,
            escape(&e.fs_label),
            escape(&e.fs_type),
            escape(&e.mount_point),
            escape(&e.mount_options),
            escape(&r.scenario.target),
            r.scenario.version_len,
            r.seed
        );
        s.push_str("<ul>");
        for line in &r.verdict.lines {
            let _ = write!(s, "<li>{}</li>", escape(line));
        }
        s.push_str("</ul>\n");
        s.push_str(&html_table(r));
    }
    s.push_str("<h2>Plots</h2>\n");
    plots_for(&mut s, reports);
    s.push_str("</body></html>\n");
    s
}

fn html_table(r: &Report) -> String {
    let mut s = String::from("<table><tr>");
    for col in &table::COLUMNS {
        let _ = write!(
            s,
            "<th{}>{}</th>",
            if col.text { " class=\"l\"" } else { "" },
            escape(col.header)
        );
    }
    s.push_str("</tr>\n");
    for (row, case) in table::rows(r).iter().zip(&r.cases) {
        s.push_str("<tr>");
        let last = row.len() - 1;
        for (i, (cell, col)) in row.iter().zip(&table::COLUMNS).enumerate() {
            let class = if i == last {
                format!(" class=\"l {}\"", case.status.name())
            } else if col.text {
                " class=\"l\"".into()
            } else {
                String::new()
            };
            let _ = write!(s, "<td{class}>{}</td>", escape(cell));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n");
    s
}

fn figure(s: &mut String, svg: &str) {
    let _ = writeln!(s, "<figure>{svg}</figure>");
}

fn plots_for(s: &mut String, reports: &[Report]) {
    // Rows: every case label, in first-seen order; series: one per report.
    let mut rows: Vec<String> = Vec::new();
    for r in reports {
        for c in &r.cases {
            if !rows.contains(&c.label) {
                rows.push(c.label.clone());
            }
        }
    }
    let row_of = |label: &str| rows.iter().position(|r| r == label).expect("collected above");
    let name = |r: &Report| {
        if reports.len() > 1 {
            series_name(r)
        } else {
            r.environment.fs_label.clone()
        }
    };
    let rates: Vec<Series<_>> = reports
        .iter()
        .map(|r| Series {
            name: name(r),
            points: r.cases.iter().map(|c| (row_of(&c.label), c.anomalies)).collect(),
        })
        .collect();
    figure(
        s,
        &plots::anomaly_rates(
            "Anomalous reads per read (exact 95% interval; bound for zeros)",
            &rows,
            &rates,
        ),
    );
    let lat: Vec<Series<_>> = reports
        .iter()
        .map(|r| Series {
            name: name(r),
            points: r
                .cases
                .iter()
                .map(|c| (row_of(&c.label), c.writes.latency_us))
                .collect(),
        })
        .collect();
    figure(s, &plots::latencies("Write latency per strategy", &rows, &lat));
    if reports.len() > 1 {
        let names: Vec<String> = reports.iter().map(series_name).collect();
        let values: Vec<f64> = reports
            .iter()
            .map(|r| {
                let (reads, secs) = r.cases.iter().fold((0.0, 0.0), |(n, t), c| {
                    (n + c.reads_per_s / c.readers as f64, t + 1.0)
                });
                if secs > 0.0 { reads / secs } else { 0.0 }
            })
            .collect();
        figure(
            s,
            &plots::bars(
                "Reads per second per reader thread (mean over strategies)",
                "reads/s",
                &names,
                &values,
            ),
        );
    } else if let Some(r) = reports.first() {
        for c in &r.cases {
            if let Some(t) = &c.timeline {
                figure(
                    s,
                    &plots::timeline(&format!("{}: anomalies against writes", c.label), t),
                );
            }
        }
    }
    let _ = writeln!(
        s,
        "<p>{} cases in {} run(s).</p>",
        thousands(reports.iter().map(|r| r.cases.len() as u64).sum()),
        reports.len()
    );
}

/// A report's name in a matrix: its filesystem, and its kernel when the
/// matrix spans machines.
pub fn series_name(r: &Report) -> String {
    let kernel = r.environment.kernel.split_whitespace().nth(1).unwrap_or("");
    format!("{} ({})", r.environment.fs_label, kernel)
}
