//! A case's findings in words: each anomalous-read outcome and each
//! writer-side finding with its own count and unit, for verdict lines,
//! table cells and pages. Nothing here decides a status; it renders what
//! [`super::verdict`] decided.

use super::CaseReport;
use super::verdict::CaseStatus;
use crate::classify::Outcome;
use crate::numbers::thousands;
use crate::strategy::Expect;

/// One anomaly of a case, in words and in a table cell.
pub struct Part {
    /// "mode widened 0600 → 0644", "empty 1,234".
    pub long: String,
    /// "mode 0600→0644", "empty 1,234", "torn-p 5".
    pub short: String,
}

/// An outcome's name in a narrow table cell.
pub fn short_outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::TornUnparseable => "torn-u",
        Outcome::TornParseable => "torn-p",
        o => o.name(),
    }
}

/// Every anomaly of a case, reads first, then the writer-side ones.
pub fn parts(c: &CaseReport) -> Vec<Part> {
    let part = |long: String, short: String| Part { long, short };
    let mut parts: Vec<Part> = Outcome::ALL
        .iter()
        .filter(|o| o.is_anomaly() && c.outcome(**o).count > 0)
        .map(|&o| {
            let n = thousands(c.outcome(o).count);
            part(format!("{} {n}", o.name()), format!("{} {n}", short_outcome(o)))
        })
        .collect();
    if c.writes.errors > 0 && c.case.fault.is_none() {
        let n = thousands(c.writes.errors);
        parts.push(part(format!("{n} write errors"), format!("w-err {n}")));
    }
    if c.recipe_anomalies > 0
        && let Some(t) = &c.trace
    {
        for f in t.recipes.findings.iter().filter(|f| f.finding.is_anomaly()) {
            // The short form is the finding's name in report.json.
            let name = serde_json::to_value(f.finding)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| "recipe".into());
            // Where the writer made the call, if it said (the Python shim).
            let at = t
                .sources
                .get(&name)
                .map(|at| format!(" — {at}"))
                .unwrap_or_default();
            parts.push(part(
                format!(
                    "recipe {} ({}){at}",
                    f.finding.describe(),
                    crate::numbers::count(f.writes, "write")
                ),
                name,
            ));
        }
    }
    if c.writes.swallowed > 0 {
        let n = thousands(c.writes.swallowed);
        parts.push(part(
            // The cause travels with the symptom: the first one, with the
            // call the trace saw fail where it saw one.
            match &c.writes.first_swallowed {
                Some(first) => format!("{n} swallowed write errors (first: {first})"),
                None => format!("{n} swallowed write errors"),
            },
            format!("swallowed {n}"),
        ));
    }
    if c.writes.broken_after_failure > 0 {
        let n = thousands(c.writes.broken_after_failure);
        parts.push(part(
            format!("{n} failed writes left the file broken"),
            format!("broken {n}"),
        ));
    }
    let w = &c.watch;
    if w.mode_widened {
        parts.push(part(
            format!("mode widened {:04o} → {:04o}", w.mode_before, w.mode_after),
            format!("mode {:04o}→{:04o}", w.mode_before, w.mode_after),
        ));
    }
    if w.owner_changed {
        parts.push(part("owner changed".into(), "owner".into()));
    }
    if w.widened_samples > 0 {
        parts.push(part(
            format!(
                "target wider than {:04o} in {} scans",
                w.mode_before,
                thousands(w.widened_samples)
            ),
            format!("wide {}×", thousands(w.widened_samples)),
        ));
    }
    if w.exposures > 0 {
        parts.push(part(
            format!("token readable by others in {}", w.exposed_files.join(", ")),
            format!("readable {}", w.exposed_files.len()),
        ));
    }
    if w.litter_count > 0 {
        let more = w.litter_count - w.litter.len() as u64;
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        parts.push(part(
            format!("left behind: {}{more}", w.litter.join(", ")),
            format!("litter {}", thousands(w.litter_count)),
        ));
    }
    if let Some(k) = &c.kill_trials {
        let broken: Vec<(Outcome, u64)> = k
            .after_kill
            .iter()
            .filter(|(o, _)| *o != Outcome::Ok)
            .copied()
            .collect();
        if !broken.is_empty() {
            let list = |name: fn(Outcome) -> &'static str| {
                broken
                    .iter()
                    .map(|(o, n)| format!("{} {n}", name(*o)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            parts.push(part(
                format!("after {} kills the file was {}", k.trials, list(Outcome::name)),
                format!("killed: {}", list(short_outcome)),
            ));
        }
        if k.littered > 0 {
            parts.push(part(
                format!("{} of {} kills left temp files", k.littered, k.trials),
                format!("kill-litter {}/{}", k.littered, k.trials),
            ));
        }
    }
    if c.regressions > 0 {
        let n = thousands(c.regressions);
        parts.push(part(format!("{n} reads went back in time"), format!("back {n}")));
    }
    if c.final_state.is_anomaly() {
        let (long, short) = if c.final_state == Outcome::Stale {
            ("lost a committed change", "lost")
        } else {
            (c.final_state.name(), short_outcome(c.final_state))
        };
        parts.push(part(format!("final file {long}"), format!("final {short}")));
    }
    parts
}

/// "empty 1,234 · torn-parseable 5 · 2 write errors; first after 0.31 ms".
pub fn summary(c: &CaseReport) -> String {
    let parts = parts(c);
    let mut s = if parts.is_empty() {
        "no anomalies".to_string()
    } else {
        parts.into_iter().map(|p| p.long).collect::<Vec<_>>().join(" · ")
    };
    if let Some(f) = c.first_anomaly {
        s.push_str(&format!("; first after {:.2} ms", f.seen.at_ms));
    }
    s
}

/// The status of a case with its reason in a few words, for a table cell:
/// `pass`, `reproduced`, `fail: mode 0600→0644`, `expected: litter 1`,
/// `inconclusive: none seen`.
pub fn status_cell(c: &CaseReport) -> String {
    let first = || parts(c).into_iter().next().map(|p| p.short);
    let why = match c.status {
        CaseStatus::Pass
        | CaseStatus::Reproduced
        | CaseStatus::Info
        | CaseStatus::SubjectError
        | CaseStatus::Interrupted
        | CaseStatus::Pending => None,
        CaseStatus::Fail | CaseStatus::Expected => {
            first().or_else(|| c.reason.contains("crash states").then(|| "crash states".into()))
        }
        CaseStatus::Inconclusive if c.exposed_reads == 0 => Some("no exposed reads".into()),
        CaseStatus::Inconclusive if c.case.expect == Expect::Anomalies => Some("none seen".into()),
        CaseStatus::Inconclusive if c.reason.contains("crash") => Some("crash stage".into()),
        CaseStatus::Inconclusive => Some("target not met".into()),
    };
    match why {
        Some(why) => format!("{}: {why}", c.status.name()),
        None => c.status.name().to_string(),
    }
}

/// The exact one-sided 95% upper bound on anomalous reads per exposed read,
/// for a case whose zero means something: no anomalous read, some exposed
/// reads, and nothing found against it. Every output quotes this one.
pub fn zero_bound(c: &CaseReport) -> Option<f64> {
    (c.anomalous_reads() == 0 && c.exposed_reads > 0 && !c.status.found_something())
        .then_some(c.anomalies_per_exposed.high)
}
