//! Carrying out `torn crash`: obtain each subject's trace (a built-in
//! strategy recorded, or a trace file), explore it under each model, print
//! and exit with the verdict.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use torn::classify::Classifier;
use torn::crash::input::{TraceFile, infer_acks};
use torn::crash::record::record_builtin;
use torn::crash::{CrashReport, CrashStatus, InitialFile, Input, Limits, Model, explore, initial_target};
use torn::exit;
use torn::format::{self, Format, Template};
use torn::scratch::Scratch;
use torn::strategy;
use torn::token::TokenCodec;
use torn::trace::Event;

use super::{Cli, CrashArgs};

/// One trace to crash.
struct Subject {
    label: String,
    /// The writer's learned shape, for an external writer.
    classifier: Option<Classifier>,
    events: Vec<Event>,
    target: PathBuf,
    initial: Vec<InitialFile>,
    /// The version the target held before the trace (`None`: no file).
    initial_version: Option<u64>,
    acks: Vec<(u64, u64)>,
}

/// One exploration, as printed with `--json` and in report.json.
#[derive(Serialize)]
struct Labeled<'a> {
    /// The strategy name or trace file.
    subject: &'a str,
    #[serde(flatten)]
    report: CrashReport,
}

/// Identifies the schema of `torn crash --json` and its report.json;
/// bumped on an incompatible change.
pub const SCHEMA: &str = "torn.crash/1";

/// What `torn crash --json` prints and report.json holds.
#[derive(Serialize)]
struct CrashRun<'a> {
    /// Always [`SCHEMA`].
    schema: &'static str,
    /// When the run started, RFC 3339 UTC.
    created: String,
    /// The command line, each argument shell-quoted.
    command: String,
    /// The seed of the tokens and of the sampler.
    seed: u64,
    /// One exploration per subject and model.
    results: &'a [Labeled<'a>],
    /// The run's verdict over every exploration.
    verdict: RunVerdict,
}

/// The verdict over every exploration of a `torn crash` run, as decided by
/// [`torn::report::verdict::crash_exit`].
#[derive(Serialize)]
struct RunVerdict {
    /// `pass`, `anomalies-found` or `inconclusive`, as on the `verdict:` line.
    status: &'static str,
    exit_code: i32,
}

