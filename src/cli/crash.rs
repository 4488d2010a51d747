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
    acks: Vec<(u64, u64)>,
}

/// One exploration, as printed with `--json`.
#[derive(Serialize)]
struct Labeled<'a> {
    /// The strategy name or trace file.
    subject: &'a str,
    #[serde(flatten)]
    report: CrashReport,
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
    let scratch = Scratch::new(args.dir.as_deref(), args.keep_scratch)?;
    let models: Vec<Model> = args.models.clone();
    let limits = Limits::new(args.max_states, args.max_states_total);
    if !cli.quiet {
        eprintln!(
            "torn crash: {} subject(s) × {} model(s), seed {}, states built under {}",
            args.strategies.len() + args.traces.len() + args.writer_stdio.len() + args.writer_cmd.len(),
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
    for path in &args.traces {
        subjects.push(from_file(path, &classifier)?);
    }
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
    if cli.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &reports).context("writing JSON to stdout")?;
        writeln!(out)?;
    }
    let statuses: Vec<CrashStatus> = reports.iter().map(|r| r.report.verdict.status).collect();
    Ok(torn::report::verdict::crash_exit(&statuses))
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
fn from_file(path: &Path, classifier: &Classifier) -> anyhow::Result<Subject> {
    let file = TraceFile::load(path)?;
    let target = file.target(path)?;
    let initial = file
        .initial_version
        .map(|v| initial_target(&target, &classifier.template.render_vec(&classifier.codec, v)))
        .unwrap_or_default();
    let acks = match file.acks {
        Some(a) => a,
        None => infer_acks(&file.events, &target, &initial, classifier)?,
    };
    Ok(Subject {
        classifier: None,
        label: path.display().to_string(),
        events: file.events,
        target,
        initial,
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
    let (Some(format), Some(key)) = (given, args.client_key.as_deref()) else {
        return Err(TemplateChoice::Usage(format!(
            "`{name}` is not a built-in template, so it is read as a file, and then --format and --client-key are required"
        )));
    };
    Template::from_file(Path::new(&name), format, key).map_err(TemplateChoice::Template)
}
