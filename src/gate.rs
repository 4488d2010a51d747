//! `torn gate`: judge the user's own writer black-box, with a positive
//! control and a bound.
//!
//! The gate is a two-case scenario run in one invocation on the same
//! template, target, and readers: first the control (`naive-truncate`), then
//! the subject (an external writer or a built-in strategy) until it has
//! proven the [`ProofTarget`], shown an anomaly, or used its time budget. It
//! passes only when the subject showed zero anomalies, the control showed at
//! least one, and the target was met.

use std::num::NonZeroUsize;
use std::time::Duration;

use crate::exit;
use crate::format::Format;
use crate::report::verdict::{ProofTarget, judge_run, sci, thousands};
use crate::report::{CaseStatus, Report, RunStatus};
use crate::scenario::{CaseEntry, Dur, Rate, Scenario, StrategyName};
use crate::subject::SubjectSpec;

/// Everything a gate needs.
#[derive(Debug, Clone)]
pub struct Gate {
    pub format: Format,
    pub template: Option<String>,
    pub client_key: Option<String>,
    pub target: Option<String>,
    pub subject: SubjectSpec,
    pub writers: NonZeroUsize,
    pub readers: NonZeroUsize,
    pub reader_lock: bool,
    pub reader_procs: bool,
    /// Killed-writer trials after the subject's run.
    pub kill_trials: u64,
    /// A fault injected mid-run, and when.
    pub fault: Option<crate::engine::fault::Fault>,
    pub fault_after: Duration,
    /// The real client as an extra reader (`--reader-stdio`).
    pub reader_stdio: Option<String>,
    /// Longest one external read may take when the subject is a built-in
    /// strategy (otherwise the subject's write timeout is used).
    pub reader_timeout: Duration,
    pub write_rate: Rate,
    pub proof: ProofTarget,
    /// Longest the subject may run to meet the target.
    pub budget: Duration,
    /// How long the control runs.
    pub control: Duration,
    pub seed: u64,
}

/// Label of the control case.
pub const CONTROL: &str = "control: naive-truncate";

impl Gate {
    /// The gate as a scenario: the control, then the subject.
    pub fn scenario(&self) -> Scenario {
        let entry = |label: &str| CaseEntry {
            label: Some(label.to_string()),
            ..CaseEntry::default()
        };
        let mut control = entry(CONTROL);
        control.strategy = Some(StrategyName("naive-truncate".into()));
        control.writers = Some(NonZeroUsize::MIN);
        control.write_rate = Some(Rate(None));
        control.duration = Some(Dur(self.control));
        let mut subject = entry(&format!("subject: {}", self.subject.label()));
        match &self.subject {
            SubjectSpec::Strategy { name, params } => {
                subject.strategy = Some(StrategyName(name.clone()));
                subject.chunks = NonZeroUsize::new(params.chunks);
                subject.expect = Some(crate::strategy::Expect::Clean);
            }
            SubjectSpec::Command(s) | SubjectSpec::Stdio(s) => {
                let cmd = Some(s.command.clone());
                if matches!(self.subject, SubjectSpec::Command(_)) {
                    subject.writer_cmd = cmd;
                } else {
                    subject.writer_stdio = cmd;
                }
                subject.shell = Some(s.shell);
                subject.write_timeout = Some(Dur(s.timeout));
            }
        }
        Scenario {
            name: "gate".into(),
            description: Some(format!("torn gate on {}", self.subject.label())),
            format: self.format,
            template: self.template.clone(),
            client_key: self.client_key.clone(),
            target: self.target.clone(),
            target_mode: 0o600,
            seed: self.seed,
            duration: Dur(self.budget),
            reads: None,
            writers: self.writers,
            readers: self.readers,
            reader_lock: self.reader_lock,
            reader_profile: crate::engine::Profile::Reread,
            reader_procs: self.reader_procs,
            rmw: false,
            target_symlink: false,
            watch_modes: true,
            kill_trials: self.kill_trials,
            fault: self.fault,
            fault_after: Some(Dur(self.fault_after)),
            verify_writes: None,
            reader_stdio: self.reader_stdio.clone(),
            write_timeout: match &self.subject {
                SubjectSpec::Command(s) | SubjectSpec::Stdio(s) => Some(Dur(s.timeout)),
                SubjectSpec::Strategy { .. } => Some(Dur(self.reader_timeout)),
            },
            write_rate: self.write_rate,
            token_grace: None,
            evidence: 3,
            strategies: vec![control, subject],
        }
    }
}

/// Applies the gate's rules to a finished run: a subject that showed nothing
/// but did not reach the proof target is inconclusive. Rewrites the subject's
/// status and the verdict, and adds the one-line gate verdict first.
pub fn judge(report: &mut Report, proof: &ProofTarget) {
    let control_count = report
        .cases
        .iter()
        .find(|c| c.label == CONTROL)
        .map(|c| c.findings());
    if let Some(subject) = report.cases.iter_mut().find(|c| c.label != CONTROL)
        && subject.status == CaseStatus::Pass
        && !proof.met(subject.exposed_reads)
    {
        subject.status = CaseStatus::Inconclusive;
        subject.reason = format!(
            "0 anomalies, but only {} exposed reads (95% bound ≤ {}); the target needs {} — \
             raise --budget or lower --max-rate / --min-exposed",
            thousands(subject.exposed_reads),
            sci(subject.anomalies_per_exposed.high),
            thousands(proof.exposed_needed())
        );
    }
    let mut verdict = judge_run(report);
    let subject = report.cases.iter().find(|c| c.label != CONTROL);
    let headline = match (verdict.status, subject) {
        (RunStatus::Pass, Some(s)) => format!(
            "pass: 0 anomalies in {} exposed reads (95% bound ≤ {} per exposed read); control naive-truncate tore {} times in the same run",
            thousands(s.exposed_reads),
            sci(s.anomalies_per_exposed.high),
            thousands(control_count.unwrap_or(0))
        ),
        (RunStatus::AnomaliesFound, Some(s)) => format!("fail: {}", crate::report::verdict::summary(s)),
        (RunStatus::SubjectError, Some(s)) => format!("subject error: {}", s.reason),
        (status, _) => format!("{status:?}").to_lowercase(),
    };
    verdict.lines.insert(0, headline);
    if verdict.status == RunStatus::Pass {
        verdict.exit_code = exit::OK;
    }
    report.verdict = verdict;
}
