//! Carrying out the parsed command line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use clap::CommandFactory;

use torn::exit;
use torn::format::{BUILTINS, Format};
use torn::gate::Gate;
use torn::gate::ProofTarget;
use torn::numbers::thousands;
use torn::report::table;
use torn::run::{self, RunOptions};
use torn::scenario::Scenario;
use torn::strategy;
use torn::subject::{ExternalSpec, SubjectSpec};

use super::{Cli, Command, GateArgs, OutputArgs, RunArgs};

/// Set by Ctrl-C; the run stops, cleans up and exits with [`exit::INTERRUPTED`].
pub static CANCEL: AtomicBool = AtomicBool::new(false);

/// Runs the parsed command line; returns the exit code.
pub fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Run {
            ref scenario,
            ref args,
        } => {
            let loaded = Scenario::load(scenario)?;
            let base = scenario.parent().unwrap_or(Path::new(".")).to_path_buf();
            run_scenario(&cli, loaded, &scenario.display().to_string(), &base, args)
        }
        Command::Repro { ref name, ref args } => {
            let (file, loaded) = run::builtin_scenario(name).expect("clap checked the name");
            run_scenario(&cli, loaded, &format!("built-in:{file}"), Path::new("."), args)
        }
        Command::Gate(ref args) => gate(&cli, args),
        Command::Crash(ref args) => super::crash::crash(&cli, args),
        Command::Writer { ref job } => {
            torn::engine::kill::writer_main(&torn::case::read_job(job)?)?;
            Ok(exit::OK)
        }
        Command::Matrix {
            ref scenario,
            ref filesystems,
            ref args,
        } => matrix(&cli, scenario, filesystems, args),
        Command::Merge {
            ref files,
            ref out,
            ref title,
        } => {
            let m = torn::matrix::Matrix::merge(title, files)?;
            let dir = out.clone().unwrap_or_else(|| {
                PathBuf::from("reports")
                    .join(format!("{}-merged", chrono::Utc::now().format("%Y%m%dT%H%M%SZ")))
            });
            m.write(&dir)?;
            if cli.json {
                stdout(&json_text(&m)?)?;
            }
            if !cli.quiet {
                eprint!("{}", torn::report::markdown::matrix(&m.title, &m.reports));
                eprintln!(
                    "matrix: {}/matrix.md (and matrix.json, report.html)",
                    dir.display()
                );
            }
            eprintln!("{}", matrix_verdict_line(&m));
            Ok(m.verdict.exit_code)
        }
        Command::Powercut { command } => super::powercut::run(command),
        Command::Reader { ref job, id } => {
            let tally = torn::engine::procs::reader_main(&torn::case::read_job(job)?, id)?;
            serde_json::to_writer(std::io::stdout().lock(), &tally)?;
            Ok(exit::OK)
        }
        Command::List => {
            stdout(&if cli.json {
                json_text(&list_json())?
            } else {
                list()
            })?;
            Ok(exit::OK)
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut super::Cli::command(), "torn", &mut script);
            stdout(&String::from_utf8(script).context("completion script")?)?;
            Ok(exit::OK)
        }
        Command::Man { ref command, ref dir } => {
            match dir {
                Some(dir) => {
                    for path in super::man::write_all(dir)? {
                        eprintln!("{}", path.display());
                    }
                }
                None => match super::man::page(command.as_deref()) {
                    Ok(page) => stdout(&page)?,
                    Err(e) => {
                        eprintln!("error: {e}");
                        return Ok(exit::USAGE_ERROR);
                    }
                },
            }
            Ok(exit::OK)
        }
        Command::Clean { dry_run } => clean(dry_run),
        Command::Bench {
            duration,
            ref dir,
            writer_stdio: Some(ref cmd),
            ..
        } => {
            let row = torn::bench::external_writer_cost(cmd, duration, dir.as_deref(), &CANCEL)?;
            if cli.json {
                let report = torn::bench::BenchReport::new("external-writer", duration, &row, vec![]);
                stdout(&json_text(&report)?)?;
            }
            if !cli.quiet {
                let line = format!(
                    "reads/s per reader (medians): built-in rename-durable {}, writer-stdio {} ({} writes/s); \
                     ratio min/median/max {:.3} {:.3} {:.3}",
                    thousands(row.builtin_reads_per_s.median as u64),
                    thousands(row.external_reads_per_s.median as u64),
                    thousands(row.external_writes_per_s.median as u64),
                    row.ratio.min,
                    row.ratio.median,
                    row.ratio.max
                );
                eprintln!("{}", table::wrap(&line, table::sentence_width()));
                let line = format!(
                    "tracing: readers' reads/s traced ÷ untraced {:.3} (min {:.3}, max {:.3}; target ≥ 0.8); \
                     the writer's writes/s untraced {} vs traced {}: {:.2}× slower traced",
                    row.traced_readers_ratio.median,
                    row.traced_readers_ratio.min,
                    row.traced_readers_ratio.max,
                    thousands(row.untraced_writes_per_s.median as u64),
                    thousands(row.external_writes_per_s.median as u64),
                    row.writer_slowdown.median
                );
                eprintln!("{}", table::wrap(&line, table::sentence_width()));
            }
            Ok(exit::OK)
        }
        Command::Bench {
            duration,
            ref dir,
            writer_cmd: Some(ref cmd),
            ref format,
            ..
        } => {
            let format = format.first().copied().unwrap_or(Format::Yaml);
            let quiet = cli.quiet;
            let row =
                torn::bench::per_write_cost(cmd, format, duration, dir.as_deref(), &CANCEL, &mut |line| {
                    if !quiet {
                        eprintln!("{line}");
                    }
                })?;
            if cli.json {
                let report = torn::bench::BenchReport::new("per-write-command", duration, &row, vec![]);
                stdout(&json_text(&report)?)?;
            }
            if !cli.quiet {
                for line in torn::bench::per_write_lines(&row) {
                    eprintln!("{}", table::wrap(&line, table::sentence_width()));
                }
            }
            Ok(exit::OK)
        }
        Command::Bench {
            duration,
            ref dir,
            ref format,
            ..
        } => {
            let formats: Vec<Format> = if format.is_empty() {
                Format::ALL.to_vec()
            } else {
                format.clone()
            };
            let quiet = cli.quiet;
            let rows =
                torn::bench::reader_overhead(&formats, duration, dir.as_deref(), &CANCEL, &mut |line| {
                    if !quiet {
                        eprintln!("{line}");
                    }
                })?;
            if cli.json {
                let warnings = rows.iter().filter_map(|r| r.warning()).collect();
                let report = torn::bench::BenchReport::new("reader-overhead", duration, &rows, warnings);
                stdout(&json_text(&report)?)?;
            }
            if !cli.quiet {
                eprint!("\n{}", torn::bench::table(&rows));
                for line in torn::bench::table_footer(&rows).lines() {
                    eprintln!("{}", table::wrap(line, table::sentence_width()));
                }
            }
            Ok(exit::OK)
        }
    }
}

