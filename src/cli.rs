//! The command line: `torn run | repro | list | bench`.

use std::io::Write;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use torn::exit;
use torn::format::{BUILTINS, Format};
use torn::gate::Gate;
use torn::report::table;
use torn::report::verdict::{ProofTarget, thousands};
use torn::run::{self, Overrides, RunOptions};
use torn::scenario::Scenario;
use torn::strategy;
use torn::subject::{ExternalSpec, SubjectSpec};

/// Proves, with numbers, whether a way of rewriting a file is safe for the
/// programs reading it at the same time.
#[derive(Debug, Parser)]
#[command(name = "torn", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// Print the report as JSON on stdout (human output stays on stderr).
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress or tables on stderr; errors only.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

const EXIT_CODES: &str = "\
Exit codes:
  0   pass: controls showed the race, safe strategies showed zero anomalies
  1   anomalies found in a strategy that claims safety
  2   inconclusive: a control showed nothing, or no read overlapped a write
  3   subject error (the writer under test failed to run)
  64  usage or configuration error (arguments, scenario file, template)
  74  I/O error outside the subject (scratch or report directory)
  130 interrupted (scratch files cleaned up)";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario file: one case per strategy entry; print the table and
    /// write report.json and report.md.
    Run {
        /// Scenario file (YAML); see `torn list` for the shipped ones.
        scenario: PathBuf,
        #[command(flatten)]
        args: RunArgs,
    },
    /// Reproduce a known race with its built-in scenario, e.g. `torn repro hermes`.
    Repro {
        /// Which one: hermes, claude, codex, databricks, two-writers.
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(run::BUILTIN_SCENARIOS.iter().map(|s| s.0)))]
        name: String,
        #[command(flatten)]
        args: RunArgs,
    },
    /// CI gate: judge your own writer black-box against a positive control
    /// in the same run, until a bound is proven or the budget runs out.
    Gate(Box<GateArgs>),
    /// Run a scenario on several filesystems and combine the reports
    /// (matrix.json, matrix.md, report.html with plots).
    Matrix {
        /// Scenario file, or a built-in name (hermes, claude, ...).
        scenario: String,
        /// A filesystem to run on, as NAME=DIR (repeat); `harness/fs.sh up`
        /// prints these lines.
        #[arg(long = "fs", required = true)]
        filesystems: Vec<torn::matrix::Filesystem>,
        #[command(flatten)]
        args: RunArgs,
    },
    /// Combine report.json / matrix.json files (other machines, CI matrix
    /// jobs) into one matrix report.
    Merge {
        /// report.json or matrix.json files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Directory to write matrix.json, matrix.md and report.html into
        /// (default: reports/<timestamp>-merged).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Title of the combined report.
        #[arg(long, default_value = "torn: merged matrix")]
        title: String,
    },
    /// List strategies, formats, templates and scenarios.
    List,
    /// Internal: a built-in strategy writing until killed (killed-writer trials).
    #[command(name = "__writer", hide = true)]
    Writer {
        #[arg(long)]
        strategy: String,
        #[arg(long)]
        chunks: usize,
        #[arg(long)]
        target: PathBuf,
        #[command(flatten)]
        doc: DocArgs,
    },
    /// Internal: one reader process of a run with `--reader-procs`.
    #[command(name = "__reader", hide = true)]
    Reader(Box<ReaderArgs>),
    /// Measure verified reads/s against a bare open+read+close loop on the
    /// same file, and print the ratio.
    Bench {
        /// Time per measurement; each format is measured in 3 alternating rounds.
        #[arg(long, default_value = "1s", value_parser = parse_duration)]
        duration: Duration,
        /// Directory to run in (default: a new one under the temp dir).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Only these formats (default: all).
        #[arg(long, value_enum)]
        format: Vec<FormatArg>,
        /// Instead: compare the readers' reads/s while this line-protocol
        /// writer runs against their reads/s under the built-in
        /// rename-durable, in one run (YAML, Hermes template).
        #[arg(long)]
        writer_stdio: Option<String>,
    },
}

/// Formats, for `--format`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FormatArg {
    Yaml,
    Json,
    Dotenv,
    Ini,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Yaml => Format::Yaml,
            FormatArg::Json => Format::Json,
            FormatArg::Dotenv => Format::Dotenv,
            FormatArg::Ini => Format::Ini,
        }
    }
}

