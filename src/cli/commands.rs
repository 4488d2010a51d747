//! Carrying out the parsed command line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::Context;

use torn::exit;
use torn::format::{BUILTINS, Format};
use torn::gate::Gate;
use torn::gate::ProofTarget;
use torn::report::table;
use torn::report::verdict::thousands;
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
                println!("{}", serde_json::to_string_pretty(&m)?);
            }
            if !cli.quiet {
                eprint!("{}", torn::report::markdown::matrix(&m.title, &m.reports));
                eprintln!(
                    "matrix: {}/matrix.md (and matrix.json, report.html)",
                    dir.display()
                );
            }
            Ok(matrix_exit(&m.reports))
        }
        Command::Reader { ref job, id } => {
            let tally = torn::engine::procs::reader_main(&torn::case::read_job(job)?, id)?;
            serde_json::to_writer(std::io::stdout().lock(), &tally)?;
            Ok(exit::OK)
        }
        Command::List => {
            list();
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
                println!("{}", serde_json::to_string_pretty(&row)?);
            }
            if !cli.quiet {
                eprintln!(
                    "reads/s per reader: built-in rename-durable {}, writer-stdio {} ({} writes/s): ratio {:.3}",
                    thousands(row.builtin_reads_per_s as u64),
                    thousands(row.external_reads_per_s as u64),
                    thousands(row.external_writes_per_s as u64),
                    row.ratio
                );
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
            let rows = torn::bench::reader_overhead(&formats, duration, dir.as_deref(), &CANCEL)?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            }
            if !cli.quiet {
                eprint!("{}", torn::bench::table(&rows));
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
    execute(cli, &scenario, source, base, &args.output, None)
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
    };
    let g = Gate {
        format: args.format,
        template: args.template.clone(),
        client_key: args.client_key.clone(),
        target: args.target.clone(),
        subject,
        writers: args.writers,
        readers: args.readers,
        reader_lock: args.reader_lock,
        reader_procs: args.reader_procs,
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
    if !cli.quiet {
        eprintln!(
            "torn gate: needs {} within {}; control first ({})",
            proof.describe(),
            humantime::format_duration(args.budget),
            humantime::format_duration(args.control)
        );
    }
    execute(
        cli,
        &g.scenario(),
        torn::scenario::COMMAND_LINE,
        Path::new("."),
        &args.output,
        Some(proof),
    )
}

/// Runs a scenario and renders its report everywhere it is asked for.
fn execute(
    cli: &Cli,
    scenario: &Scenario,
    source: &str,
    base: &Path,
    output: &OutputArgs,
    proof: Option<ProofTarget>,
) -> anyhow::Result<i32> {
    let opts = RunOptions {
        dir: output.dir.clone(),
        keep_scratch: output.keep_scratch,
        reports_dir: (!output.no_report).then(|| output.reports_dir.clone()),
        verbose: !cli.quiet,
        command: std::env::args().collect::<Vec<_>>().join(" "),
        proof,
        reader_exe: None,
    };
    // Refuse a bad scenario, or a place results cannot be written, before
    // announcing the run.
    scenario.validate(source)?;
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
    if !cli.quiet && proof.is_none() {
        eprintln!(
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
    }
    let mut result = run::run(scenario, source, base, &opts, &CANCEL)?;
    if let Some(proof) = &proof {
        torn::gate::judge(&mut result.report, proof);
        if let Some(dir) = &result.report_dir {
            torn::report::write_all(&result.report, dir)?;
        }
    }
    let report = &result.report;
    if let Some(path) = &output.junit {
        std::fs::write(path, torn::report::junit::render(report)?)
            .with_context(|| format!("writing JUnit XML to {}", path.display()))?;
    }
    torn::report::github::publish(report)?;
    if cli.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, report).context("writing JSON to stdout")?;
        writeln!(out)?;
    }
    if !cli.quiet {
        eprintln!("\n{}", table::plain(report));
        if proof.is_some() {
            eprint!("{}", torn::report::evidence::explain_failures(report));
        }
        for line in &report.verdict.lines {
            eprintln!("{line}");
        }
        eprintln!(
            "verdict: {:?} (exit {}); filesystem {} ({})",
            report.verdict.status,
            report.verdict.exit_code,
            report.environment.fs_type,
            report.environment.mount_point
        );
        if let Some(dir) = &result.report_dir {
            eprintln!("report: {}/report.md (and report.json)", dir.display());
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
        command: std::env::args().collect::<Vec<_>>().join(" "),
        ..RunOptions::default()
    };
    let m = torn::matrix::run_matrix(&scenario, &source, &base, filesystems, &opts, &CANCEL, |r| {
        if !cli.quiet {
            eprintln!(
                "── {} ({}): {:?}\n{}",
                r.environment.fs_label,
                r.environment.fs_type,
                r.verdict.status,
                table::plain(r)
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
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&m)?);
    }
    Ok(matrix_exit(&m.reports))
}

/// A matrix's exit code: the most serious of its runs'.
fn matrix_exit(reports: &[torn::report::Report]) -> i32 {
    let codes: Vec<i32> = reports.iter().map(|r| r.verdict.exit_code).collect();
    [
        exit::INTERRUPTED,
        exit::SUBJECT_ERROR,
        exit::ANOMALIES_FOUND,
        exit::INCONCLUSIVE,
    ]
    .into_iter()
    .find(|c| codes.contains(c))
    .unwrap_or(exit::OK)
}

fn list() {
    println!("strategies:");
    for s in strategy::ALL {
        println!("  {:<20} {}", s.name, s.summary);
    }
    println!("formats:");
    for f in Format::ALL {
        println!("  {:<20} {}", f.name(), f.summary());
    }
    println!("templates:");
    for b in BUILTINS {
        println!(
            "  {:<20} [{}] ~/{} — {}",
            b.name,
            b.format.name(),
            b.default_target,
            b.summary
        );
    }
    println!("scenarios (torn repro NAME, or torn run scenarios/FILE):");
    for (name, file, text) in run::BUILTIN_SCENARIOS {
        let desc = Scenario::parse(text, file)
            .ok()
            .and_then(|s| s.description)
            .unwrap_or_default();
        println!("  {name:<20} scenarios/{file} — {desc}");
    }
}

fn clean(dry_run: bool) -> anyhow::Result<i32> {
    let found = torn::guard::clean::find();
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