fn run_scenario(
    cli: &Cli,
    mut scenario: Scenario,
    source: &str,
    base: &Path,
    args: &RunArgs,
) -> anyhow::Result<i32> {
    args.overrides().apply(&mut scenario);
    execute(
        cli,
        &scenario,
        source,
        base,
        &args.output,
        torn::report::Rules::default(),
        None,
    )
}

fn gate(cli: &Cli, args: &GateArgs) -> anyhow::Result<i32> {
    let external = |command: &String| ExternalSpec {
        command: command.clone(),
        shell: args.shell,
        timeout: args.write_timeout,
    };
    let s = &args.subject;
    let subject = match (&s.writer_cmd, &s.writer_stdio, &s.strategy) {
        (Some(c), _, _) => SubjectSpec::Command(external(c)),
        (_, Some(c), _) => SubjectSpec::Stdio(external(c)),
        (_, _, Some(name)) => {
            if strategy::build(name, &strategy::Params::default()).is_none() {
                eprintln!(
                    "error: unknown strategy `{name}` for --strategy; expected one of: {}",
                    strategy::names().join(", ")
                );
                return Ok(exit::USAGE_ERROR);
            }
            SubjectSpec::Strategy {
                name: name.clone(),
                params: strategy::Params::default(),
            }
        }
        _ => unreachable!("clap requires one subject"),
    };
    if !(0.0..1.0).contains(&args.max_rate) {
        eprintln!(
            "error: --max-rate must be a probability in [0, 1), got {}",
            args.max_rate
        );
        return Ok(exit::USAGE_ERROR);
    }
    if args.max_rate == 0.0 && args.min_exposed == 0 && args.min_windows == 0 {
        eprintln!(
            "error: --min-windows 0, --min-exposed 0 and --max-rate 0 leave the gate nothing to prove; \
             give a number of write windows (--min-windows 300), of exposed reads (--min-exposed N) \
             or a bound to prove (--max-rate 1e-5)"
        );
        return Ok(exit::USAGE_ERROR);
    }
    if args.min_writes < 2 {
        eprintln!("error: --min-writes must be at least 2: no pass may rest on one write");
        return Ok(exit::USAGE_ERROR);
    }
    let proof = ProofTarget {
        min_writes: args.min_writes,
        min_windows: args.min_windows,
        min_exposed: args.min_exposed,
        max_rate: (args.max_rate > 0.0).then_some(args.max_rate),
        route: args.proof,
    };
    let g = Gate {
        trace: !args.no_trace,
        perturb: args.perturb,
        format: args
            .format
            .unwrap_or_else(|| Format::guess(args.template.as_deref(), args.target.as_deref())),
        format_guessed: args.format.is_none(),
        template: args.template.clone(),
        client_key: args.client_key.clone(),
        target: args.target.clone(),
        subject,
        writers: args.writers,
        readers: args.readers,
        reader_lock: args.reader_lock,
        reader_procs: args.reader_procs,
        reader_pace: args.reader_pace,
        reader_stdio: args.reader_stdio.clone(),
        reader_timeout: args.write_timeout,
        kill_trials: args.kill_trials,
        fault: args.fault,
        fault_after: args.fault_after,
        write_rate: args.write_rate,
        proof,
        budget: args.budget,
        control: args.control,
        seed: args.seed,
        seed_file: args.seed_file.clone(),
        volatile: args.volatile.clone(),
        target_symlink: args.target_symlink,
    };
    // A bad template or target is refused before the run is announced.
    g.scenario().validate(torn::scenario::COMMAND_LINE)?;
    g.scenario()
        .template(torn::scenario::COMMAND_LINE, Path::new("."))?;
    if !cli.quiet {
        let line = format!(
            "torn gate: needs {} within {}; control first ({})",
            proof.describe(),
            humantime::format_duration(args.budget),
            humantime::format_duration(args.control)
        );
        eprintln!("{}", table::wrap(&line, table::sentence_width()));
    }
    execute(
        cli,
        &g.scenario(),
        torn::scenario::COMMAND_LINE,
        Path::new("."),
        &args.output,
        torn::report::Rules {
            proof: Some(proof),
            crash: args.crash,
        },
        args.crash.then(|| CrashStage {
            case_label: g.subject_label(),
            subject: g.subject.clone(),
            limits: torn::crash::Limits::new(args.crash_max_states, args.crash_max_states_total),
        }),
    )
}