impl RunVerdict {
    fn of(reports: &[Labeled<'_>]) -> Self {
        use torn::report::verdict::RunStatus;
        let statuses: Vec<CrashStatus> = reports.iter().map(|r| r.report.verdict.status).collect();
        let exit_code = torn::report::verdict::crash_exit(&statuses);
        let status = [
            RunStatus::Pass,
            RunStatus::AnomaliesFound,
            RunStatus::Inconclusive,
        ]
        .into_iter()
        .find(|s| s.exit_code() == exit_code)
        .map_or("unknown", RunStatus::name);
        Self { status, exit_code }
    }
}

pub fn crash(cli: &Cli, args: &CrashArgs) -> anyhow::Result<i32> {
    if args.strategies.is_empty()
        && args.traces.is_empty()
        && args.writer_stdio.is_empty()
        && args.writer_cmd.is_empty()
    {
        eprintln!(
            "error: torn crash needs a subject: --strategy NAME (see `torn list`), --writer-stdio CMD, \
             --writer-cmd CMD or --trace FILE.json"
        );
        return Ok(exit::USAGE_ERROR);
    }
    let recorded = args.strategies.len() + args.writer_stdio.len() + args.writer_cmd.len();
    if args.save_trace.is_some() && recorded != 1 {
        eprintln!(
            "error: --save-trace saves the trace of one recorded subject (one --strategy, --writer-stdio \
             or --writer-cmd); this command line has {recorded}"
        );
        return Ok(exit::USAGE_ERROR);
    }
    if let Some(bad) = args
        .strategies
        .iter()
        .find(|n| strategy::build(n, &strategy::Params::default()).is_none())
    {
        eprintln!(
            "error: unknown strategy `{bad}` for --strategy; expected one of: {}",
            strategy::names().join(", ")
        );
        return Ok(exit::USAGE_ERROR);
    }
    let template = match template(args) {
        Ok(t) => t,
        Err(TemplateChoice::Usage(msg)) => {
            eprintln!("error: {msg}");
            return Ok(exit::USAGE_ERROR);
        }
        Err(TemplateChoice::Template(e)) => return Err(e.into()),
    };
    let classifier = Classifier::new(template, TokenCodec::new(args.seed), u64::MAX);
    // Trace files are read, and the reports directory checked, before the
    // run is announced: a bad file is the only thing said about it.
    let mut from_files = Vec::new();
    for path in &args.traces {
        from_files.push(from_file(path, &classifier, args.seed)?);
    }
    if !args.no_report {
        torn::report::check_writable_dir(&args.reports_dir, "--reports-dir")?;
    }
    let scratch = Scratch::new(args.dir.as_deref(), args.keep_scratch)?;
    let models: Vec<Model> = args.models.clone();
    let limits = Limits::new(args.max_states, args.max_states_total);
    let created = chrono::Utc::now();
    if !cli.quiet {
        eprintln!(
            "torn crash: {} subject(s) × {} model(s), seed {}, states built under {}",
            recorded + args.traces.len(),
            models.len(),
            args.seed,
            scratch.root().display()
        );
    }
    let mut subjects = Vec::new();
    let mut cases = Vec::new();
    for name in &args.strategies {
        let case = scratch.case_dir(cases.len(), name)?;
        subjects.push(record(args, name, &case.home(), &classifier)?);
        cases.push(case);
    }
    let external = |command: &String| torn::subject::ExternalSpec {
        command: command.clone(),
        shell: args.shell,
        timeout: std::time::Duration::from_secs(10),
    };
    let specs = args
        .writer_stdio
        .iter()
        .map(|c| torn::subject::SubjectSpec::Stdio(external(c)))
        .chain(
            args.writer_cmd
                .iter()
                .map(|c| torn::subject::SubjectSpec::Command(external(c))),
        );
    for spec in specs {
        let case = scratch.case_dir(cases.len(), &spec.label())?;
        subjects.push(record_external(args, &spec, &case, &classifier)?);
        cases.push(case);
    }
    if let (Some(path), Some(s)) = (&args.save_trace, subjects.first()) {
        save_trace(path, s, args.seed)?;
        if !cli.quiet {
            eprintln!(
                "trace: {} ({} events; replay with --trace)",
                path.display(),
                s.events.len()
            );
        }
    }
    subjects.extend(from_files);
    let mut reports = Vec::new();
    for s in &subjects {
        for &model in &models {
            let case = scratch.case_dir(cases.len(), &format!("{}-{}", s.label, model.name()))?;
            let input = Input {
                trace: &s.events,
                target: &s.target,
                initial: &s.initial,
                acks: &s.acks,
            };
            let report = explore(
                &input,
                model,
                limits,
                case.path(),
                s.classifier.as_ref().unwrap_or(&classifier),
                args.seed,
            )
            .with_context(|| format!("exploring the crash states of {} under {}", s.label, model.name()))?;
            if !cli.quiet {
                eprint!("{}", torn::crash::render(&s.label, &report));
            }
            reports.push(Labeled {
                subject: &s.label,
                report,
            });
            cases.push(case);
        }
    }
    let verdict = RunVerdict::of(&reports);
    let run = CrashRun {
        schema: SCHEMA,
        created: created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        command: super::quoted_command_line(),
        seed: args.seed,
        results: &reports,
        verdict,
    };
    let report_dir = if args.no_report {
        None
    } else {
        // They hold what the writer wrote (tokens): private, as a 0600 target's are.
        Some(write_reports(args, &run, created, true)?)
    };
    if cli.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &run).context("writing JSON to stdout")?;
        writeln!(out)?;
        out.flush().context("writing JSON to stdout")?;
    }
    if !cli.quiet
        && let Some(dir) = &report_dir
    {
        eprintln!("report: {}/report.md (and report.json)", dir.display());
    }
    eprintln!("{}", verdict_line(&run));
    Ok(run.verdict.exit_code)
}

