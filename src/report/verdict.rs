//! The verdict room: the one place a run's verdict is decided.
//!
//! Every status torn prints — each case's, the run's, the exit code, the
//! effect of the gate's proof target and of its crash stage, the exit code
//! of `torn crash`, `torn matrix` and `torn merge` — is decided here, from
//! the facts a report holds, and nowhere else. Outputs (the terminal table
//! and verdict lines, progress lines, report.json/md/html, JUnit, GitHub
//! annotations and step summary, matrix.md/html) render [`Report::verdict`]
//! and each case's `status`; none of them re-decides or rewrites one.
//!
//! # What decides a case's status, in order
//!
//! 1. `subject-error` — the subject (or the external reader) broke: hung,
//!    crashed, answered garbage. Nothing was judged.
//! 2. `interrupted` — a signal cut the case short; its numbers are partial.
//! 3. A case that claims safety ([`Expect::Clean`]):
//!    - `fail` when any of: an anomalous read; a writer-side finding (a
//!      recipe finding, a write error with no fault injected, a swallowed
//!      error, a file left broken, a widened mode, litter, a killed write
//!      that left the file broken, a read that went back in time, a final
//!      file not whole); a crash stage that found a state not atomic or not
//!      durable;
//!    - else `inconclusive` when no read overlapped a write, when the
//!      gate's [`ProofTarget`] was not met, or when the crash stage was
//!      sampled (some states not explored) or never ran;
//!    - else `pending` while its crash stage is still to run (a report
//!      written mid-run), and `pass` once it has.
//! 4. A case expected to show anomalies ([`Expect::Anomalies`]):
//!    `expected` (a known flaw the scenario shows on purpose) or
//!    `reproduced` when anything was found, else `inconclusive`.
//! 5. A case with no expectation ([`Expect::Any`]): `info`.
//!
//! # What decides the run's status, in order, and its exit code
//!
//! | status | when | exit |
//! |---|---|---|
//! | `incomplete` | a report written while cases are still to run | 130 |
//! | `interrupted` | a signal cut a case short | 130 |
//! | `subject-error` | a case's subject broke | 3 |
//! | `anomalies-found` | a case failed | 1 |
//! | `inconclusive` | no case reproduced the race with anomalous reads (the positive control), or a case is inconclusive | 2 |
//! | `pass` | everything else | 0 |
//!
//! A matrix (or merge) takes the most serious of its runs' statuses in the
//! order of this table; `torn crash` maps its explorations the same way
//! ([`crash_exit`]).
//!
//! # Units
//!
//! "anomalies" counts anomalous reads and nothing else; writer-side
//! findings are counted in their own units (writes, scans, kills) and named
//! in their own words. A zero's 95% bound is always quoted per exposed read
//! and never on a case that failed, reproduced, or showed a finding.

use serde::{Deserialize, Serialize};

use super::words::summary;
use super::{CaseReport, Report};
use crate::exit;
use crate::numbers::{sci, thousands};
use crate::strategy::Expect;

/// How one case came out against its expectation. Serialized, and printed,
/// by [`CaseStatus::name`] (kebab-case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaseStatus {
    /// Claimed safe; zero anomalies and zero findings, the proof target met.
    Pass,
    /// Known unsafe (a control); anomalies shown as expected.
    Reproduced,
    /// A known flaw the scenario demonstrates (an entry with `expect:
    /// anomalies` and an `expect_reason`) showed as the scenario says: not a
    /// failure, and not a positive control.
    Expected,
    /// Claimed safe; anomalies or findings found.
    Fail,
    /// Could not prove anything: no exposure, a target not met, a crash
    /// stage sampled, or a control showed nothing.
    Inconclusive,
    /// No claim either way; numbers for information.
    Info,
    /// The subject broke (hung, crashed, answered garbage): nothing was judged.
    SubjectError,
    /// A signal cut the case short: its numbers cover part of it.
    Interrupted,
    /// Its readers are done but its crash stage has not run yet (only in a
    /// report written mid-run).
    Pending,
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
            CaseStatus::Interrupted => "interrupted",
            CaseStatus::Pending => "pending",
        }
    }

    /// Whether the case showed something against its writer (a failure,
    /// or the flaw a control or demonstration is there to show): no bound
    /// on a zero is quoted for it.
    pub fn found_something(self) -> bool {
        matches!(
            self,
            CaseStatus::Fail | CaseStatus::Reproduced | CaseStatus::Expected
        )
    }
}