/// The built-in strategy that stands for the rename-over recipe class, and
/// the bound it must reach on this filesystem before a subject may pass by
/// that recipe.
const CALIBRATION: (&str, f64) = ("rename-unique-tmp", 1e-5);

/// The recipe route's calibration: when the subject's every traced write
/// was rename-over and its windows did not prove it (or its readers saw
/// anomalies all the same, which the calibration then explains), race the built-in
/// strategy of that class in the same directory (as the control is) until it
/// shows ≤ 1e-5 anomalies per exposed read, and add it to the report for the
/// verdict room to weigh.
fn calibrate(
    cli: &Cli,
    scenario: &Scenario,
    source: &str,
    base: &Path,
    output: &OutputArgs,
    proof: &ProofTarget,
    result: &mut run::RunResult,
) -> anyhow::Result<()> {
    use torn::trace::recipe::RecipeClass;
    let Some(subject) = result
        .report
        .cases
        .iter()
        .find(|c| c.case.expect == torn::strategy::Expect::Clean)
    else {
        return Ok(());
    };
    let Some(trace) = &subject.trace else {
        return Ok(());
    };
    let atomic = &trace.recipes.atomic;
    let rename_over_only = atomic.outside == 0
        && trace.provably_atomic_writes() > 0
        && atomic.classes.iter().all(|k| k.class == RecipeClass::RenameOver);
    // To prove: a clean subject the windows did not prove.
    let to_prove = proof.recipe_allowed()
        && subject.anomalous_reads() + subject.writer_findings() == 0
        && trace.provably_atomic_writes() >= proof.min_writes
        && !(proof.route.windows() && proof.met(torn::report::verdict::Shown::of(subject)));
    // To explain: readers saw anomalies although every write was atomic by
    // recipe — does this filesystem honour the recipe at all?
    let to_explain = subject.anomalous_reads() > 0 && subject.writer_findings() == 0;
    let needed = !CANCEL.load(std::sync::atomic::Ordering::Relaxed)
        && subject.subject_error.is_none()
        && !subject.interrupted
        && rename_over_only
        && (to_prove || to_explain);
    if !needed {
        return Ok(());
    }
    let (strategy, max_rate) = CALIBRATION;
    let label = format!("calibration: rename-over ({strategy})");
    if !cli.quiet {
        let line = format!(
            "{label}: the subject's writes all replace the file by rename; racing {strategy} on this \
             filesystem to ≤ {} anomalies per exposed read",
            torn::numbers::sci(max_rate)
        );
        eprintln!("{}", table::wrap(&line, table::sentence_width()));
    }
    let mut calibration = scenario.clone();
    let mut entry = torn::scenario::CaseEntry {
        label: Some(label.clone()),
        strategy: Some(torn::scenario::StrategyName(strategy.into())),
        expect: Some(torn::strategy::Expect::Clean),
        ..Default::default()
    };
    // What the subject left of the gate's budget, and at least 10 s: the
    // race stops as soon as its bound is proven.
    let left = scenario
        .duration
        .0
        .saturating_sub(std::time::Duration::from_secs_f64(subject.elapsed_s));
    entry.duration = Some(torn::scenario::Dur(left.max(std::time::Duration::from_secs(10))));
    calibration.strategies = vec![entry];
    let opts = RunOptions {
        dir: output.dir.clone(),
        keep_scratch: output.keep_scratch,
        reports_dir: None,
        // Its status in the gate's report is the verdict room's, not the
        // one this run of its own would print.
        verbose: false,
        rules: torn::report::Rules {
            proof: Some(ProofTarget {
                min_writes: 2,
                min_windows: 0,
                min_exposed: 0,
                max_rate: Some(max_rate),
                route: torn::report::verdict::ProofRoute::Windows,
            }),
            crash: false,
        },
        stages_follow: true,
        ..RunOptions::default()
    };
    let run = run::run(&calibration, source, base, &opts, &CANCEL)?;
    let Some(mut case) = run.report.cases.into_iter().next() else {
        return Ok(());
    };
    // No claim of its own in the gate's report: the verdict reads its numbers.
    case.case.expect = torn::strategy::Expect::Any;
    result.report.calibration = Some(torn::report::verdict::Calibration {
        case: label,
        class: RecipeClass::RenameOver,
        max_rate,
    });
    result.report.cases.push(case);
    Ok(())
}

