//! Judging cases against what their strategies promise, and the run as a whole.
//!
//! A zero is only evidence when the same run could have shown a non-zero: a
//! run passes only if a positive control (a case expected to show anomalies)
//! did show them, and every case that claims safety showed none while its
//! reads overlapped writes.

use serde::{Deserialize, Serialize};

use super::{CaseReport, Report};
use crate::classify::Outcome;
use crate::exit;
use crate::strategy::Expect;

/// How one case came out against its expectation. Serialized, and printed,
/// by [`CaseStatus::name`] (kebab-case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaseStatus {
    /// Claimed safe; zero anomalies in exposed reads.
    Pass,
    /// Known unsafe (a control); anomalies shown as expected.
    Reproduced,
    /// A known flaw the scenario demonstrates (an entry with `expect:
    /// anomalies` and an `expect_reason`) showed as the scenario says: not a
    /// failure, and not a positive control.
    Expected,
    /// Claimed safe; anomalies found.
    Fail,
    /// Could not prove anything: no exposure, or a control showed nothing.
    Inconclusive,
    /// No claim either way; numbers for information.
    Info,
    /// The subject broke (hung, crashed, answered garbage): nothing was judged.
    SubjectError,
}

impl CaseStatus {
    /// The one spelling used everywhere: tables, verdict lines, JSON.
    pub fn name(self) -> &'static str {
        match self {
            CaseStatus::Pass => "pass",
            CaseStatus::Reproduced => "reproduced",
            CaseStatus::Expected => "expected",
            CaseStatus::Fail => "fail",
            CaseStatus::Inconclusive => "inconclusive",
            CaseStatus::Info => "info",
            CaseStatus::SubjectError => "subject-error",
        }
    }
}

/// How the run came out. Serialized, and printed, by [`RunStatus::name`]
/// (kebab-case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    /// Every case behaved as its scenario says, and a control showed the race.
    Pass,
    /// Something surprised: a case that claims safety showed an anomaly.
    AnomaliesFound,
    /// Nothing contradicts the claims, but they are not proven.
    Inconclusive,
    /// The writer (or external reader) under test broke.
    SubjectError,
    /// Ctrl-C (or SIGTERM/SIGHUP) cut the run short.
    Interrupted,
}

impl RunStatus {
    /// The one spelling used everywhere: the `verdict:` line, JSON, pages.
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Pass => "pass",
            RunStatus::AnomaliesFound => "anomalies-found",
            RunStatus::Inconclusive => "inconclusive",
            RunStatus::SubjectError => "subject-error",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

/// The run's verdict.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verdict {
    pub status: RunStatus,
    /// The exit code `torn` returns for this verdict (see the README).
    pub exit_code: i32,
    /// The verdict in plain sentences, one per line.
    pub lines: Vec<String>,
}

