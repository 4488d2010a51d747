//! Running a scenario: scratch directories, one engine run per case, live
//! progress, reports rewritten after every case (so an interrupted or
//! crashed run keeps what it measured).

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::case::CaseEnv;
use crate::classify::Classifier;
use crate::engine::{self, Progress};
use crate::envinfo;
use crate::numbers::thousands;
use crate::report::verdict::{self, ProofTarget, Rules, Shown, Stage};
use crate::report::{self, CaseReport, Report, ScenarioInfo, evidence};
use crate::scenario::{Dur, Scenario};
use crate::scratch::{Scratch, slug};
use crate::strategy::Expect;
use crate::token::TokenCodec;
use std::ops::ControlFlow;

/// Command-line overrides of a scenario's settings; each replaces the
/// scenario's value everywhere, per-strategy overrides included.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub duration: Option<Duration>,
    pub reads: Option<u64>,
    pub seed: Option<u64>,
    pub readers: Option<NonZeroUsize>,
    pub writers: Option<NonZeroUsize>,
    /// Readers as processes, everywhere.
    pub reader_procs: bool,
    /// The readers' pace, everywhere.
    pub reader_pace: Option<crate::case::Pace>,
}

impl Overrides {
    pub fn apply(&self, s: &mut Scenario) {
        if let Some(d) = self.duration {
            s.duration = Dur(d);
            s.strategies.iter_mut().for_each(|c| c.duration = None);
        }
        if let Some(r) = self.reads {
            s.reads = Some(r);
        }
        if let Some(seed) = self.seed {
            s.seed = seed;
        }
        if let Some(r) = self.readers {
            s.readers = r;
            s.strategies.iter_mut().for_each(|c| c.readers = None);
        }
        if self.reader_procs {
            s.reader_procs = true;
            s.strategies.iter_mut().for_each(|c| c.reader_procs = None);
        }
        if let Some(p) = self.reader_pace {
            s.reader_pace = Some(p);
            s.strategies.iter_mut().for_each(|c| c.reader_pace = None);
        }
        if let Some(w) = self.writers {
            s.writers = w;
            s.strategies.iter_mut().for_each(|c| c.writers = None);
        }
    }
}

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Scratch directory (`--dir`); default: a new one under the temp dir.
    pub dir: Option<PathBuf>,
    /// Keep the scratch files for inspection.
    pub keep_scratch: bool,
    /// Where report directories go; `None` writes no report files.
    pub reports_dir: Option<PathBuf>,
    /// Print progress and per-case lines on stderr.
    pub verbose: bool,
    /// The command line, recorded in the report.
    pub command: String,
    /// What the verdict holds the run to; with a proof target, each case
    /// that claims safety stops once it is proven (the gate).
    pub rules: Rules,
    /// The `torn` executable that reader processes run (default: this one).
    pub reader_exe: Option<PathBuf>,
    /// Stages follow the cases (a gate's calibration and crash stage): the
    /// caller adds them and calls [`RunResult::finish`]; until then the
    /// report says `incomplete`.
    pub stages_follow: bool,
    /// Put before every progress line: which of several runs this is (the
    /// filesystem of a matrix run).
    pub progress_label: Option<String>,
}

/// How long a gated case goes on after its first flagged write, for its
/// readers to show what the recipe does (a failure by reads and by recipe
/// says more than one by recipe alone), and at least after its fault starts.
const FLAGGED_GRACE: Duration = Duration::from_secs(1);

/// A run whose cases are done (or were interrupted).
pub struct RunResult {
    pub report: Report,
    /// Where the report files were written.
    pub report_dir: Option<PathBuf>,
}

impl RunResult {
    /// Decides the final verdict (the only report that may say pass) and
    /// writes the report files a last time. Called once nothing more (a
    /// crash stage) will be added.
    pub fn finish(&mut self) -> anyhow::Result<()> {
        verdict::decide(&mut self.report, Stage::Finished);
        if let Some(dir) = &self.report_dir {
            report::write_all(&self.report, dir)?;
        }
        Ok(())
    }
}