/// How the run came out. Serialized, and printed, by [`RunStatus::name`]
/// (kebab-case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    // In order of seriousness, most serious first: a matrix takes the first
    // of its runs' statuses.
    /// The report was written while the run was still going (or was killed
    /// before it could write another).
    Incomplete,
    /// Ctrl-C (or SIGTERM/SIGHUP) cut the run short.
    Interrupted,
    /// The writer (or external reader) under test broke.
    SubjectError,
    /// Something surprised: a case that claims safety showed an anomaly or
    /// a finding.
    AnomaliesFound,
    /// Nothing contradicts the claims, but they are not proven.
    Inconclusive,
    /// Every case behaved as its scenario says, and a control showed the race.
    Pass,
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
            RunStatus::Incomplete => "incomplete",
        }
    }

    /// The exit code `torn` returns for this status (see the README).
    pub fn exit_code(self) -> i32 {
        match self {
            RunStatus::Pass => exit::OK,
            RunStatus::AnomaliesFound => exit::ANOMALIES_FOUND,
            RunStatus::Inconclusive => exit::INCONCLUSIVE,
            RunStatus::SubjectError => exit::SUBJECT_ERROR,
            RunStatus::Interrupted | RunStatus::Incomplete => exit::INTERRUPTED,
        }
    }
}

/// The run's verdict.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verdict {
    pub status: RunStatus,
    /// The exit code `torn` returns for this verdict (see the README).
    pub exit_code: i32,
    /// The verdict in plain sentences, one per line; the first is the
    /// headline.
    pub lines: Vec<String>,
}

impl Verdict {
    /// The verdict of a report made before any case finished.
    pub fn incomplete() -> Self {
        Self::new(
            RunStatus::Incomplete,
            vec!["incomplete: no case has finished yet".into()],
        )
    }

    fn new(status: RunStatus, lines: Vec<String>) -> Self {
        Self {
            status,
            exit_code: status.exit_code(),
            lines,
        }
    }
}

/// What the verdict holds a run to, beyond each case's expectation: set by
/// the command (the gate sets both), recorded in the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Rules {
    /// What a case that claims safety must show to pass (the gate's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<ProofTarget>,
    /// Cases that claim safety are also crashed at every point of their
    /// traced writes (`gate --crash`); they pass only if that holds too.
    #[serde(default)]
    pub crash: bool,
}

/// What a gate must prove about a subject with zero anomalies: enough
/// completed writes, enough mutation windows that reads overlapped (the
/// per-write proof), and optionally enough window-exposed reads or a bound
/// on the per-read anomaly probability.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ProofTarget {
    /// Completed writes (after the warm-up): no pass rests on one write.
    pub min_writes: u64,
    /// Mutation windows at least one read overlapped.
    pub min_windows: u64,
    /// Reads that overlapped a mutation window.
    pub min_exposed: u64,
    /// The 95% upper bound to prove on the per-exposed-read anomaly probability.
    pub max_rate: Option<f64>,
}

/// What a subject has shown so far, in the terms of a [`ProofTarget`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown {
    pub writes: u64,
    pub windows_hit: u64,
    pub exposed: u64,
}

impl Shown {
    /// What a finished case showed.
    pub fn of(c: &CaseReport) -> Self {
        Shown {
            writes: c.writes.committed,
            windows_hit: c.windows.hit,
            exposed: c.exposed_reads,
        }
    }
}