/// Overrides of a scenario's settings, shared by `run` and `repro`. Each can
/// also come from the environment, so CI can turn a run up or down without
/// editing files.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run each strategy this long (e.g. 500ms, 3s), overriding the scenario.
    #[arg(long, env = "TORN_DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Stop each strategy after this many reads (all readers together).
    #[arg(long, env = "TORN_READS")]
    pub reads: Option<u64>,
    /// Seed (determines every token written).
    #[arg(long, env = "TORN_SEED")]
    pub seed: Option<u64>,
    /// Reader threads per strategy.
    #[arg(long, env = "TORN_READERS")]
    pub readers: Option<NonZeroUsize>,
    /// Writer threads per strategy.
    #[arg(long, env = "TORN_WRITERS")]
    pub writers: Option<NonZeroUsize>,
    /// Run readers as separate processes instead of threads.
    #[arg(long)]
    pub reader_procs: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

impl RunArgs {
    fn overrides(&self) -> Overrides {
        Overrides {
            duration: self.duration,
            reads: self.reads,
            seed: self.seed,
            readers: self.readers,
            writers: self.writers,
            reader_procs: self.reader_procs,
        }
    }
}

/// The document a helper process works on (set by the run that starts it).
#[derive(Debug, Args)]
pub struct DocArgs {
    #[arg(long)]
    template: PathBuf,
    #[arg(long, value_enum)]
    format: FormatArg,
    #[arg(long)]
    client_key: String,
    #[arg(long)]
    seed: u64,
}

impl DocArgs {
    fn classifier(&self, grace: u64) -> anyhow::Result<torn::classify::Classifier> {
        let template =
            torn::format::Template::from_file(&self.template, self.format.into(), &self.client_key)?;
        Ok(torn::classify::Classifier::new(
            template,
            torn::token::TokenCodec::new(self.seed),
            grace,
        ))
    }
}

/// Where a run works and what it writes.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Scratch directory: must be empty or made by torn (default: a new
    /// directory under the system temp dir).
    #[arg(long, env = "TORN_DIR")]
    pub dir: Option<PathBuf>,
    /// Keep the scratch files after the run.
    #[arg(long)]
    pub keep_scratch: bool,
    /// Where report directories are written.
    #[arg(long, env = "TORN_REPORTS_DIR", default_value = "reports")]
    pub reports_dir: PathBuf,
    /// Write no report files.
    #[arg(long)]
    pub no_report: bool,
    /// Also write JUnit XML here (one test case per strategy, subject and control).
    #[arg(long)]
    pub junit: Option<PathBuf>,
}