/// Runs every case of `scenario`. `source` names it in errors and reports;
/// `base` resolves a template path.
pub fn run(
    scenario: &Scenario,
    source: &str,
    base: &Path,
    opts: &RunOptions,
    cancel: &AtomicBool,
) -> anyhow::Result<RunResult> {
    scenario.validate(source)?;
    scenario.check_requires(source)?;
    let template = scenario.template(source, base)?;
    let classifier = Classifier::new(
        template,
        TokenCodec::new(scenario.seed),
        scenario.token_grace.unwrap_or(u64::MAX),
    );
    let scratch = Scratch::new(opts.dir.as_deref(), opts.keep_scratch)?;
    if let Some(f) = scenario.fault {
        f.check(scratch.root())
            .map_err(|message| crate::scenario::ScenarioError::Invalid {
                path: source.to_string(),
                field: "fault",
                message,
            })?;
    }
    let created = chrono::Utc::now();
    let report_dir = opts.reports_dir.as_ref().map(|d| {
        d.join(format!(
            "{}-{}",
            created.format("%Y%m%dT%H%M%SZ"),
            slug(&scenario.name)
        ))
    });
    if let Some(dir) = &report_dir {
        report::files::create_report_dir(dir, report::files::is_private(scenario.target_mode))?;
    }
    let target_rel = scenario.target_rel();
    let mut report = Report {
        schema: report::SCHEMA.into(),
        created: created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        command: opts.command.clone(),
        scenario: ScenarioInfo {
            name: scenario.name.clone(),
            source: source.into(),
            format: scenario.format.name().into(),
            template: classifier.template.origin.clone(),
            target: target_rel.display().to_string(),
            version_len: classifier.template.len(),
            target_mode: scenario.target_mode,
            effective: serde_saphyr::to_string(scenario).context("serialising the scenario")?,
        },
        seed: scenario.seed,
        environment: envinfo::probe(scratch.root()),
        rules: opts.rules,
        calibration: None,
        cases: Vec::new(),
        crash: Vec::new(),
        verdict: report::Verdict::incomplete(),
    };
    let cases = scenario.cases_at(base);
    if let Some(crate::case::StartFile::File(path)) = cases.iter().map(|c| &c.shape.start).next() {
        crate::limits::read_text(path, crate::limits::MAX_TEMPLATE_BYTES, "seed file").map_err(|e| {
            crate::scenario::ScenarioError::Invalid {
                path: source.to_string(),
                field: "seed_file",
                message: format!("cannot read {}: {e}", path.display()),
            }
        })?;
    }
    for (i, case) in cases.iter().enumerate() {
        let dir = scratch
            .case_dir(i, &case.label)
            .with_context(|| format!("creating a case directory in {}", scratch.root().display()))?;
        let target = dir.home().join(&target_rel);
        std::fs::create_dir_all(target.parent().expect("target has a parent"))?;
        let env = CaseEnv {
            home: dir.home(),
            log_dir: dir.path().to_path_buf(),
            exe: opts.reader_exe.clone(),
        };
        let bar = progress_bar(
            opts.verbose,
            opts.progress_label.as_deref(),
            i,
            cases.len(),
            &case.label,
        );
        let (proof, expect, duration) = (opts.rules.proof, case.expect, case.duration);
        // A case with a fault proves nothing about it before it has written
        // under it for a while.
        let fault_after = case
            .fault
            .as_ref()
            .map_or(Duration::ZERO, |f| f.after + FLAGGED_GRACE);
        // When a write's recipe was first flagged: the case goes on a little
        // longer so that its readers can show what the recipe does to them.
        let mut flagged_at = None;
        let gated = proof.filter(|_| expect == Expect::Clean);
        let mut on_progress = |p: Progress| {
            match gated {
                Some(t) => bar.set_message(gate_progress(&p, &t, duration)),
                None => show_progress(&bar, &p),
            }
            // With a proof target, a case that claims safety stops as soon as
            // it fails or has proven enough: on an anomalous read at once, on
            // a flagged write once its readers had FLAGGED_GRACE to see it.
            let Some(t) = proof.filter(|_| expect == Expect::Clean) else {
                return ControlFlow::Continue(());
            };
            if p.flagged_writes > 0 {
                flagged_at.get_or_insert(p.elapsed);
            }
            let flag_seen = flagged_at.is_some_and(|at| p.elapsed >= at + FLAGGED_GRACE);
            let shown = Shown {
                writes: p.writes,
                windows_hit: p.windows_hit,
                exposed: p.exposed,
            };
            let clean = flagged_at.is_none() && p.anomalies == 0;
            let by_windows = t.route.windows() && t.met(shown);
            // The recipe route stops a case once enough writes were atomic
            // by recipe and none was not — when it is the only route, or when
            // the windows route would not finish within the case's time at
            // the pace it has kept (a slow writer); a calibration follows.
            let windows_short = !t.route.windows()
                || (p.windows_hit as f64) * duration.as_secs_f64()
                    < (t.min_windows as f64) * p.elapsed.as_secs_f64();
            let by_recipe = t.recipe_allowed()
                && p.other_writes == 0
                && p.atomic_writes >= t.min_writes
                && p.writes >= t.min_writes
                && windows_short;
            let faulted = p.elapsed > fault_after;
            if p.anomalies > 0 || flag_seen || (clean && faulted && (by_windows || by_recipe)) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        };
        let raw = engine::run_case(case, &env, &classifier, &target, cancel, &mut on_progress)
            .with_context(|| format!("running {} on {}", case.label, target.display()))?;
        bar.finish_and_clear();
        let slug = format!("{i:02}-{}", slug(&case.label));
        let private = report::files::is_private(scenario.target_mode);
        // A learned shape judged this case: its classifier renders the
        // versions the evidence is compared with, and seeds the kill trials.
        let case_classifier = raw.classifier(&classifier);
        let evidence = evidence::save(
            &raw.reads.evidence,
            case_classifier,
            report_dir.as_deref(),
            &slug,
            private,
        )
        .context("saving evidence")?;
        let mut case_report = CaseReport::new(case, &raw, evidence);
        if let Some(learned) = &raw.shape {
            let mut shape = learned.report.clone();
            shape.files = evidence::save_shape(learned, report_dir.as_deref(), &slug, private)
                .context("saving the learned shape")?;
            case_report.shape = Some(shape);
        }
        if case.kill_trials > 0 && !raw.interrupted {
            bar.finish_and_clear();
            let exe = match &opts.reader_exe {
                Some(exe) => exe.clone(),
                None => std::env::current_exe()
                    .context("locating the torn executable for killed-writer trials")?,
            };
            let name = target_rel
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let trials = crate::engine::kill::run(
                &case.subject,
                &exe,
                case_classifier,
                &dir.path().join("kill"),
                &name,
                case.target_mode,
                case.kill_trials,
                scenario.seed ^ i as u64,
            )
            .with_context(|| format!("killed-writer trials of {}", case.label))?;
            case_report.kill_trials = Some(trials);
        }
        report.cases.push(case_report);
        // Until the run is over, the report on disk says `incomplete`.
        verdict::decide(&mut report, Stage::Running);
        if opts.verbose {
            let width = report::table::terminal_width();
            let c = report.cases.last().expect("just pushed");
            match &opts.progress_label {
                Some(label) => {
                    let width = width.saturating_sub(label.chars().count() + 1);
                    eprintln!(
                        "{label} {}",
                        report::table::progress_line(i, cases.len(), c, width)
                    );
                }
                None => eprintln!("{}", report::table::progress_line(i, cases.len(), c, width)),
            }
        }
        if let Some(dir) = &report_dir {
            report::write_all(&report, dir)?;
        }
        // A broken external reader would break every following case too.
        if raw.interrupted || raw.external.as_ref().is_some_and(|e| e.error.is_some()) {
            break;
        }
    }
    let mut result = RunResult { report, report_dir };
    if !opts.stages_follow {
        result.finish()?;
    }
    Ok(result)
}