impl ProofTarget {
    /// Whether zero anomalies with `s` meets the target.
    pub fn met(&self, s: Shown) -> bool {
        self.missing(s).is_empty()
    }

    /// What is still missing, in words (empty when met).
    pub fn missing(&self, s: Shown) -> Vec<String> {
        let mut out = Vec::new();
        if s.writes < self.min_writes {
            out.push(format!(
                "{} of {} writes (--min-writes)",
                thousands(s.writes),
                thousands(self.min_writes)
            ));
        }
        if s.windows_hit < self.min_windows {
            out.push(format!(
                "{} of {} write windows overlapped by a read (--min-windows)",
                thousands(s.windows_hit),
                thousands(self.min_windows)
            ));
        }
        if s.exposed < self.exposed_needed() {
            out.push(format!(
                "{} of {} exposed reads (--min-exposed / --max-rate)",
                thousands(s.exposed),
                thousands(self.exposed_needed())
            ));
        }
        out
    }

    /// Exposed reads needed, with zero anomalies, to meet the target.
    pub fn exposed_needed(&self) -> u64 {
        let by_rate = self.max_rate.map_or(0, |p| {
            // (1 - p)^n <= 0.05  <=>  n >= ln(0.05) / ln(1 - p)
            ((1.0 - crate::stats::CONFIDENCE).ln() / (-p).ln_1p()).ceil() as u64
        });
        self.min_exposed.max(by_rate)
    }

    /// The target in words, for the gate's first line.
    pub fn describe(&self) -> String {
        let mut parts = vec![
            format!("≥ {} writes", thousands(self.min_writes)),
            format!(
                "≥ {} write windows each overlapped by a read",
                thousands(self.min_windows)
            ),
        ];
        if self.exposed_needed() > 0 {
            parts.push(format!("≥ {} exposed reads", thousands(self.exposed_needed())));
        }
        format!("0 anomalies in {}", parts.join(", "))
    }
}

/// Whether the run is over (the last case is in and every stage has run),
/// or this is a report written on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Cases (or a crash stage) are still to run.
    Running,
    /// Nothing more will be added.
    Finished,
}

/// Decides every case's status and the run's verdict from the report's
/// facts and rules, in place. The only function that sets them.
pub fn decide(report: &mut Report, stage: Stage) {
    let rules = report.rules;
    for i in 0..report.cases.len() {
        let c = &report.cases[i];
        let crash: Vec<&super::CrashStage> = report.crash.iter().filter(|s| s.subject == c.label).collect();
        let (status, reason) = judge_case(c, &rules, &crash, stage);
        let c = &mut report.cases[i];
        c.status = status;
        c.reason = reason;
    }
    report.verdict = judge_run(report, stage);
}

