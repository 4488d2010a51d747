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
use crate::report::verdict::{judge_run, sci, thousands};
use crate::report::{CaseStatus, Report, RunStatus};
use crate::scenario::{CaseEntry, Dur, Rate, Scenario, StrategyName};
use crate::subject::SubjectSpec;

/// Everything a gate needs.
#[derive(Debug, Clone)]
pub struct Gate {
    /// Trace the writer (off: each whole write counts as a window).
    pub trace: bool,
    /// Delay injection inside write windows, up to this long per hold.
    pub perturb: Option<Duration>,
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
    /// What the target holds before the writer's first write (`--seed-file`).
    pub seed_file: Option<String>,
    /// Fields the writer changes on every write (`--volatile`).
    pub volatile: Vec<String>,
    /// Make the target a symlink to a file elsewhere (`--target-symlink`).
    pub target_symlink: bool,
}

/// What a gate must prove about a subject with zero anomalies: enough
/// completed writes, enough mutation windows that reads overlapped (the
/// per-write proof), and optionally enough window-exposed reads or a bound
/// on the per-read anomaly probability.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
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

/// Persistence models the gate's crash stage explores.
pub const CRASH_MODELS: [crate::crash::Model; 2] =
    [crate::crash::Model::Strict, crate::crash::Model::Ext4Ordered];

/// The gate's crash stage: `subject`'s own writes (three, traced, with
/// payloads, on a fresh copy of version 0 in `scratch`) crashed at every
/// point under each of [`CRASH_MODELS`]. A writer that is not atomic or not
/// durable under a model fails the gate.
pub fn crash_stage(
    subject: &SubjectSpec,
    classifier: &crate::classify::Classifier,
    target_rel: &std::path::Path,
    scratch: &crate::scratch::Scratch,
    seed: u64,
) -> anyhow::Result<Vec<crate::report::CrashStage>> {
    use anyhow::Context;
    use std::os::unix::fs::PermissionsExt;
    let case = scratch.case_dir(90, "crash")?;
    let target = case.home().join(target_rel);
    let dir = target.parent().expect("a path below HOME");
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let v0 = classifier.template.render_vec(&classifier.codec, 0);
    std::fs::write(&target, &v0).with_context(|| format!("writing {}", target.display()))?;
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600))?;
    let ctx = crate::subject::WriterCtx {
        target: target.clone(),
        home: case.home(),
        log_dir: case.path().to_path_buf(),
        index: 0,
    };
    let rec = crate::crash::record::record_subject(subject, &ctx, classifier, 3)?;
    // Judged against the writer's own learned shape, from the file it left.
    let initial = crate::crash::initial_target(&target, rec.initial.as_ref().map_or(&v0, |(_, b)| b));
    let classifier = rec.classifier.as_ref().unwrap_or(classifier);
    let mut out = Vec::new();
    for (i, model) in CRASH_MODELS.into_iter().enumerate() {
        let states = scratch.case_dir(91 + i, model.name())?;
        let input = crate::crash::Input {
            trace: &rec.events,
            target: &target,
            initial: &initial,
            acks: &rec.acks,
        };
        let report = crate::crash::explore(
            &input,
            model,
            crate::crash::Limits::new(16_384, 200_000),
            states.path(),
            classifier,
            seed,
        )
        .with_context(|| {
            format!(
                "exploring the crash states of {} under {}",
                subject.label(),
                model.name()
            )
        })?;
        out.push(crate::report::CrashStage {
            subject: subject.label(),
            report,
        });
    }
    Ok(out)
}

/// Folds the crash stage into the gate's verdict: a subject that is not
/// atomic or not durable under a model fails.
pub fn judge_crash(report: &mut Report) {
    let failed: Vec<String> = report
        .crash
        .iter()
        .filter(|c| c.report.verdict.status == crate::crash::CrashStatus::Fail)
        .map(|c| format!("{} under {}", c.report.verdict.summary, c.report.model.name()))
        .collect();
    if failed.is_empty() {
        if !report.crash.is_empty() {
            report
                .verdict
                .lines
                .push("crash states: atomic and durable in every state explored".into());
        }
        return;
    }
    let line = format!("crash states: {}", failed.join("; "));
    if report.verdict.status == RunStatus::Pass {
        report.verdict.status = RunStatus::AnomaliesFound;
        report.verdict.exit_code = exit::ANOMALIES_FOUND;
        // The readers' pass stays on record, second.
        if let Some(first) = report.verdict.lines.first_mut()
            && let Some(rest) = first.strip_prefix("pass: ")
        {
            *first = format!("readers: {rest}");
        }
        report.verdict.lines.insert(0, format!("fail: {line}"));
    } else {
        report.verdict.lines.push(line);
    }
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
            trace: Some(self.trace),
            perturb: self.perturb.map(Dur),
            target_symlink: self.target_symlink,
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
            seed_file: self.seed_file.clone(),
            volatile: (!self.volatile.is_empty()).then(|| self.volatile.clone()),
            strategies: vec![control, subject],
        }
    }
}

/// What a finished case showed, in the terms of a [`ProofTarget`].
pub fn shown(c: &crate::report::CaseReport) -> Shown {
    Shown {
        writes: c.writes.committed,
        windows_hit: c.windows.hit,
        exposed: c.exposed_reads,
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
        .map(|c| c.anomaly_count());
    if let Some(subject) = report.cases.iter_mut().find(|c| c.label != CONTROL)
        && subject.status == CaseStatus::Pass
    {
        let missing = proof.missing(shown(subject));
        if !missing.is_empty() {
            subject.status = CaseStatus::Inconclusive;
            subject.reason = format!(
                "0 anomalies, but only {} — raise --budget, or lower the target",
                missing.join(", ")
            );
        }
    }
    let mut verdict = judge_run(report);
    let subject = report.cases.iter().find(|c| c.label != CONTROL);
    let headline = match (verdict.status, subject) {
        (RunStatus::Pass, Some(s)) => format!(
            "pass: 0 anomalies in {} writes, {} of {} write windows overlapped by reads (95% bound ≤ {} per write), \
             {} exposed reads (≤ {} per read){}; control naive-truncate tore {} times in the same run",
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
            thousands(control_count.unwrap_or(0))
        ),
        (RunStatus::AnomaliesFound, Some(s)) => format!("fail: {}", crate::report::verdict::summary(s)),
        (RunStatus::SubjectError, Some(s)) => format!("subject error: {}", s.reason),
        (status, _) => status.name().to_string(),
    };
    verdict.lines.insert(0, headline);
    // What the verdict could not rest on: calls the trace could not see.
    if let Some(t) = report
        .cases
        .iter()
        .find(|c| c.label != CONTROL)
        .and_then(|c| c.trace.as_ref())
    {
        if let Some(why) = &t.summary.untraced {
            verdict.lines.insert(
                1,
                format!("untraced: {why} — each whole write counted as one window"),
            );
        }
        if !t.summary.unseen.is_empty() {
            verdict
                .lines
                .push(format!("not seen by the trace: {}", t.summary.unseen.join("; ")));
        }
    }
    if verdict.status == RunStatus::Pass {
        verdict.exit_code = exit::OK;
    }
    report.verdict = verdict;
}
