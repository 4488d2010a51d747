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
    /// Which route may prove a pass (`--proof`).
    #[serde(default)]
    pub route: ProofRoute,
}

/// The routes to a pass (`--proof`): enough write windows overlapped by
/// reads with zero anomalies, or every traced write in a recipe class that
/// is atomic for readers, that class calibrated on this filesystem in the
/// same run. By default whichever proves first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ProofRoute {
    #[default]
    Either,
    Windows,
    Recipe,
}

impl ProofRoute {
    pub fn windows(self) -> bool {
        self != ProofRoute::Recipe
    }
    pub fn recipe(self) -> bool {
        self != ProofRoute::Windows
    }
}

/// The built-in strategy a gate raced, in the same run and directory, to
/// show that a recipe class holds on this filesystem (the recipe route).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Its case's label in `cases`.
    pub case: String,
    /// The class it stands for.
    pub class: crate::trace::recipe::RecipeClass,
    /// The bound per exposed read it had to prove with zero anomalies.
    pub max_rate: f64,
}

/// How a case that passed was proven, with its evidence in words
/// (recorded in report.json beside its status).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Route {
    Windows,
    Recipe,
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
    /// Whether the recipe route may prove a pass: asked for, or allowed by
    /// `either` when the user asked for no bound on reads (`--min-exposed`,
    /// `--max-rate` ask for read evidence, which a recipe is not).
    pub fn recipe_allowed(&self) -> bool {
        match self.route {
            ProofRoute::Recipe => true,
            ProofRoute::Either => self.exposed_needed() == 0,
            ProofRoute::Windows => false,
        }
    }

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
        let recipe = format!(
            "≥ {} writes, each atomic by its traced recipe, that recipe calibrated on this filesystem",
            thousands(self.min_writes)
        );
        match self.route {
            ProofRoute::Recipe => format!("0 anomalies in {recipe}"),
            _ if self.recipe_allowed() => format!("0 anomalies in {} (or in {recipe})", parts.join(", ")),
            _ => format!("0 anomalies in {}", parts.join(", ")),
        }
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
        let calibration = calibration_evidence(report);
        let (status, reason, route) = if report.calibration.as_ref().is_some_and(|k| k.case == c.label) {
            (CaseStatus::Info, calibration_reason(report), None)
        } else {
            judge_case(c, &rules, &crash, calibration.as_ref(), stage)
        };
        let c = &mut report.cases[i];
        c.status = status;
        c.reason = reason;
        c.proven_by = route;
    }
    report.verdict = judge_run(report, stage);
}

/// What the run's calibration showed, in words: `Ok` when its class holds
/// on this filesystem to the bound it had to prove, `Err` why not.
fn calibration_evidence(report: &Report) -> Option<Result<String, String>> {
    let k = report.calibration.as_ref()?;
    let Some(c) = report.cases.iter().find(|c| c.label == k.case) else {
        return Some(Err("its calibration did not run".into()));
    };
    let fs = &report.environment.fs_type;
    let numbers = format!(
        "{} anomalies in {} exposed reads (≤ {} per exposed read)",
        thousands(c.anomalous_reads()),
        thousands(c.exposed_reads),
        sci(c.anomalies_per_exposed.high)
    );
    let what = c.subject.as_str();
    Some(if c.anomalous_reads() + c.writer_findings() > 0 {
        Err(format!(
            "{} does not hold on {fs}: its built-in {what} showed {}",
            class_name(k.class),
            summary(c)
        ))
    } else if c.exposed_reads == 0 || c.anomalies_per_exposed.high > k.max_rate {
        Err(format!(
            "the calibration of {} on {fs} did not reach ≤ {} per exposed read: {numbers}",
            class_name(k.class),
            sci(k.max_rate)
        ))
    } else {
        Ok(format!(
            "{} holds on {fs} in this run ({what}): {numbers}",
            class_name(k.class)
        ))
    })
}

fn class_name(c: crate::trace::recipe::RecipeClass) -> &'static str {
    match c {
        crate::trace::recipe::RecipeClass::RenameOver => "rename-over",
        crate::trace::recipe::RecipeClass::ExchangeOver => "exchange-over",
    }
}

fn calibration_reason(report: &Report) -> String {
    match calibration_evidence(report) {
        Some(Ok(s)) | Some(Err(s)) => format!("calibration: {s}"),
        None => String::new(),
    }
}

