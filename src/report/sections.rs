//! The report sections on what the writer really did — its write windows
//! and recipes, and its crash states — rendered for report.md and
//! report.html from the same data.

use std::fmt::Write as _;

use super::xml::escape;
use super::{CaseReport, Report};
use crate::numbers::thousands;

/// One line per case on its windows: how many opened, how many a read hit.
fn windows_line(c: &CaseReport) -> String {
    let w = &c.windows;
    let mut line = windows_counts(c);
    if w.before_start + w.after_stop > 0 {
        let _ = write!(
            line,
            "; {} of the windows opened before the readers started (warm-up) or after they stopped",
            thousands(w.before_start + w.after_stop)
        );
    }
    if let Some(h) = w.holds {
        let _ = write!(
            line,
            "; readers waited for windows: the writer was held {} times ({:.1} ms in all) until a read began{}",
            thousands(h.holds),
            h.held_ns as f64 / 1e6,
            if h.unread > 0 {
                format!(", {} holds ended with no read", thousands(h.unread))
            } else {
                String::new()
            }
        );
    }
    line
}

fn windows_counts(c: &CaseReport) -> String {
    let w = &c.windows;
    format!(
        "{} write windows{}; {} overlapped by ≥ 1 read (reads per window: 0: {}, 1: {}, 2–3: {}, 4–7: {}, 8–15: {}, 16+: {}); \
         {} exposed reads of {} made during writer activity",
        thousands(w.opened),
        if w.traced {
            " from the trace"
        } else {
            " (untraced: one per whole write)"
        },
        thousands(w.hit),
        thousands(w.histogram[0]),
        thousands(w.histogram[1]),
        thousands(w.histogram[2]),
        thousands(w.histogram[3]),
        thousands(w.histogram[4]),
        thousands(w.histogram[5]),
        thousands(c.exposed_reads),
        thousands(c.reads_during_writer_activity),
    )
}

/// `## What the writers did` for report.md.
pub fn writers_md(r: &Report) -> String {
    let mut s = String::new();
    if r.cases.iter().all(|c| c.windows.opened == 0 && c.trace.is_none()) {
        return s;
    }
    s.push_str("## What the writers did\n\n");
    for c in &r.cases {
        let _ = writeln!(s, "### {}\n\n{}\n", c.label, windows_line(c));
        let Some(t) = &c.trace else { continue };
        if let Some(why) = &t.summary.untraced {
            let _ = writeln!(s, "Untraced: {why}\n");
        }
        if !t.recipes.recipes.is_empty() {
            s.push_str("| writes | recipe |\n|---:|---|\n");
            for rc in &t.recipes.recipes {
                let _ = writeln!(
                    s,
                    "| {} | `{}` |",
                    thousands(rc.writes),
                    rc.recipe.replace('|', "\\|")
                );
            }
            if t.recipes.other_recipes > 0 {
                let _ = writeln!(s, "| {} | (other recipes) |", thousands(t.recipes.other_recipes));
            }
            s.push('\n');
        }
        for f in &t.recipes.findings {
            let _ = writeln!(
                s,
                "- {} {} ({}); first: `{}`",
                if f.finding.is_anomaly() {
                    "**anomaly**:"
                } else {
                    "durability:"
                },
                f.finding.describe(),
                crate::numbers::count(f.writes, "write"),
                f.example.join(" → ")
            );
        }
        if !t.summary.unseen.is_empty() {
            let _ = writeln!(s, "- not seen by the trace: {}", t.summary.unseen.join("; "));
        }
        if let Some(p) = t.perturb {
            let _ = writeln!(
                s,
                "- delay injection: {} holds, {:.1} ms held in all (seed {})",
                thousands(p.holds),
                p.held_ns as f64 / 1e6,
                p.seed
            );
        }
        s.push('\n');
    }
    s
}

/// `## Crash states` for report.md.
pub fn crash_md(r: &Report) -> String {
    let mut s = String::new();
    if r.crash.is_empty() {
        return s;
    }
    s.push_str(
        "## Crash states\n\n| subject | model | crash points | states | verdict |\n|---|---|---:|---:|---|\n",
    );
    for c in &r.crash {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {}{} | {} |",
            c.subject.replace('|', "\\|"),
            c.report.model.name(),
            thousands(c.report.crash_points as u64),
            thousands(c.report.states_explored),
            if c.report.exhaustive { "" } else { " (sampled)" },
            c.report.verdict.summary
        );
    }
    s.push('\n');
    s
}

/// The same two sections for report.html.
pub fn html(r: &Report) -> String {
    let mut s = String::new();
    let traced: Vec<&CaseReport> = r
        .cases
        .iter()
        .filter(|c| c.windows.opened > 0 || c.trace.is_some())
        .collect();
    if !traced.is_empty() {
        s.push_str("<h3>What the writers did</h3>\n");
        for c in traced {
            let _ = writeln!(
                s,
                "<h4>{}</h4>\n<p>{}</p>",
                escape(&c.label),
                escape(&windows_line(c))
            );
            let Some(t) = &c.trace else { continue };
            if !t.recipes.recipes.is_empty() {
                s.push_str("<table><tr><th>writes</th><th class=\"l\">recipe</th></tr>\n");
                for rc in &t.recipes.recipes {
                    let _ = writeln!(
                        s,
                        "<tr><td class=\"n\">{}</td><td class=\"l\"><code>{}</code></td></tr>",
                        thousands(rc.writes),
                        escape(&rc.recipe)
                    );
                }
                s.push_str("</table>\n");
            }
            if !t.recipes.findings.is_empty() {
                s.push_str("<ul>");
                for f in &t.recipes.findings {
                    let _ = write!(
                        s,
                        "<li>{} {} ({}); first: <code>{}</code></li>",
                        if f.finding.is_anomaly() {
                            "<b>anomaly</b>:"
                        } else {
                            "durability:"
                        },
                        escape(f.finding.describe()),
                        crate::numbers::count(f.writes, "write"),
                        escape(&f.example.join(" → "))
                    );
                }
                s.push_str("</ul>\n");
            }
        }
    }
    if !r.crash.is_empty() {
        s.push_str("<h3>Crash states</h3>\n<table><tr><th class=\"l\">subject</th><th class=\"l\">model</th><th>crash points</th><th>states</th><th class=\"l\">verdict</th></tr>\n");
        for c in &r.crash {
            let _ = writeln!(
                s,
                "<tr><td class=\"l label\">{}</td><td class=\"l\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"l\">{}</td></tr>",
                escape(&c.subject),
                c.report.model.name(),
                thousands(c.report.crash_points as u64),
                thousands(c.report.states_explored),
                escape(&c.report.verdict.summary)
            );
        }
        s.push_str("</table>\n");
    }
    s
}
