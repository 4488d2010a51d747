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

use crate::format::Format;
pub use crate::report::verdict::{ProofTarget, Shown};
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
    /// Whether `format` was guessed (no `--format`): see [`Scenario::format_guessed`].
    pub format_guessed: bool,
    pub template: Option<String>,
    pub client_key: Option<String>,
    pub target: Option<String>,
    pub subject: SubjectSpec,
    pub writers: NonZeroUsize,
    pub readers: NonZeroUsize,
    pub reader_lock: bool,
    pub reader_procs: bool,
    /// When the readers read (`None`: by the subject; see [`crate::case::Pace`]).
    pub reader_pace: Option<crate::case::Pace>,
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

/// Persistence models the gate's crash stage explores.
pub const CRASH_MODELS: [crate::crash::Model; 2] =
    [crate::crash::Model::Strict, crate::crash::Model::Ext4Ordered];

/// The gate's crash stage: `subject`'s own writes (three, traced, with
/// payloads, on a fresh copy of version 0 in `scratch`) crashed at every
/// point under each of [`CRASH_MODELS`]. The verdict room judges them with
/// the subject's case, labelled `case`.
pub fn crash_stage(
    case_label: &str,
    subject: &SubjectSpec,
    classifier: &crate::classify::Classifier,
    target_rel: &std::path::Path,
    scratch: &crate::scratch::Scratch,
    limits: crate::crash::Limits,
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
    // A built-in strategy writes torn's own template (no shape to learn),
    // recorded in-process as `torn crash --strategy` records it.
    let rec = match subject {
        SubjectSpec::Strategy { name, params } => {
            let strategy =
                crate::strategy::build(name, params).with_context(|| format!("unknown strategy `{name}`"))?;
            crate::crash::record::record_builtin(&*strategy, &target, classifier, 3)?
        }
        _ => crate::crash::record::record_subject(subject, &ctx, classifier, 3)?,
    };
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
        let report = crate::crash::explore(&input, model, limits, states.path(), classifier, seed)
            .with_context(|| {
                format!(
                    "exploring the crash states of {} under {}",
                    subject.label(),
                    model.name()
                )
            })?;
        out.push(crate::report::CrashStage {
            subject: case_label.to_string(),
            report,
        });
    }
    Ok(out)
}

/// Label of the control case.
pub const CONTROL: &str = "control: naive-truncate";

impl Gate {
    /// The subject's case label.
    pub fn subject_label(&self) -> String {
        format!("subject: {}", self.subject.label())
    }

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
        let mut subject = entry(&self.subject_label());
        // The pace is the subject's: the control always reads back to back.
        subject.reader_pace = self.reader_pace;
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
            reader_pace: None,
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
            client: None,
            requires: Vec::new(),
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
            format_guessed: self.format_guessed,
        }
    }
}