/// The gate's crash stage, as asked for on its command line.
struct CrashStage {
    /// The subject's case label.
    case_label: String,
    subject: SubjectSpec,
    limits: torn::crash::Limits,
}

/// Runs a scenario and renders its report everywhere it is asked for.
fn execute(
    cli: &Cli,
    scenario: &Scenario,
    source: &str,
    base: &Path,
    output: &OutputArgs,
    rules: torn::report::Rules,
    crash: Option<CrashStage>,
) -> anyhow::Result<i32> {
    let opts = RunOptions {
        dir: output.dir.clone(),
        keep_scratch: output.keep_scratch,
        reports_dir: (!output.no_report).then(|| output.reports_dir.clone()),
        verbose: !cli.quiet,
        command: super::quoted_command_line(),
        rules,
        stages_follow: rules.proof.is_some(),
        ..RunOptions::default()
    };
    // Refuse a bad scenario, or a place results cannot be written, before
    // announcing the run.
    scenario.validate(source)?;
    scenario.check_requires(source)?;
    scenario.template(source, base)?;
    if let Some(dir) = &opts.reports_dir {
        torn::report::check_writable_dir(dir, "--reports-dir")?;
    }
    if let Some(path) = &output.junit {
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        torn::report::check_writable_dir(parent, "--junit")?;
    }
    if !cli.quiet && rules.proof.is_none() {
        let line = format!(
            "torn: {} — {} strategies × {} on {}, seed {}",
            scenario.name,
            scenario.strategies.len(),
            humantime::format_duration(scenario.duration.0),
            opts.dir.as_ref().map_or_else(
                || std::env::temp_dir().display().to_string(),
                |d| d.display().to_string()
            ),
            scenario.seed
        );
        eprintln!("{}", table::wrap(&line, table::sentence_width()));
    }
    let mut result = run::run(scenario, source, base, &opts, &CANCEL)?;
    if let Some(proof) = rules.proof {
        calibrate(cli, scenario, source, base, output, &proof, &mut result)?;
    }
    if let Some(CrashStage {
        case_label,
        subject,
        limits,
    }) = crash
    {
        // A subject that could not run, or a run cut short, is not crashed:
        // the verdict says why.
        let subject_ran = result
            .report
            .cases
            .iter()
            .find(|c| c.label == case_label)
            .is_some_and(|c| c.subject_error.is_none() && !c.interrupted);
        if subject_ran && !CANCEL.load(std::sync::atomic::Ordering::Relaxed) {
            if !cli.quiet {
                eprintln!("crash stage: three traced writes of the subject, crashed at every point");
            }
            let classifier = torn::classify::Classifier::new(
                scenario.template(source, base)?,
                torn::token::TokenCodec::new(scenario.seed),
                u64::MAX,
            );
            let scratch = torn::scratch::Scratch::new(output.dir.as_deref(), output.keep_scratch)?;
            result.report.crash = torn::gate::crash_stage(
                &case_label,
                &subject,
                &classifier,
                &scenario.target_rel(),
                &scratch,
                limits,
                scenario.seed,
            )?;
            if !cli.quiet {
                for c in &result.report.crash {
                    eprint!("{}", torn::crash::render(&c.subject, &c.report));
                }
            }
        }
    }
    if rules.proof.is_some() {
        result.finish()?;
    }
    let report = &result.report;
    if let Some(path) = &output.junit {
        std::fs::write(path, torn::report::junit::render(report)?)
            .with_context(|| format!("writing JUnit XML to {}", path.display()))?;
    }
    torn::report::github::publish(report)?;
    if cli.json {
        stdout(&json_text(report)?)?;
    }
    if cli.quiet {
        eprintln!("{}", verdict_line(report));
    } else {
        eprintln!("\n{}", table::terminal(report, cli.wide));
        let width = table::sentence_width();
        if rules.proof.is_some() {
            for line in torn::report::evidence::explain_failures(report).lines() {
                eprintln!("{}", table::wrap(line, width));
            }
        }
        for line in &report.verdict.lines {
            eprintln!("{}", table::wrap(line, width));
        }
        eprintln!("{}", verdict_line(report));
        if let Some(dir) = &result.report_dir {
            let line = format!(
                "report: {}/report.html (and report.md, report.json)",
                dir.display()
            );
            eprintln!("{}", table::wrap(&line, width));
        }
    }
    Ok(report.verdict.exit_code)
}