/// The recipe route for a case whose reads and findings are clean: every
/// traced write in an atomic class (and enough of them), nothing the trace
/// could not see, and the class calibrated in this run.
fn recipe_route(
    c: &CaseReport,
    proof: &ProofTarget,
    calibration: Option<&Result<String, String>>,
) -> Result<String, String> {
    let Some(t) = &c.trace else {
        return Err("the writer was not traced".into());
    };
    let blind = t.blind_spots();
    if !blind.is_empty() {
        return Err(format!(
            "the trace could not see everything: {}",
            blind.join("; ")
        ));
    }
    let a = &t.recipes.atomic;
    if let Some(first) = &a.first_outside {
        return Err(format!(
            "write {} is in no atomic recipe class: {}",
            first.write, first.why
        ));
    }
    let atomic = t.provably_atomic_writes();
    if c.writes.committed < proof.min_writes {
        return Err(format!(
            "only {} of {} writes",
            thousands(c.writes.committed),
            thousands(proof.min_writes)
        ));
    }
    if atomic < proof.min_writes {
        return Err(format!(
            "only {} of {} traced writes in an atomic recipe class",
            thousands(atomic),
            thousands(proof.min_writes)
        ));
    }
    let classes: Vec<String> = a
        .classes
        .iter()
        .map(|k| format!("{} {}", class_name(k.class), thousands(k.writes)))
        .collect();
    match calibration {
        Some(Ok(holds)) => Ok(format!(
            "all {} traced writes replace the file atomically ({}: a new inode written completely, then \
             one rename over the target); {holds}; the subject's readers: 0 anomalies in {} overlapped windows",
            thousands(a.writes),
            classes.join(", "),
            thousands(c.windows.hit)
        )),
        Some(Err(why)) => Err(why.clone()),
        None => Err(NO_CALIBRATION.into()),
    }
}

/// Why the recipe route has not proven a case whose every other fact
/// allows it: its class was not calibrated (yet).
const NO_CALIBRATION: &str = "no calibration of its recipe class ran";

fn judge_case(
    c: &CaseReport,
    rules: &Rules,
    crash: &[&super::CrashStage],
    calibration: Option<&Result<String, String>>,
    stage: Stage,
) -> (CaseStatus, String, Option<Route>) {
    let (status, reason) = judge_case_status(c, rules, crash, calibration, stage);
    match status {
        CaseStatus::Pass if reason.starts_with(BY_RECIPE) => (status, reason, Some(Route::Recipe)),
        CaseStatus::Pass => (status, reason, Some(Route::Windows)),
        _ => (status, reason, None),
    }
}

/// How a pass by recipe begins its reason.
const BY_RECIPE: &str = "by recipe: ";

fn judge_case_status(
    c: &CaseReport,
    rules: &Rules,
    crash: &[&super::CrashStage],
    calibration: Option<&Result<String, String>>,
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
                // Its writes were all atomic by recipe: the calibration says
                // whether this filesystem honours the recipe.
                match calibration {
                    Some(Err(e)) if c.writer_findings() == 0 => {
                        why.push(format!("every traced write was atomic by recipe, but {e}"))
                    }
                    Some(Ok(holds)) if c.writer_findings() == 0 => why.push(format!(
                        "every traced write was atomic by recipe and {holds}: look for a change the trace could not see"
                    )),
                    _ => {}
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
            if let Some(f) = &c.case.fault
                && c.elapsed_s < f.after.as_secs_f64()
            {
                return (
                    CaseStatus::Inconclusive,
                    format!(
                        "0 anomalies, but the case ended after {:.2} s, before its fault ({}) started",
                        c.elapsed_s,
                        f.fault.name()
                    ),
                );
            }
            let mut by_recipe = None;
            if let Some(proof) = &rules.proof {
                let missing = proof.missing(Shown::of(c));
                let windows = proof.route.windows() && missing.is_empty();
                let recipe = proof
                    .recipe_allowed()
                    .then(|| recipe_route(c, proof, calibration));
                match (windows, recipe) {
                    (true, _) => {}
                    (false, Some(Ok(evidence))) => by_recipe = Some(evidence),
                    (false, Some(Err(e))) if e == NO_CALIBRATION && stage == Stage::Running => {
                        return (
                            CaseStatus::Pending,
                            "readers done; its writes are all atomic by recipe, and the calibration of \
                             that recipe on this filesystem has not run yet"
                                .into(),
                        );
                    }
                    (false, recipe) => {
                        let mut why = Vec::new();
                        if proof.route.windows() {
                            why.push(format!("only {}", missing.join(", ")));
                        }
                        if let Some(Err(e)) = recipe {
                            why.push(format!("not by recipe: {e}"));
                        }
                        return (
                            CaseStatus::Inconclusive,
                            format!(
                                "0 anomalies, but {} — raise --budget, or lower the target",
                                why.join("; ")
                            ),
                        );
                    }
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
            match by_recipe {
                Some(evidence) => (
                    CaseStatus::Pass,
                    format!(
                        "{BY_RECIPE}{evidence}{}",
                        if crash.is_empty() {
                            ""
                        } else {
                            "; crash states: atomic and durable in every state explored"
                        }
                    ),
                ),
                None => (CaseStatus::Pass, pass_reason(c, !crash.is_empty())),
            }
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
        (RunStatus::Pass, _) if s.proven_by == Some(Route::Recipe) => {
            format!("pass (by recipe): {}", s.reason.trim_start_matches(BY_RECIPE))
        }
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