fn judge_case(
    c: &CaseReport,
    rules: &Rules,
    crash: &[&super::CrashStage],
    stage: Stage,
) -> (CaseStatus, String) {
    use crate::crash::CrashStatus;
    if let Some(e) = &c.subject_error {
        return (CaseStatus::SubjectError, e.clone());
    }
    if c.interrupted {
        return (
            CaseStatus::Interrupted,
            format!("cut short after {:.1} s; so far {}", c.elapsed_s, summary(c)),
        );
    }
    let found = c.anomalous_reads() + c.writer_findings();
    let crash_line = |status: CrashStatus| {
        let hit: Vec<String> = crash
            .iter()
            .filter(|s| s.report.verdict.status == status)
            .map(|s| match status {
                CrashStatus::Inconclusive if !s.report.exhaustive => format!(
                    "sampled under {}: ~{} states not explored",
                    s.report.model.name(),
                    thousands(s.report.not_explored_estimate)
                ),
                _ => format!("{} under {}", s.report.verdict.summary, s.report.model.name()),
            })
            .collect();
        (!hit.is_empty()).then(|| format!("crash states: {}", hit.join("; ")))
    };
    match c.case.expect {
        Expect::Clean => {
            let crash_failed = crash_line(CrashStatus::Fail);
            if found > 0 || crash_failed.is_some() {
                let mut why = Vec::new();
                if found > 0 {
                    why.push(format!("{CLAIMS}{}", summary(c)));
                }
                why.extend(crash_failed);
                return (CaseStatus::Fail, why.join("; "));
            }
            if c.exposed_reads == 0 {
                return (
                    CaseStatus::Inconclusive,
                    "no read overlapped a write: zero proves nothing".into(),
                );
            }
            if let Some(proof) = &rules.proof {
                let missing = proof.missing(Shown::of(c));
                if !missing.is_empty() {
                    return (
                        CaseStatus::Inconclusive,
                        format!(
                            "0 anomalies, but only {} — raise --budget, or lower the target",
                            missing.join(", ")
                        ),
                    );
                }
            }
            if let Some(sampled) = crash_line(CrashStatus::Inconclusive) {
                return (
                    CaseStatus::Inconclusive,
                    format!("0 anomalies in its reads, but {sampled}"),
                );
            }
            if rules.crash && crash.is_empty() {
                return match stage {
                    Stage::Running => (
                        CaseStatus::Pending,
                        "readers done; the crash stage has not run yet".into(),
                    ),
                    Stage::Finished => (
                        CaseStatus::Inconclusive,
                        "0 anomalies in its reads, but its crash stage did not run".into(),
                    ),
                };
            }
            (CaseStatus::Pass, pass_reason(c, !crash.is_empty()))
        }
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

/// How a failing case that claims safety is described.
const CLAIMS: &str = "claims safety but showed ";

/// Why a case that claims safety passed: its zero with its bound.
fn pass_reason(c: &CaseReport, crashed: bool) -> String {
    format!(
        "0 anomalies in {} exposed reads (95% bound ≤ {} per exposed read){}{}",
        thousands(c.exposed_reads),
        sci(c.anomalies_per_exposed.high),
        match &c.case.fault {
            Some(f) => format!(
                "; under {f}: {} write errors, all reported, file always whole",
                thousands(c.writes.errors)
            ),
            None => String::new(),
        },
        if crashed {
            "; crash states: atomic and durable in every state explored"
        } else {
            ""
        }
    )
}

/// Whether a case is a positive control that showed the race in its reads:
/// the evidence that this run's readers could see a torn write.
fn control_showed_race(c: &CaseReport) -> bool {
    c.status == CaseStatus::Reproduced && c.anomalous_reads() > 0
}

fn judge_run(report: &Report, stage: Stage) -> Verdict {
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
    for c in with(CaseStatus::Interrupted) {
        lines.push(format!("interrupted: {} — {}", c.label, c.reason));
    }
    for c in with(CaseStatus::Pending) {
        lines.push(format!("pending: {} — {}", c.label, c.reason));
    }
    let any = |s: CaseStatus| with(s).next().is_some();
    let status = if stage == Stage::Running || any(CaseStatus::Pending) {
        lines.push(format!(
            "incomplete: written while the run was still going ({} case(s) finished); \
             only the run's last report may pass",
            cases.len()
        ));
        RunStatus::Incomplete
    } else if any(CaseStatus::Interrupted) {
        lines.push("interrupted: the numbers above cover only part of the run".into());
        RunStatus::Interrupted
    } else if any(CaseStatus::SubjectError) {
        RunStatus::SubjectError
    } else if any(CaseStatus::Fail) {
        RunStatus::AnomaliesFound
    } else if !cases.iter().any(control_showed_race) {
        lines.push(
            "inconclusive: no positive control showed anomalous reads in this run, so its zeros \
             prove nothing (add naive-truncate to the scenario)"
                .into(),
        );
        RunStatus::Inconclusive
    } else if any(CaseStatus::Inconclusive) {
        RunStatus::Inconclusive
    } else {
        RunStatus::Pass
    };
    if let Some(proof) = &report.rules.proof {
        gate_lines(report, proof, status, &mut lines);
    }
    Verdict::new(status, lines)
}

/// The gate's headline first (its one-line verdict on the subject), and
/// what the verdict could not rest on.
fn gate_lines(report: &Report, _proof: &ProofTarget, status: RunStatus, lines: &mut Vec<String>) {
    let control = report.cases.iter().find(|c| c.case.expect == Expect::Anomalies);
    let Some(s) = report.cases.iter().find(|c| c.case.expect == Expect::Clean) else {
        return;
    };
    let readers = format!(
        "0 anomalies in {} writes, {} of {} write windows overlapped by reads (95% bound ≤ {} per write), \
         {} exposed reads (≤ {} per read){}; control naive-truncate: {} anomalous reads in the same run",
        thousands(s.writes.committed),
        thousands(s.windows.hit),
        thousands(s.windows.opened),
        sci(s.anomalies_per_window.high),
        thousands(s.exposed_reads),
        sci(s.anomalies_per_exposed.high),
        if s.windows.traced {
            ""
        } else {
            " — untraced: each whole write counted as a window"
        },
        thousands(control.map_or(0, |c| c.anomalous_reads()))
    );
    let readers_clean = s.anomalous_reads() + s.writer_findings() == 0 && s.exposed_reads > 0;
    let headline = match (status, s.status) {
        (RunStatus::Pass, _) => format!("pass: {readers}"),
        (_, CaseStatus::Fail) => format!("fail: {}", s.reason.trim_start_matches(CLAIMS)),
        (_, CaseStatus::SubjectError) => format!("subject error: {}", s.reason),
        (_, CaseStatus::Inconclusive) => format!("inconclusive: {}", s.reason),
        (status, _) => status.name().to_string(),
    };
    // A subject failed by its crash states alone: its readers' zero stays
    // on record, second.
    if status != RunStatus::Pass && s.status == CaseStatus::Fail && readers_clean {
        lines.insert(0, format!("readers: {readers}"));
    }
    lines.insert(0, headline);
    // What the verdict could not rest on: calls the trace could not see.
    if let Some(t) = &s.trace {
        if let Some(why) = &t.summary.untraced {
            lines.insert(
                1,
                format!("untraced: {why} — each whole write counted as one window"),
            );
        }
        if !t.summary.unseen.is_empty() {
            lines.push(format!("not seen by the trace: {}", t.summary.unseen.join("; ")));
        }
    }
}

/// The verdict over several runs (a matrix, a merge): the most serious of
/// their statuses, with one line per run.
pub fn over_runs(reports: &[Report]) -> Verdict {
    let status = reports
        .iter()
        .map(|r| r.verdict.status)
        .min()
        .unwrap_or(RunStatus::Inconclusive);
    let mut lines: Vec<String> = reports
        .iter()
        .map(|r| {
            format!(
                "{} ({}): {}",
                r.environment.fs_label,
                r.environment.fs_type,
                r.verdict.status.name()
            )
        })
        .collect();
    if reports.is_empty() {
        lines.push("inconclusive: no run to judge".into());
    }
    Verdict::new(status, lines)
}

/// `torn crash`'s exit code over its explorations: any state not atomic
/// or not durable fails; a sampled exploration is inconclusive.
pub fn crash_exit(statuses: &[crate::crash::CrashStatus]) -> i32 {
    use crate::crash::CrashStatus;
    if statuses.contains(&CrashStatus::Fail) {
        exit::ANOMALIES_FOUND
    } else if statuses.contains(&CrashStatus::Inconclusive) || statuses.is_empty() {
        exit::INCONCLUSIVE
    } else {
        exit::OK
    }
}