/// Shows a progress snapshot on a bar.
pub fn show_progress(bar: &ProgressBar, p: &Progress) {
    let rate = p.reads as f64 / p.elapsed.as_secs_f64().max(1e-3);
    bar.set_message(format!(
        "{} reads ({:.0}k/s) · {} exposed · {} anomalies{}",
        thousands(p.reads),
        rate / 1e3,
        thousands(p.exposed),
        thousands(p.anomalies),
        match p.flagged_writes {
            0 => String::new(),
            n => format!(" · {} writes with a recipe finding", thousands(n)),
        }
    ));
}

/// A gated subject's progress: where each route to a pass stands, and the
/// time left — `writes 12/20 · windows 40/300 · recipe: 12 atomic · 0
/// anomalies · 48s left`.
fn gate_progress(p: &Progress, t: &ProofTarget, budget: Duration) -> String {
    let mut parts = vec![format!(
        "writes {}/{}",
        thousands(p.writes),
        thousands(t.min_writes)
    )];
    if t.route.windows() {
        parts.push(format!(
            "windows {}/{}",
            thousands(p.windows_hit),
            thousands(t.min_windows)
        ));
    }
    if t.recipe_allowed() {
        parts.push(match p.other_writes {
            0 => format!("recipe: {} atomic", thousands(p.atomic_writes)),
            n => format!("recipe: {} not atomic", thousands(n)),
        });
    }
    parts.push(format!("{} anomalies", thousands(p.anomalies)));
    if p.flagged_writes > 0 {
        parts.push(format!("{} flagged writes", thousands(p.flagged_writes)));
    }
    parts.push(format!("{}s left", budget.saturating_sub(p.elapsed).as_secs()));
    parts.join(" · ")
}