fn matrix(
    cli: &Cli,
    name: &str,
    filesystems: &[torn::matrix::Filesystem],
    args: &RunArgs,
) -> anyhow::Result<i32> {
    let (mut scenario, source, base) = match run::builtin_scenario(name) {
        Some((file, s)) if !Path::new(name).exists() => (s, format!("built-in:{file}"), PathBuf::from(".")),
        _ => {
            let path = Path::new(name);
            let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
            (Scenario::load(path)?, path.display().to_string(), base)
        }
    };
    args.overrides().apply(&mut scenario);
    let opts = RunOptions {
        keep_scratch: args.output.keep_scratch,
        verbose: !cli.quiet,
        command: super::quoted_command_line(),
        ..RunOptions::default()
    };
    let m = torn::matrix::run_matrix(&scenario, &source, &base, filesystems, &opts, &CANCEL, |r| {
        if !cli.quiet {
            eprintln!(
                "── {} ({}): {}\n{}",
                r.environment.fs_label,
                r.environment.fs_type,
                r.verdict.status.name(),
                table::terminal(r, cli.wide)
            );
        }
    })?;
    if !args.output.no_report {
        let dir = args.output.reports_dir.join(format!(
            "{}-matrix-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
            torn::scratch::slug(&scenario.name)
        ));
        m.write(&dir)?;
        if !cli.quiet {
            eprintln!(
                "matrix: {}/matrix.md (and matrix.json, report.html)",
                dir.display()
            );
        }
    }
    if let Some(path) = &args.output.junit {
        std::fs::write(path, torn::report::junit::render_runs(&m.title, &m.reports)?)
            .with_context(|| format!("writing JUnit XML to {}", path.display()))?;
    }
    if cli.json {
        stdout(&json_text(&m)?)?;
    }
    if !cli.quiet {
        for line in &m.verdict.lines {
            eprintln!("{}", table::wrap(line, table::sentence_width()));
        }
    }
    eprintln!("{}", matrix_verdict_line(&m));
    Ok(m.verdict.exit_code)
}

