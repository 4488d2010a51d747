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

/// How one case came out against its expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaseStatus {
    /// Claimed safe; zero anomalies in exposed reads.
    Pass,
    /// Known unsafe (a control); anomalies shown as expected.
    Reproduced,
    /// Claimed safe; anomalies found.
    Fail,
    /// Could not prove anything: no exposure, or a control showed nothing.
    Inconclusive,
    /// No claim either way; numbers for information.
    Info,
    /// The subject broke (hung, crashed, answered garbage): nothing was judged.
    SubjectError,
}

/// How the run came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    Pass,
    AnomaliesFound,
    Inconclusive,
    SubjectError,
    Interrupted,
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
    let found = c.findings();
    if let Some(e) = &c.subject_error {
        return (CaseStatus::SubjectError, e.clone());
    }
    match c.expect {
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
                match &c.fault {
                    Some(f) => format!(
                        "; under {f}: {} write errors, all reported, file always whole",
                        thousands(c.writes.errors)
                    ),
                    None => String::new(),
                }
            ),
        ),
        Expect::Anomalies if found > 0 => (CaseStatus::Reproduced, summary(c)),
        Expect::Anomalies => (
            CaseStatus::Inconclusive,
            format!(
                "expected anomalies but saw none in {} exposed reads",
                thousands(c.exposed_reads)
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

/// "empty 1,234 · torn-parseable 5 · 2 write errors; first after 0.31 ms".
pub fn summary(c: &CaseReport) -> String {
    let mut parts: Vec<String> = Outcome::ALL
        .iter()
        .filter(|o| o.is_anomaly() && c.outcome(**o).count > 0)
        .map(|o| format!("{} {}", o.name(), thousands(c.outcome(*o).count)))
        .collect();
    if c.writes.errors > 0 && c.fault.is_none() {
        parts.push(format!("{} write errors", thousands(c.writes.errors)));
    }
    if c.recipe_anomalies > 0
        && let Some(t) = &c.trace
    {
        for f in t.recipes.findings.iter().filter(|f| f.finding.is_anomaly()) {
            parts.push(format!(
                "recipe {} ({} writes)",
                f.finding.describe(),
                thousands(f.writes)
            ));
        }
    }
    if c.writes.swallowed > 0 {
        parts.push(format!(
            "{} swallowed write errors",
            thousands(c.writes.swallowed)
        ));
    }
    if c.writes.broken_after_failure > 0 {
        parts.push(format!(
            "{} failed writes left the file broken",
            thousands(c.writes.broken_after_failure)
        ));
    }
    let w = &c.watch;
    if w.mode_widened {
        parts.push(format!(
            "mode widened {:04o} → {:04o}",
            w.mode_before, w.mode_after
        ));
    }
    if w.owner_changed {
        parts.push("owner changed".into());
    }
    if w.widened_samples > 0 {
        parts.push(format!(
            "target wider than {:04o} in {} scans",
            w.mode_before,
            thousands(w.widened_samples)
        ));
    }
    if w.exposures > 0 {
        parts.push(format!(
            "token readable by others in {}",
            w.exposed_files.join(", ")
        ));
    }
    if w.litter_count > 0 {
        let more = w.litter_count - w.litter.len() as u64;
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        parts.push(format!("left behind: {}{more}", w.litter.join(", ")));
    }
    if let Some(k) = &c.kill_trials {
        let broken: Vec<String> = k
            .after_kill
            .iter()
            .filter(|(o, _)| *o != Outcome::Ok)
            .map(|(o, n)| format!("{} {n}", o.name()))
            .collect();
        if !broken.is_empty() {
            parts.push(format!(
                "after {} kills the file was {}",
                k.trials,
                broken.join(", ")
            ));
        }
        if k.littered > 0 {
            parts.push(format!("{} of {} kills left temp files", k.littered, k.trials));
        }
    }
    if c.regressions > 0 {
        parts.push(format!("{} reads went back in time", thousands(c.regressions)));
    }
    if c.final_state.is_anomaly() {
        let what = if c.final_state == Outcome::Stale {
            "lost a committed change"
        } else {
            c.final_state.name()
        };
        parts.push(format!("final file {what}"));
    }
    let mut s = if parts.is_empty() {
        "no anomalies".to_string()
    } else {
        parts.join(" · ")
    };
    if let Some(f) = c.first_anomaly {
        s.push_str(&format!("; first after {:.2} ms", f.seen.at_ms));
    }
    s
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
    for c in with(CaseStatus::Fail) {
        lines.push(format!("FAILED: {} {}", c.label, c.reason));
    }
    for c in with(CaseStatus::Inconclusive) {
        lines.push(format!("inconclusive: {} — {}", c.label, c.reason));
    }
    for c in with(CaseStatus::Info) {
        lines.push(format!("for information: {} — {}", c.label, c.reason));
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