fn progress_bar(verbose: bool, run: Option<&str>, i: usize, n: usize, label: &str) -> ProgressBar {
    if !verbose {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{prefix} {spinner} {elapsed:>3} {wide_msg}").expect("valid template"),
    );
    let run = run.map(|r| format!("{r} ")).unwrap_or_default();
    bar.set_prefix(format!("{run}[{}/{}] {label:<30}", i + 1, n));
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// The scenarios shipped with torn, embedded so `torn repro` works from anywhere.
pub const BUILTIN_SCENARIOS: &[(&str, &str, &str)] = &[
    (
        "hermes",
        "hermes-rotation.yaml",
        include_str!("../scenarios/hermes-rotation.yaml"),
    ),
    (
        "claude",
        "claude-settings.yaml",
        include_str!("../scenarios/claude-settings.yaml"),
    ),
    (
        "codex",
        "codex-dotenv.yaml",
        include_str!("../scenarios/codex-dotenv.yaml"),
    ),
    (
        "databricks",
        "databrickscfg-ini.yaml",
        include_str!("../scenarios/databrickscfg-ini.yaml"),
    ),
    (
        "lost-update",
        "lost-update.yaml",
        include_str!("../scenarios/lost-update.yaml"),
    ),
    (
        "killed-writer",
        "killed-writer.yaml",
        include_str!("../scenarios/killed-writer.yaml"),
    ),
    (
        "credentials-mode",
        "credentials-mode.yaml",
        include_str!("../scenarios/credentials-mode.yaml"),
    ),
    (
        "symlinked-target",
        "symlinked-target.yaml",
        include_str!("../scenarios/symlinked-target.yaml"),
    ),
    (
        "read-only-dir",
        "read-only-dir.yaml",
        include_str!("../scenarios/read-only-dir.yaml"),
    ),
    (
        "full-disk",
        "full-disk.yaml",
        include_str!("../scenarios/full-disk.yaml"),
    ),
    (
        "reader-profiles",
        "reader-profiles.yaml",
        include_str!("../scenarios/reader-profiles.yaml"),
    ),
    (
        "two-writers",
        "two-writers-fixed-tmp.yaml",
        include_str!("../scenarios/two-writers-fixed-tmp.yaml"),
    ), // In the wild: real tools as writers, their own clients as readers
    // (each `requires:` its commands; skipped with exit 77 without them).
    (
        "npm-token",
        "npm-token.yaml",
        include_str!("../scenarios/npm-token.yaml"),
    ),
    (
        "pip-index-url",
        "pip-index-url.yaml",
        include_str!("../scenarios/pip-index-url.yaml"),
    ),
    (
        "poetry-http-basic",
        "poetry-http-basic.yaml",
        include_str!("../scenarios/poetry-http-basic.yaml"),
    ),
    (
        "kubectl-credentials",
        "kubectl-credentials.yaml",
        include_str!("../scenarios/kubectl-credentials.yaml"),
    ),
    (
        "cargo-credentials",
        "cargo-credentials.yaml",
        include_str!("../scenarios/cargo-credentials.yaml"),
    ),
    (
        "git-credential-store",
        "git-credential-store.yaml",
        include_str!("../scenarios/git-credential-store.yaml"),
    ),
];

/// A built-in scenario by its short name.
pub fn builtin_scenario(name: &str) -> Option<(&'static str, Scenario)> {
    BUILTIN_SCENARIOS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, file, text)| {
            (
                *file,
                Scenario::parse(text, file).expect("shipped scenarios parse"),
            )
        })
}