/// The last line of a crash run: one verdict over every subject and model.
fn verdict_line(run: &CrashRun<'_>) -> String {
    let n = run.results.len();
    format!(
        "verdict: {} (exit {}) over {n} exploration{}",
        run.verdict.status,
        run.verdict.exit_code,
        if n == 1 { "" } else { "s" }
    )
}

/// reports/<timestamp>-crash/report.json and report.md.
fn write_reports(
    args: &CrashArgs,
    run: &CrashRun<'_>,
    created: chrono::DateTime<chrono::Utc>,
    private: bool,
) -> anyhow::Result<PathBuf> {
    use torn::report::files;
    let dir = args
        .reports_dir
        .join(format!("{}-crash", created.format("%Y%m%dT%H%M%SZ")));
    files::create_report_dir(&dir, private)?;
    let json = serde_json::to_string_pretty(run)? + "\n";
    files::write(&dir.join("report.json"), json.as_bytes(), private)?;
    let mut md = format!(
        "# torn crash: {}\n\n`{}`\n\n{} · seed {} · schema `{}`\n\n",
        run.verdict.status, run.command, run.created, run.seed, run.schema
    );
    md.push_str("| subject | model | status | crash points | states explored | exhaustive | outcomes |\n");
    md.push_str("|---|---|---|---:|---:|---|---|\n");
    for r in run.results {
        let outcomes: Vec<String> = r
            .report
            .outcomes
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(o, n)| format!("{} {}", o.name(), torn::numbers::thousands(*n)))
            .collect();
        md.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} |\n",
            r.subject.replace('|', "\\|"),
            r.report.model.name(),
            r.report.verdict.status.name(),
            r.report.crash_points,
            torn::numbers::thousands(r.report.states_explored),
            if r.report.exhaustive { "yes" } else { "sampled" },
            outcomes.join(" · ")
        ));
    }
    md.push_str("\n## Each exploration\n\n```\n");
    for r in run.results {
        md.push_str(&torn::crash::render(r.subject, &r.report));
    }
    md.push_str("```\n\n");
    md.push_str(&verdict_line(run));
    md.push('\n');
    files::write(&dir.join("report.md"), md.as_bytes(), private)?;
    Ok(dir)
}

/// Writes `s`'s trace as a [`TraceFile`] that `--trace` reads back.
fn save_trace(path: &Path, s: &Subject, seed: u64) -> anyhow::Result<()> {
    let file = TraceFile {
        schema: Some(torn::crash::input::SCHEMA.to_string()),
        source: Some(s.label.clone()),
        seed: Some(seed),
        events: s.events.clone(),
        target: Some(s.target.clone()),
        initial_version: s.initial_version,
        acks: Some(s.acks.clone()),
        shape: s.classifier.as_ref().map(torn::crash::input::SavedShape::of),
    };
    let text = serde_json::to_string_pretty(&file)? + "\n";
    // The trace holds every byte written (tokens): private.
    torn::report::files::write(path, text.as_bytes(), true)
        .with_context(|| format!("--save-trace {}", path.display()))
}

/// Runs built-in strategy `name` on a target holding version 0 under
/// `home`, recording its writes.
fn record(args: &CrashArgs, name: &str, home: &Path, classifier: &Classifier) -> anyhow::Result<Subject> {
    let target = home.join(target_rel(args, classifier));
    let v0 = classifier.template.render_vec(&classifier.codec, 0);
    let dir = target.parent().expect("a path below HOME");
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(&target, &v0).with_context(|| format!("writing {}", target.display()))?;
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600))?;
    let strategy = strategy::build(name, &strategy::Params::default()).expect("checked above");
    let rec = record_builtin(&*strategy, &target, classifier, args.writes.get())?;
    Ok(Subject {
        label: name.to_string(),
        events: rec.events,
        initial: initial_target(&target, &v0),
        initial_version: Some(0),
        classifier: None,
        target,
        acks: rec.acks,
    })
}