/// `torn gate`: the user's own writer, judged black-box.
#[derive(Debug, Args)]
pub struct GateArgs {
    /// Format of the target.
    #[arg(long, value_enum)]
    pub format: FormatArg,
    /// Template: a built-in name (see `torn list`) or a file with {{TOKEN}} slots
    /// (default: the format's built-in).
    #[arg(long)]
    pub template: Option<String>,
    /// Dotted key the client reads the token from (required for a template file).
    #[arg(long)]
    pub client_key: Option<String>,
    /// Target path relative to the scratch HOME (default: the template's, e.g. .hermes/config.yaml).
    #[arg(long)]
    pub target: Option<String>,
    #[command(flatten)]
    pub subject: SubjectArgs,
    /// Run the writer command through `sh -c` (default: split into words, no shell).
    #[arg(long)]
    pub shell: bool,
    /// Longest one write (or external read) may take before the program counts
    /// as hung and is killed.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub write_timeout: Duration,
    /// Concurrent writer instances (two processes rotating the same file).
    #[arg(long, default_value = "1")]
    pub writers: NonZeroUsize,
    /// Reader threads.
    #[arg(long, default_value = "2", env = "TORN_READERS")]
    pub readers: NonZeroUsize,
    /// Readers take flock(LOCK_SH) before reading.
    #[arg(long)]
    pub reader_lock: bool,
    /// Run readers as separate processes (as real clients are) instead of threads.
    #[arg(long)]
    pub reader_procs: bool,
    /// Also read with the real client: a program that answers each `read`
    /// line on stdin with the token it would use, or `err <reason>`.
    #[arg(long)]
    pub reader_stdio: Option<String>,
    /// Writes per second per writer, or `max`.
    #[arg(long, default_value = "max")]
    pub write_rate: torn::scenario::Rate,
    /// Exposed reads the subject must survive with zero anomalies.
    #[arg(long, default_value = "0", env = "TORN_MIN_EXPOSED")]
    pub min_exposed: u64,
    /// The 95% upper bound on the per-read anomaly probability to prove (0 for none).
    #[arg(long, default_value = "1e-5", env = "TORN_MAX_RATE")]
    pub max_rate: f64,
    /// Longest the subject may run to reach the targets.
    #[arg(long, default_value = "60s", env = "TORN_BUDGET", value_parser = parse_duration)]
    pub budget: Duration,
    /// How long the positive control (naive-truncate) runs.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub control: Duration,
    /// Seed (determines every token written).
    #[arg(long, env = "TORN_SEED", default_value = "1")]
    pub seed: u64,
    /// After the run, SIGKILL the writer at this many random instants and
    /// check the file is whole and no temp file is left (line protocol and
    /// built-in strategies).
    #[arg(long, default_value = "0")]
    pub kill_trials: u64,
    /// Inject a real fault mid-run: read-only-dir, or full-disk (needs a
    /// small filesystem: harness/fs.sh up tmpfs-small, then --dir on it).
    #[arg(long, value_enum)]
    pub fault: Option<FaultArg>,
    /// When the fault starts.
    #[arg(long, default_value = "200ms", value_parser = parse_duration)]
    pub fault_after: Duration,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Faults, for `--fault`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FaultArg {
    ReadOnlyDir,
    FullDisk,
}

impl From<FaultArg> for torn::engine::fault::Fault {
    fn from(f: FaultArg) -> Self {
        match f {
            FaultArg::ReadOnlyDir => Self::ReadOnlyDir,
            FaultArg::FullDisk => Self::FullDisk,
        }
    }
}

/// Arguments of a reader process (set by the run that starts it).
#[derive(Debug, Args)]
pub struct ReaderArgs {
    #[arg(long)]
    board: PathBuf,
    #[arg(long)]
    id: usize,
    #[arg(long)]
    target: PathBuf,
    #[command(flatten)]
    doc: DocArgs,
    #[arg(long)]
    grace: u64,
    #[arg(long)]
    lock: bool,
    #[arg(long)]
    reads: Option<u64>,
    #[arg(long)]
    evidence: usize,
    #[arg(long)]
    bucket_ns: u64,
}

/// What the gate judges: exactly one of these.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct SubjectArgs {
    /// Run this command once per write; `{token}`, `{path}`, `{home}` are
    /// substituted; committed when it exits 0.
    #[arg(long)]
    pub writer_cmd: Option<String>,
    /// Start this command once per writer and send one token per line on its
    /// stdin; it answers `ok` or `err <message>` per line.
    #[arg(long)]
    pub writer_stdio: Option<String>,
    /// Judge a built-in strategy instead (to see what a pass or fail looks like).
    #[arg(long)]
    pub strategy: Option<String>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    match humantime::parse_duration(s) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err("must be more than zero".into()),
        Err(e) => Err(format!("{e}; write e.g. 500ms, 3s, 1m")),
    }
}

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
        Command::Writer {
            ref strategy,
            chunks,
            ref target,
            ref doc,
        } => {
            let classifier = doc.classifier(u64::MAX)?;
            torn::engine::kill::writer_main(&torn::engine::kill::WriterProc {
                strategy: strategy.clone(),
                chunks,
                target: target.clone(),
                template: doc.template.clone(),
                classifier: &classifier,
            })?;
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
        Command::Reader(ref a) => {
            let tally = torn::engine::procs::ReaderProc {
                board: a.board.clone(),
                id: a.id,
                target: a.target.clone(),
                template: a.doc.template.clone(),
                format: a.doc.format.into(),
                client_key: a.doc.client_key.clone(),
                seed: a.doc.seed,
                grace: a.grace,
                lock: a.lock,
                reads: a.reads,
                evidence: a.evidence,
                bucket_ns: a.bucket_ns,
            }
            .run()?;
            serde_json::to_writer(std::io::stdout().lock(), &tally)?;
            Ok(exit::OK)
        }
        Command::List => {
            list();
            Ok(exit::OK)
        }
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
                format.iter().map(|&f| f.into()).collect()
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
    let proof = ProofTarget {
        min_exposed: args.min_exposed,
        max_rate: (args.max_rate > 0.0).then_some(args.max_rate),
    };
    let g = Gate {
        format: args.format.into(),
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
        fault: args.fault.map(Into::into),
        fault_after: args.fault_after,
        write_rate: args.write_rate,
        proof,
        budget: args.budget,
        control: args.control,
        seed: args.seed,
    };
    if !cli.quiet {
        eprintln!(
            "torn gate: needs 0 anomalies in ≥ {} exposed reads within {}; control first ({})",
            thousands(proof.exposed_needed()),
            humantime::format_duration(args.budget),
            humantime::format_duration(args.control)
        );
    }
    execute(
        cli,
        &g.scenario(),
        "gate",
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