/// The last line of a matrix or merge: the verdict over its runs.
fn matrix_verdict_line(m: &torn::matrix::Matrix) -> String {
    format!(
        "verdict: {} (exit {}) over {} run(s)",
        m.verdict.status.name(),
        m.verdict.exit_code,
        m.reports.len()
    )
}

/// The last line of every run: the verdict, its exit code, where it ran.
fn verdict_line(report: &torn::report::Report) -> String {
    format!(
        "verdict: {} (exit {}); filesystem {} ({})",
        report.verdict.status.name(),
        report.verdict.exit_code,
        report.environment.fs_type,
        report.environment.mount_point
    )
}

/// `torn list` as text.
fn list() -> String {
    let mut s = String::from("strategies:\n");
    for st in strategy::ALL {
        s += &format!("  {:<20} {}\n", st.name, st.summary);
    }
    s += "formats:\n";
    for f in Format::ALL {
        s += &format!("  {:<20} {}\n", f.name(), f.summary());
    }
    s += "templates:\n";
    for b in BUILTINS {
        s += &format!(
            "  {:<20} [{}] ~/{} — {}\n",
            b.name,
            b.format.name(),
            b.default_target,
            b.summary
        );
    }
    s += "scenarios (torn repro NAME, or torn run scenarios/FILE):\n";
    for (name, file, desc) in scenarios() {
        s += &format!("  {name:<20} scenarios/{file} — {desc}\n");
    }
    s
}

/// The built-in scenarios: short name, file, description.
fn scenarios() -> impl Iterator<Item = (&'static str, &'static str, String)> {
    run::BUILTIN_SCENARIOS.iter().map(|(name, file, text)| {
        let desc = Scenario::parse(text, file)
            .ok()
            .and_then(|s| s.description)
            .unwrap_or_default();
        (*name, *file, desc)
    })
}

/// `torn list --json`.
fn list_json() -> serde_json::Value {
    serde_json::json!({
        "strategies": strategy::ALL.iter().map(|s| serde_json::json!({
            "name": s.name, "summary": s.summary,
        })).collect::<Vec<_>>(),
        "formats": Format::ALL.iter().map(|f| serde_json::json!({
            "name": f.name(), "summary": f.summary(),
        })).collect::<Vec<_>>(),
        "templates": BUILTINS.iter().map(|b| serde_json::json!({
            "name": b.name, "format": b.format.name(), "target": b.default_target,
            "client_key": b.client_key, "summary": b.summary,
        })).collect::<Vec<_>>(),
        "scenarios": scenarios().map(|(name, file, desc)| serde_json::json!({
            "name": name, "file": format!("scenarios/{file}"), "description": desc,
        })).collect::<Vec<_>>(),
    })
}

/// Pretty JSON and a newline.
fn json_text(value: &impl serde::Serialize) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(value)? + "\n")
}

/// Writes machine output to stdout, flushed, so that a closed pipe or a full
/// disk is an error returned here (`main` ends quietly on a closed pipe)
/// rather than a panic in `println!`.
fn stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("writing to stdout")
}

fn clean(dry_run: bool) -> anyhow::Result<i32> {
    let scan = torn::guard::clean::scan();
    for why in &scan.refused {
        eprintln!("torn clean: not trusted, left alone: {why}");
    }
    let found = scan.leftovers;
    if found.is_empty() {
        eprintln!("torn clean: nothing left behind by killed runs");
        return Ok(exit::OK);
    }
    let mut failed = 0;
    for l in &found {
        if dry_run {
            eprintln!("would undo: {}", l.describe());
            continue;
        }
        match torn::guard::clean::remove(l) {
            Ok(lines) => lines.iter().for_each(|line| eprintln!("{line}")),
            Err(e) => {
                failed += 1;
                eprintln!("{e}");
            }
        }
    }
    if failed > 0 {
        eprintln!(
            "torn clean: {failed} of {} leftovers could not be undone",
            found.len()
        );
        return Ok(exit::IO_ERROR);
    }
    Ok(exit::OK)
}