pub(super) fn judge_case(c: &CaseReport) -> (CaseStatus, String) {
    let found = c.anomaly_count();
    if let Some(e) = &c.subject_error {
        return (CaseStatus::SubjectError, e.clone());
    }
    match c.case.expect {
        Expect::Clean if found > 0 => (
            CaseStatus::Fail,
            format!("claims safety but showed {}", summary(c)),
        ),
        Expect::Clean if c.exposed_reads == 0 => (
            CaseStatus::Inconclusive,
            "no read overlapped a write: zero proves nothing".into(),
        ),
        Expect::Clean => (
            CaseStatus::Pass,
            format!(
                "0 anomalies in {} exposed reads (95% bound ≤ {} per exposed read){}",
                thousands(c.exposed_reads),
                sci(c.anomalies_per_exposed.high),
                match &c.case.fault {
                    Some(f) => format!(
                        "; under {f}: {} write errors, all reported, file always whole",
                        thousands(c.writes.errors)
                    ),
                    None => String::new(),
                }
            ),
        ),
        Expect::Anomalies if found > 0 && c.case.expect_reason.is_some() => {
            (CaseStatus::Expected, summary(c))
        }
        Expect::Anomalies if found > 0 => (CaseStatus::Reproduced, summary(c)),
        Expect::Anomalies => (
            CaseStatus::Inconclusive,
            format!(
                "expected anomalies but saw none in {} exposed reads{}",
                thousands(c.exposed_reads),
                c.case
                    .expect_reason
                    .as_ref()
                    .map(|r| format!(" (expected because {r})"))
                    .unwrap_or_default()
            ),
        ),
        Expect::Any => (
            CaseStatus::Info,
            if found > 0 {
                summary(c)
            } else {
                "no anomalies".into()
            },
        ),
    }
}

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
            parts.push(part(
                format!("recipe {} ({} writes)", f.finding.describe(), thousands(f.writes)),
                name,
            ));
        }
    }
    if c.writes.swallowed > 0 {
        let n = thousands(c.writes.swallowed);
        parts.push(part(
            format!("{n} swallowed write errors"),
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
        CaseStatus::Pass | CaseStatus::Reproduced | CaseStatus::Info | CaseStatus::SubjectError => None,
        CaseStatus::Fail | CaseStatus::Expected => first(),
        CaseStatus::Inconclusive if c.exposed_reads == 0 => Some("no exposed reads".into()),
        CaseStatus::Inconclusive if c.case.expect == Expect::Anomalies => Some("none seen".into()),
        CaseStatus::Inconclusive => Some("bound not met".into()),
    };
    match why {
        Some(why) => format!("{}: {why}", c.status.name()),
        None => c.status.name().to_string(),
    }
}

/// The verdict over all cases so far.
pub fn judge_run(report: &Report) -> Verdict {
    let cases = &report.cases;
    let with = |s: CaseStatus| cases.iter().filter(move |c| c.status == s);
    let mut lines = Vec::new();
    let reproduced: Vec<_> = with(CaseStatus::Reproduced).collect();
    if !reproduced.is_empty() {
        lines.push(format!(
            "race reproduced by: {}",
            reproduced
                .iter()
                .map(|c| format!("{} ({})", c.label, c.reason))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    for c in with(CaseStatus::Pass) {
        lines.push(format!("zero anomalies: {} — {}", c.label, c.reason));
    }
    for c in with(CaseStatus::Expected) {
        lines.push(format!(
            "expected: {} showed {} — {}",
            c.label,
            c.reason,
            c.case.expect_reason.as_deref().unwrap_or("a known flaw")
        ));
    }
    for c in with(CaseStatus::Fail) {
        lines.push(format!("FAILED: {} {}", c.label, c.reason));
    }
    for c in with(CaseStatus::Inconclusive) {
        lines.push(format!("inconclusive: {} — {}", c.label, c.reason));
    }
    for c in with(CaseStatus::Info) {
        lines.push(format!(
            "for information: {} — {}{}",
            c.label,
            c.reason,
            c.case
                .expect_reason
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ));
    }
    for c in with(CaseStatus::SubjectError) {
        lines.push(format!("SUBJECT ERROR: {} — {}", c.label, c.reason));
    }
    let interrupted = cases.iter().any(|c| c.interrupted);
    let failed = with(CaseStatus::Fail).next().is_some();
    let inconclusive = with(CaseStatus::Inconclusive).next().is_some();
    let (status, exit_code) = if interrupted {
        lines.push("interrupted: the numbers above cover only part of the run".into());
        (RunStatus::Interrupted, exit::INTERRUPTED)
    } else if with(CaseStatus::SubjectError).next().is_some() {
        (RunStatus::SubjectError, exit::SUBJECT_ERROR)
    } else if failed {
        (RunStatus::AnomaliesFound, exit::ANOMALIES_FOUND)
    } else if reproduced.is_empty() {
        lines.push(
            "inconclusive: no positive control showed the race in this run, so its zeros prove nothing \
             (add naive-truncate to the scenario)"
                .into(),
        );
        (RunStatus::Inconclusive, exit::INCONCLUSIVE)
    } else if inconclusive {
        (RunStatus::Inconclusive, exit::INCONCLUSIVE)
    } else {
        (RunStatus::Pass, exit::OK)
    };
    Verdict {
        status,
        exit_code,
        lines,
    }
}

/// 1234567 → "1,234,567".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A probability in short scientific notation: 2.99e-6.
pub fn sci(p: f64) -> String {
    if p == 0.0 {
        "0".into()
    } else if p >= 0.01 {
        format!("{p:.3}")
    } else {
        format!("{p:.2e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formatting() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(100), "100");
        assert_eq!(sci(2.9957e-6), "3.00e-6");
        assert_eq!(sci(0.5), "0.500");
    }
}
