//! `report.html`: one self-contained page (inline CSS and SVG, readable
//! offline) for a run or a matrix of runs. The page is well-formed XHTML.
//!
//! A matrix page opens with the filesystem × strategy summary; a run's page
//! has what `report.md` has: the verdict, the table, the evidence and the
//! environment, plus a glossary of the column names and the plots.

use std::fmt::Write;

use super::plots::{self, Series};
use super::words;
use super::xml::escape;
use super::{Report, Reporter, table};
use crate::numbers::thousands;

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

/// The page fits a 1280 px window at any label length: text cells and code
/// in tables wrap (numbers never do), headers wrap at their hyphens, long
/// unbroken strings (mount options, paths) break anywhere, plots scale down
/// to the page; nothing needs a horizontal scroll bar.
const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222;max-width:1400px;overflow-wrap:anywhere}\
table{border-collapse:collapse;font-size:12px;margin:1em 0;max-width:100%}\
th,td{border:1px solid #ccc;padding:2px 5px;text-align:right;vertical-align:top}\
td{white-space:nowrap}th{background:#f3f3f3;white-space:normal;overflow-wrap:normal}\
td.l,th.l{text-align:left}td.l{white-space:normal;overflow-wrap:anywhere;min-width:6em}\
td.label{max-width:24em}td code{white-space:normal;overflow-wrap:anywhere}\
.pass,.reproduced,.expected{color:#2a7a2a}.fail,.subject-error,.anomalies-found{color:#b00}\
.inconclusive,.interrupted{color:#a60}.info{color:#555}\
dl.glossary{display:grid;grid-template-columns:max-content auto;gap:2px 1em;font-size:14px}\
dl.glossary dt{font-family:monospace;font-weight:bold}dl.glossary dd{margin:0}\
pre{background:#f7f7f7;padding:6px;font-size:12px;white-space:pre-wrap}\
figure{margin:1.5em 0}figure svg{max-width:100%;height:auto}code{background:#f5f5f5;padding:0 3px}";

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
    if reports.len() > 1 {
        summary(&mut s, reports);
    }
    for r in reports {
        run_section(&mut s, r);
    }
    glossary(&mut s);
    s.push_str("<h2>Plots</h2>\n");
    plots_for(&mut s, reports);
    if let [r] = reports {
        evidence(&mut s, r);
        environment(&mut s, r);
    }
    s.push_str("</body></html>\n");
    s
}

/// A matrix's first table: one row per strategy, one column per filesystem
/// (or machine), each cell the case's status and its anomalies or bound.
fn summary(s: &mut String, reports: &[Report]) {
    let mut labels: Vec<&str> = Vec::new();
    for r in reports {
        for c in &r.cases {
            if !labels.contains(&c.label.as_str()) {
                labels.push(&c.label);
            }
        }
    }
    s.push_str("<h2>Summary: strategy × filesystem</h2>\n<table><tr><th class=\"l\">strategy</th>");
    for r in reports {
        let _ = write!(
            s,
            "<th class=\"l\">{}<br/><span class=\"{}\">{}</span></th>",
            escape(&series_name(r)),
            r.verdict.status.name(),
            r.verdict.status.name()
        );
    }
    s.push_str("</tr>\n");
    for label in labels {
        let _ = write!(s, "<tr><td class=\"l label\">{}</td>", escape(label));
        for r in reports {
            let Some(c) = r.cases.iter().find(|c| c.label == label) else {
                s.push_str("<td class=\"l\">—</td>");
                continue;
            };
            let mut lines: Vec<String> = words::parts(c).into_iter().map(|p| escape(&p.short)).collect();
            if let Some(bound) = words::zero_bound(c) {
                lines.push(format!("reads ≤ {} per exposed", crate::numbers::sci(bound)));
            }
            let _ = write!(
                s,
                "<td class=\"l\"><span class=\"{}\">{}</span><br/>{}</td>",
                c.status.name(),
                escape(&words::status_cell(c)),
                lines.join("<br/>")
            );
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n");
}

fn run_section(s: &mut String, r: &Report) {
    let e = &r.environment;
    let _ = writeln!(
        s,
        "<h2>{} on {} — <span class=\"{}\">{}</span> (exit {})</h2>",
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
    // The real client's calls, in its own words, under the table.
    let clients: Vec<String> = r
        .cases
        .iter()
        .filter_map(|c| {
            c.client
                .as_ref()
                .map(|k| format!("<li>{}: {}</li>", escape(&c.label), escape(&k.summary())))
        })
        .collect();
    if !clients.is_empty() {
        let _ = writeln!(s, "<ul class=\"clients\">{}</ul>", clients.concat());
    }
    s.push_str(&super::sections::html(r));
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
            } else if i == 0 {
                " class=\"l label\"".into()
            } else if col.text {
                " class=\"l\"".into()
            } else {
                String::new()
            };
            // The status's reason goes under it, and the first anomaly's
            // kind under its time: the table stays narrow, no number is split.
            let text = match col.header {
                "status" => escape(cell).replacen(": ", ":<br/>", 1),
                "first anomaly" => escape(cell).replacen(" (", "<br/>(", 1),
                _ => escape(cell),
            };
            let _ = write!(s, "<td{class}>{text}</td>");
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n");
    s
}

fn glossary(s: &mut String) {
    s.push_str("<h2>What the columns mean</h2>\n<dl class=\"glossary\">");
    for (name, meaning) in table::GLOSSARY {
        let _ = write!(s, "<dt>{}</dt><dd>{}</dd>", escape(name), escape(meaning));
    }
    s.push_str("</dl>\n");
}

/// The first anomalous reads of each kind, as in `report.md`.
fn evidence(s: &mut String, r: &Report) {
    if r.cases.iter().all(|c| c.evidence.is_empty()) {
        return;
    }
    s.push_str("<h2>Evidence</h2>\n<p>The first reads of each kind of anomaly, per case: the bytes read against the version that should have been read.</p>\n");
    for c in r.cases.iter().filter(|c| !c.evidence.is_empty()) {
        let _ = writeln!(s, "<h3>{}</h3>\n<ul>", escape(&c.label));
        for ev in &c.evidence {
            let _ = write!(
                s,
                "<li><code>{}</code> at {:.3} ms (reader {}, read {}), {} of {} bytes{}{}{}",
                ev.outcome.name(),
                ev.at_ms,
                ev.reader,
                thousands(ev.read_index),
                ev.len,
                ev.whole_len,
                ev.first_diff
                    .map(|d| format!(", differs from v{} at byte {d}", ev.committed_before))
                    .unwrap_or_default(),
                ev.file
                    .as_ref()
                    .map(|f| format!(" — <a href=\"{0}\">{0}</a>", escape(f)))
                    .unwrap_or_default(),
                ev.detail
                    .as_ref()
                    .map(|d| format!(" — {}", escape(d)))
                    .unwrap_or_default(),
            );
            if !ev.excerpt.is_empty() {
                let _ = write!(
                    s,
                    "<pre>read:     {}\nexpected: {}</pre>",
                    escape(&ev.excerpt),
                    escape(&ev.expected_excerpt)
                );
            }
            s.push_str("</li>\n");
        }
        s.push_str("</ul>\n");
    }
}

/// What is needed to repeat the run, as in `report.md`.
fn environment(s: &mut String, r: &Report) {
    let e = &r.environment;
    let _ = writeln!(
        s,
        "<h2>Environment</h2>\n<ul><li>torn {}; <code>{}</code></li><li>kernel {}; {} CPUs</li>\
         <li>scratch {} on {} (magic {}), mounted at {} from {} with <code>{}</code></li></ul>",
        escape(&e.torn_version),
        escape(&r.command),
        escape(&e.kernel),
        e.cpus,
        escape(&e.scratch_dir),
        escape(&e.fs_type),
        escape(&e.fs_magic),
        escape(&e.mount_point),
        escape(&e.mount_source),
        escape(&e.mount_options)
    );
    let _ = writeln!(
        s,
        "<h2>Repeat this run</h2>\n<p>Save this scenario (source: {}) and run <code>torn run &lt;file&gt;</code>:</p>\n<pre>{}</pre>",
        escape(&r.scenario.source),
        escape(&r.scenario.effective)
    );
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
            // Per exposed read, as every table quotes it; a zero's bound
            // only where the zero means something.
            points: r
                .cases
                .iter()
                .filter(|c| c.anomalous_reads() > 0 || words::zero_bound(c).is_some())
                .map(|c| (row_of(&c.label), c.anomalies_per_exposed))
                .collect(),
        })
        .collect();
    figure(
        s,
        &plots::anomaly_rates(
            "Anomalous reads per exposed read (exact 95% interval; bound for zeros)",
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
                    (n + c.reads_per_s / c.case.readers.count as f64, t + 1.0)
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
                    &plots::timeline(
                        &format!("{}: anomalies against writes", c.label),
                        t,
                        c.elapsed_s * 1000.0,
                    ),
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