/// Runs an external writer, traced, on a target holding version 0.
fn record_external(
    args: &CrashArgs,
    spec: &torn::subject::SubjectSpec,
    case: &torn::scratch::CaseDir,
    classifier: &Classifier,
) -> anyhow::Result<Subject> {
    let target = case.home().join(target_rel(args, classifier));
    let v0 = classifier.template.render_vec(&classifier.codec, 0);
    let dir = target.parent().expect("a path below HOME");
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(&target, &v0).with_context(|| format!("writing {}", target.display()))?;
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600))?;
    let ctx = torn::subject::WriterCtx {
        target: target.clone(),
        home: case.home(),
        log_dir: case.path().to_path_buf(),
        index: 0,
    };
    let rec = torn::crash::record::record_subject(spec, &ctx, classifier, args.writes.get())?;
    Ok(Subject {
        label: spec.label(),
        events: rec.events,
        initial: initial_target(&target, rec.initial.as_ref().map_or(&v0, |(_, b)| b)),
        initial_version: Some(rec.initial.as_ref().map_or(0, |(v, _)| *v)),
        classifier: rec.classifier,
        target,
        acks: rec.acks,
    })
}

/// The target's path below HOME: `--target`, else the template's.
fn target_rel(args: &CrashArgs, classifier: &Classifier) -> String {
    args.target.clone().unwrap_or_else(|| {
        let t = args
            .template
            .as_deref()
            .unwrap_or(classifier.template.format.default_template());
        format::builtin(t)
            .map_or("config", |b| b.default_target)
            .to_string()
    })
}

/// A subject from a trace file, with what it leaves out filled in.
fn from_file(path: &Path, classifier: &Classifier, seed: u64) -> anyhow::Result<Subject> {
    let file = TraceFile::load(path)?;
    if let Some(recorded) = file.seed.filter(|s| *s != seed) {
        return Err(torn::crash::input::InputError::Seed {
            path: path.to_path_buf(),
            recorded,
            given: seed,
        }
        .into());
    }
    let target = file.target(path)?;
    // A recorded external writer's states are judged by its own shape.
    let learned = match &file.shape {
        Some(shape) => Some(
            shape
                .classifier(classifier.codec, classifier.grace)
                .map_err(|e| anyhow::anyhow!("trace file {}: {e}", path.display()))?,
        ),
        None => None,
    };
    let classifier = learned.as_ref().unwrap_or(classifier);
    let initial = file
        .initial_version
        .map(|v| initial_target(&target, &classifier.template.render_vec(&classifier.codec, v)))
        .unwrap_or_default();
    let acks = match file.acks {
        Some(a) => a,
        None => infer_acks(&file.events, &target, &initial, classifier)?,
    };
    Ok(Subject {
        classifier: learned,
        label: path.display().to_string(),
        events: file.events,
        target,
        initial,
        initial_version: file.initial_version,
        acks,
    })
}

enum TemplateChoice {
    Usage(String),
    Template(format::TemplateError),
}

/// The template from `--template` / `--format` / `--client-key`, as `gate` takes them.
fn template(args: &CrashArgs) -> Result<Template, TemplateChoice> {
    let given: Option<Format> = args.format;
    let name = args
        .template
        .clone()
        .unwrap_or_else(|| given.unwrap_or(Format::Yaml).default_template().to_string());
    if let Some(b) = format::builtin(&name) {
        if let Some(f) = given.filter(|f| *f != b.format) {
            return Err(TemplateChoice::Usage(format!(
                "built-in template `{name}` is {}, but --format is {}",
                b.format.name(),
                f.name()
            )));
        }
        let key = args.client_key.as_deref().unwrap_or(b.client_key);
        return Template::new(b.name, b.format, key, b.text).map_err(TemplateChoice::Template);
    }
    if !Path::new(&name).exists() {
        return Err(TemplateChoice::Usage(format!(
            "--template: {}",
            format::no_such_template(&name)
        )));
    }
    let (Some(format), Some(key)) = (given, args.client_key.as_deref()) else {
        return Err(TemplateChoice::Usage(format!(
            "`{name}` is not a built-in template, so it is read as a file, and then --format and --client-key are required"
        )));
    };
    Template::from_file(Path::new(&name), format, key).map_err(TemplateChoice::Template)
}
