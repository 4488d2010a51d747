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
use torn::report::table;
use torn::run::{self, Overrides, RunOptions};
use torn::scenario::Scenario;
use torn::strategy;

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
    /// List strategies, formats, templates and scenarios.
    List,
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

/// Options shared by `run` and `repro`. Each can also come from the
/// environment, so CI can turn a run up or down without editing files.
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
            run_scenario(
                &cli,
                loaded,
                &format!("built-in:{file}"),
                Path::new("."),
                args,
            )
        }
        Command::List => {
            list();
            Ok(exit::OK)
        }
        Command::Bench {
            duration,
            ref dir,
            ref format,
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
    Overrides {
        duration: args.duration,
        reads: args.reads,
        seed: args.seed,
        readers: args.readers,
        writers: args.writers,
    }
    .apply(&mut scenario);
    let opts = RunOptions {
        dir: args.dir.clone(),
        keep_scratch: args.keep_scratch,
        reports_dir: (!args.no_report).then(|| args.reports_dir.clone()),
        verbose: !cli.quiet,
        command: std::env::args().collect::<Vec<_>>().join(" "),
    };
    if !cli.quiet {
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
    let result = run::run(&scenario, source, base, &opts, &CANCEL)?;
    let report = &result.report;
    if cli.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, report).context("writing JSON to stdout")?;
        writeln!(out)?;
    }
    if !cli.quiet {
        eprintln!("\n{}", table::plain(report));
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
