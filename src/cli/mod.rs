//! The command line: `torn run | repro | gate | crash | matrix | merge |
//! list | clean | bench | completions | man`.
//!
//! This file declares the arguments; [`commands`] carries them out
//! (`torn crash` in [`crash`]).

mod commands;
mod crash;
mod man;
mod powercut;

pub use commands::{CANCEL, dispatch};

use std::num::{NonZeroU64, NonZeroUsize};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use torn::format::Format;
use torn::run::{self, Overrides};

/// Proves, with numbers, whether a way of rewriting a file is safe for the
/// programs reading it at the same time.
#[derive(Debug, Parser)]
#[command(name = "torn", version, about, after_help = TOP_AFTER_HELP, args_override_self = true)]
pub struct Cli {
    /// Print the report as JSON on stdout (human output stays on stderr).
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress or tables on stderr; errors only.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Print every column of the results table (counts of each outcome,
    /// writes, would-403, first anomaly), however wide; by default the table
    /// fits the terminal (COLUMNS, else the terminal's width, else 80).
    #[arg(long, global = true)]
    pub wide: bool,
    #[command(subcommand)]
    pub command: Command,
}

const TOP_AFTER_HELP: &str = "\
Examples:
  torn repro hermes                 the Hermes 403 race and its fixes (~25 s)
  torn gate --format yaml --writer-stdio 'python3 rotate.py {path}'
                                    CI gate for your own writer
  torn list                         strategies, formats, templates, scenarios
  torn help gate                    a command's options and examples

Exit codes:
  0   pass: every case behaved as its scenario says; a control showed the race
  1   anomalies found in a strategy that claims safety
  2   inconclusive: a control showed nothing, or no read overlapped a write
  3   subject error (the writer under test failed to run)
  64  usage or configuration error (arguments, scenario file, template)
  74  I/O error outside the subject (scratch or report directory, stdout)
  77  skipped: a command the scenario requires is not installed
  130 interrupted (scratch files cleaned up)";

const RUN_EXAMPLES: &str = "\
Examples:
  torn run scenarios/hermes-rotation.yaml
  torn run my-scenario.yaml --duration 500ms --seed 7 --no-report
  torn run scenarios/claude-settings.yaml --dir /dev/shm/torn   # on tmpfs
  TORN_DURATION=10s torn run scenarios/two-writers-fixed-tmp.yaml \\
      --junit torn.xml

Exit codes: 0 pass, 1 anomalies found, 2 inconclusive (see `torn --help`).";

const REPRO_EXAMPLES: &str = "\
Examples:
  torn repro hermes                  # ~25 s; exit 0: all behaved as expected
  torn repro hermes --duration 500ms      # quicker, less certain
  torn repro credentials-mode --wide      # every column of the table
  torn repro two-writers --json > report.json
  torn repro npm-token               # a real tool and its own client; exit 77 if npm is missing

`torn list` says what each scenario shows.";

const GATE_EXAMPLES: &str = "\
Examples:
  # Your line-protocol writer (one token per line in, `ok` or `err ...` out):
  torn gate --format yaml --writer-stdio 'python3 tools/rotate.py {path}'

  # A command run once per write, with a template file of your own:
  torn gate --format json --template app.json --client-key auth.token \\
            --target .config/app.json --writer-cmd './rotate {path} {token}'

  # A stronger bound (3,000 write windows: <= 0.1% per write), JUnit for CI:
  torn gate --format yaml --writer-stdio 'python3 rotate.py {path}' \\
            --min-windows 3000 --budget 120s --junit torn.xml

  # Also crash its writes at every point (power loss), and widen rare races:
  torn gate --format yaml --writer-stdio 'python3 rotate.py {path}' \\
            --crash --perturb 200us

  # A writer that reformats the file and stamps a time on every write:
  torn gate --format json --writer-stdio 'python3 save.py {path}' \\
            --volatile updated_at

  # Two instances at once, then 20 SIGKILLs at random instants:
  torn gate --format yaml --writer-stdio 'python3 rotate.py {path}' \\
            --writers 2 --kill-trials 20

  # See what a pass and a failure look like, with built-in strategies:
  torn gate --format yaml --strategy rename-durable
  torn gate --format yaml --strategy naive-truncate

Exit codes: 0 pass, 1 anomalies found, 2 inconclusive (the control showed
nothing, or the bound was not reached within --budget), 3 subject error.";

const CRASH_EXAMPLES: &str = "\
Examples:
  torn crash --strategy rename-unique-tmp --model strict --model ext4-ordered
  torn crash --writer-stdio 'python3 rotate.py {path}' --save-trace w.json
  torn crash --trace w.json --model ext4-ordered     # the saved trace, again
  torn crash --trace a.json --trace b.json --json --no-report

Exit codes: 0 pass, 1 fail (a state torn, empty or missing, or an acknowledged
version lost), 2 inconclusive (states were sampled), 3 subject error.";

const MATRIX_EXAMPLES: &str = "\
Examples:
  torn matrix hermes --fs tmpfs=/dev/shm --fs home=$HOME/tmp
  sudo harness/matrix.sh hermes --duration 1s   # mounts ext4, xfs, btrfs, ...
  torn matrix scenarios/credentials-mode.yaml --fs a=/mnt/a --fs b=/mnt/b";

const MERGE_EXAMPLES: &str = "\
Examples:
  torn merge linux-6.1/report.json linux-6.18/report.json --out kernels
  torn merge artifacts/*/report.json --title 'torn: CI matrix'

Reads report.json (torn.report/1 to /3) and matrix.json (torn.matrix/1 to /3).";

const LIST_EXAMPLES: &str = "\
Examples:
  torn list
  torn list --json | jq -r '.scenarios[].name'";

const CLEAN_EXAMPLES: &str = "\
Examples:
  torn clean --dry-run    # what killed runs left behind
  torn clean";

const BENCH_EXAMPLES: &str = "\
Examples:
  torn bench                             # every format, 3 rounds of 1 s each
  torn bench --format yaml --duration 3s --json
  torn bench --writer-stdio 'python3 examples/writers/durable.py {path}'";

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  torn completions bash > ~/.local/share/bash-completion/completions/torn
  torn completions zsh > ~/.zfunc/_torn
  torn completions fish > ~/.config/fish/completions/torn.fish";

const MAN_EXAMPLES: &str = "\
Examples:
  torn man > torn.1 && man ./torn.1
  torn man gate | man -l -
  torn man --dir /usr/local/share/man/man1   # torn.1 and a page per command";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario file: one case per strategy entry; print the table and
    /// write report.json, report.md and report.html.
    #[command(after_help = RUN_EXAMPLES)]
    Run {
        /// Scenario file (YAML); see `torn list` for the shipped ones.
        scenario: PathBuf,
        #[command(flatten)]
        args: RunArgs,
    },
    /// Reproduce a known race with its built-in scenario, e.g. `torn repro hermes`.
    #[command(after_help = REPRO_EXAMPLES)]
    Repro {
        /// Which built-in scenario (`torn list` says what each shows).
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(run::BUILTIN_SCENARIOS.iter().map(|s| s.0)))]
        name: String,
        #[command(flatten)]
        args: RunArgs,
    },
    /// CI gate: judge your own writer black-box against a positive control
    /// in the same run, until a bound is proven or the budget runs out.
    #[command(after_help = GATE_EXAMPLES)]
    Gate(Box<GateArgs>),
    /// Crash states: every state a power cut at any point of a write could
    /// leave on disk, under a persistence model, judged for atomicity
    /// (torn, empty, missing) and durability (an acknowledged version lost).
    #[command(after_help = CRASH_EXAMPLES)]
    Crash(Box<CrashArgs>),
    /// Run a scenario on several filesystems and combine the reports
    /// (matrix.json, matrix.md, report.html with plots).
    #[command(after_help = MATRIX_EXAMPLES)]
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
    #[command(after_help = MERGE_EXAMPLES)]
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
    /// List strategies, formats, templates and scenarios (`--json`: as JSON
    /// on stdout).
    #[command(after_help = LIST_EXAMPLES)]
    List,
    /// Undo what killed runs left behind: processes, faults (an immutable or
    /// read-only directory), scratch directories. Runs report such leftovers.
    #[command(after_help = CLEAN_EXAMPLES)]
    Clean {
        /// Only list what would be undone.
        #[arg(long)]
        dry_run: bool,
    },
    /// Internal: a built-in strategy writing until killed (killed-writer trials).
    #[command(name = "__writer", hide = true)]
    Writer {
        /// The job file (JSON) the run wrote.
        #[arg(long)]
        job: PathBuf,
    },
    /// Internal: the helper of harness/powercut.sh (crash models against
    /// real power cuts).
    #[command(name = "__powercut", hide = true)]
    Powercut {
        #[command(subcommand)]
        command: powercut::Command,
    },
    /// Internal: one reader process of a run with `--reader-procs`.
    #[command(name = "__reader", hide = true)]
    Reader {
        /// The job file (JSON) the run wrote.
        #[arg(long)]
        job: PathBuf,
        /// This reader's slot on the board.
        #[arg(long)]
        id: usize,
    },
    /// Measure verified reads/s against a bare open+read+close loop on the
    /// same file, and print the ratio (min / median / max over the rounds).
    #[command(after_help = BENCH_EXAMPLES)]
    Bench {
        /// Time per measurement; each format is measured in 3 alternating rounds.
        #[arg(long, default_value = "1s", value_parser = parse_duration)]
        duration: Duration,
        /// Directory to run in (default: a new one under the temp dir).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Only these formats (default: all).
        #[arg(long, value_enum)]
        format: Vec<Format>,
        /// Instead: compare the readers' reads/s while this line-protocol
        /// writer runs against their reads/s under the built-in
        /// rename-durable, in one run (YAML, Hermes template).
        #[arg(long, conflicts_with = "writer_cmd")]
        writer_stdio: Option<String>,
        /// Instead: a per-write command's time per write alone (untraced,
        /// no reader) against traced with readers spinning and with readers
        /// waiting for windows, and the share of its windows read each way
        /// (`{path}`, `{token}` substituted; the first --format, default
        /// yaml). Give --duration a few seconds: each setting runs it.
        #[arg(long)]
        writer_cmd: Option<String>,
    },
    /// Print a shell completion script on stdout.
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff) on stdout: torn(1), or one command's
    /// (`torn man gate`: torn-gate(1)); --dir writes them all.
    #[command(after_help = MAN_EXAMPLES)]
    Man {
        /// The command whose page to print (default: torn(1), the overview).
        command: Option<String>,
        /// Write every page (torn.1, torn-gate.1, ...) into this directory
        /// instead.
        #[arg(long, conflicts_with = "command")]
        dir: Option<PathBuf>,
    },
}

impl Command {
    /// Whether the command runs cases (starts processes, changes files):
    /// such commands run under the supervisor and report leftovers.
    pub fn runs_cases(&self) -> bool {
        matches!(
            self,
            Command::Run { .. }
                | Command::Repro { .. }
                | Command::Gate(_)
                | Command::Crash(_)
                | Command::Matrix { .. }
                | Command::Bench { .. }
        )
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
    #[arg(long, env = "TORN_READS", value_parser = parse_whole)]
    pub reads: Option<u64>,
    /// Seed (determines every token written).
    #[arg(long, env = "TORN_SEED", value_parser = parse_whole)]
    pub seed: Option<u64>,
    /// Reader threads per strategy.
    #[arg(long, env = "TORN_READERS", value_parser = parse_count)]
    pub readers: Option<NonZeroUsize>,
    /// Writer threads per strategy.
    #[arg(long, env = "TORN_WRITERS", value_parser = parse_count)]
    pub writers: Option<NonZeroUsize>,
    /// Run readers as separate processes instead of threads.
    #[arg(long)]
    pub reader_procs: bool,
    /// When readers read, everywhere: `spin` or `wait` (for a window).
    #[arg(long, value_enum)]
    pub reader_pace: Option<torn::case::Pace>,
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
            reader_pace: self.reader_pace,
        }
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
    /// Format of the target: its client's parser (default: the template's,
    /// else by the target's extension, else raw: any file, as bytes).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
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
    #[arg(long, default_value = "1", value_parser = parse_count)]
    pub writers: NonZeroUsize,
    /// Reader threads.
    #[arg(long, default_value = "2", env = "TORN_READERS", value_parser = parse_count)]
    pub readers: NonZeroUsize,
    /// Readers take flock(LOCK_SH) before reading.
    #[arg(long)]
    pub reader_lock: bool,
    /// Run readers as separate processes (as real clients are) instead of threads.
    #[arg(long)]
    pub reader_procs: bool,
    /// When the readers read: `spin` (back to back) or `wait` (idle until
    /// the traced writer opens a write window, which is held until a read
    /// has begun; the writer gets the CPU in between). Default: `wait` for
    /// a traced --writer-cmd (a process per write), `spin` otherwise.
    #[arg(long, value_enum)]
    pub reader_pace: Option<torn::case::Pace>,
    /// Also read with the real client: a program that answers each `read`
    /// line on stdin with the token it would use, or `err <reason>`.
    #[arg(long)]
    pub reader_stdio: Option<String>,
    /// Writes per second per writer, or `max`.
    #[arg(long, default_value = "max")]
    pub write_rate: torn::scenario::Rate,
    /// After the run, crash the writer's own writes (three, traced, with
    /// their bytes) at every point under the strict and ext4-ordered
    /// persistence models: a writer that can leave the file torn or lose an
    /// acknowledged version after a power cut fails (see `torn crash`).
    #[arg(long)]
    pub crash: bool,
    /// With --crash: crash states generated per crash point at most; beyond,
    /// they are sampled, and a sampled stage leaves the gate inconclusive.
    #[arg(long, env = "TORN_CRASH_STATES", default_value = "16384", value_parser = parse_whole)]
    pub crash_max_states: u64,
    /// With --crash: crash states generated per model at most, over all
    /// crash points.
    #[arg(long, env = "TORN_CRASH_STATES_TOTAL", default_value = "200000", value_parser = parse_whole)]
    pub crash_max_states_total: u64,
    /// Do not trace the writer's system calls: each whole write (the whole
    /// run of a write command) then counts as one write window, and no
    /// recipe is shown. For writers that cannot run under ptrace.
    #[arg(long)]
    pub no_trace: bool,
    /// Delay injection: hold the traced writer up to this long (e.g. 200us)
    /// at random call boundaries inside its write windows, to widen rare
    /// races; the holds are drawn from --seed, so a run can be replayed.
    #[arg(long, value_parser = parse_hold)]
    pub perturb: Option<Duration>,
    /// Completed writes (after the warm-up) a pass needs at least: no pass
    /// rests on a writer torn has barely seen write.
    #[arg(long, default_value = "20", env = "TORN_MIN_WRITES", value_parser = parse_whole)]
    pub min_writes: u64,
    /// Write windows (spans in which the target was really changing, from
    /// the writer's trace) that reads overlapped, with zero anomalies: 300
    /// proves ≤ 1% per write at 95%.
    #[arg(long, default_value = "300", env = "TORN_MIN_WINDOWS", value_parser = parse_whole)]
    pub min_windows: u64,
    /// Reads overlapping a write window the subject must survive with zero anomalies.
    #[arg(long, default_value = "0", env = "TORN_MIN_EXPOSED", value_parser = parse_whole)]
    pub min_exposed: u64,
    /// Which route may prove a pass: `windows` (enough write windows
    /// overlapped by reads, with zero anomalies), `recipe` (every traced
    /// write in a recipe class that is atomic for readers — a new file
    /// written completely, then one rename over the target — and that class
    /// calibrated on this filesystem in the same run by racing a built-in
    /// strategy of the class to ≤ 1e-5 per exposed read), or `either`
    /// (whichever proves first; a slow writer that cannot reach its windows
    /// in the budget is proven by recipe).
    #[arg(long, value_enum, default_value = "either", env = "TORN_PROOF")]
    pub proof: torn::report::verdict::ProofRoute,
    /// The 95% upper bound on the per-exposed-read anomaly probability to prove (0 for none).
    #[arg(long, default_value = "0", env = "TORN_MAX_RATE", value_parser = parse_probability)]
    pub max_rate: f64,
    /// Longest the subject may run to reach the targets.
    #[arg(long, default_value = "60s", env = "TORN_BUDGET", value_parser = parse_duration)]
    pub budget: Duration,
    /// How long the positive control (naive-truncate) runs.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub control: Duration,
    /// Seed (determines every token written).
    #[arg(long, env = "TORN_SEED", default_value = "1", value_parser = parse_whole)]
    pub seed: u64,
    /// After the run, SIGKILL the writer at this many random instants and
    /// check the file is whole and no temp file is left (line protocol and
    /// built-in strategies).
    #[arg(long, default_value = "0", value_parser = parse_whole)]
    pub kill_trials: u64,
    /// Inject a real fault mid-run: read-only-dir, or full-disk (needs a
    /// small filesystem: harness/fs.sh up tmpfs-small, then --dir on it).
    #[arg(long, value_enum)]
    pub fault: Option<torn::engine::fault::Fault>,
    /// When the fault starts.
    #[arg(long, default_value = "200ms", value_parser = parse_duration)]
    pub fault_after: Duration,
    /// What the target holds before your writer's first write: a file,
    /// `empty`, or `absent` (default: the template). torn learns your
    /// writer's own format from its warm-up writes either way.
    #[arg(long, value_name = "PATH|empty|absent")]
    pub seed_file: Option<String>,
    /// A field your writer changes on every write (dotted path, e.g.
    /// `meta.updated_at`; repeat): not compared when reads are judged by
    /// meaning. Default: found during the warm-up.
    #[arg(long, value_name = "KEY")]
    pub volatile: Vec<String>,
    /// Make the target a symlink into a dotfiles directory, and report
    /// whether your writer keeps the link.
    #[arg(long)]
    pub target_symlink: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `torn crash`: a writer's trace, crashed at every point.
#[derive(Debug, Args)]
pub struct CrashArgs {
    /// Built-in strategy to run and record for --writes writes (repeat for several).
    #[arg(long = "strategy", value_name = "NAME")]
    pub strategies: Vec<String>,
    /// An external writer speaking the line protocol (as for `torn gate`),
    /// run under the tracer for --writes writes (repeat for several).
    #[arg(long = "writer-stdio", value_name = "CMD")]
    pub writer_stdio: Vec<String>,
    /// An external per-write command (as for `torn gate`; `{token}`,
    /// `{path}`, `{home}` substituted), traced (repeat for several).
    #[arg(long = "writer-cmd", value_name = "CMD")]
    pub writer_cmd: Vec<String>,
    /// Run external writers through `sh -c`.
    #[arg(long)]
    pub shell: bool,
    /// A recorded trace instead: a JSON array of events, or an object with
    /// "events" and optionally "target", "initial_version" (default 0) and
    /// "acks" ([[version, ack_ns], ...]; inferred when absent), and "shape"
    /// (an external writer's learned file, which its states are judged by).
    /// Repeat for several.
    #[arg(long = "trace", value_name = "FILE.json")]
    pub traces: Vec<PathBuf>,
    /// Persistence model: strict (the POSIX minimum) or ext4-ordered (ext4's
    /// default data=ordered with auto_da_alloc). Repeat to compare.
    #[arg(long = "model", value_name = "MODEL", value_enum, default_value = "strict")]
    pub models: Vec<torn::crash::Model>,
    /// Writes each built-in strategy makes (versions 1..=N over version 0).
    #[arg(long, default_value = "3", value_parser = parse_count_u64)]
    pub writes: NonZeroU64,
    /// Format of the target (default: the template's, else yaml).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Template: a built-in name (see `torn list`) or a file with {{TOKEN}} slots.
    #[arg(long)]
    pub template: Option<String>,
    /// Dotted key the client reads the token from (required for a template file).
    #[arg(long)]
    pub client_key: Option<String>,
    /// Target path relative to the scratch HOME, for built-in strategies
    /// (default: the template's, e.g. .hermes/config.yaml).
    #[arg(long)]
    pub target: Option<String>,
    /// Seed: the tokens written (a trace's tokens must come from the same
    /// seed) and the sampler, where states are sampled.
    #[arg(long, env = "TORN_SEED", default_value = "1", value_parser = parse_whole)]
    pub seed: u64,
    /// Crash states generated per crash point at most; beyond, they are sampled.
    #[arg(long, env = "TORN_CRASH_STATES", default_value = "16384", value_parser = parse_whole)]
    pub max_states: u64,
    /// Crash states generated per subject and model at most, over all crash points.
    #[arg(long, env = "TORN_CRASH_STATES_TOTAL", default_value = "200000", value_parser = parse_whole)]
    pub max_states_total: u64,
    /// Scratch directory, where states are built (on the file system under
    /// test); must be empty or made by torn.
    #[arg(long, env = "TORN_DIR")]
    pub dir: Option<PathBuf>,
    /// Keep the scratch files after the run.
    #[arg(long)]
    pub keep_scratch: bool,
    /// Write the recorded trace (of the one --strategy, --writer-stdio or
    /// --writer-cmd subject) to this file, in the format --trace reads
    /// (schema torn.trace/1, see `torn::crash::input`).
    #[arg(long, value_name = "FILE.json")]
    pub save_trace: Option<PathBuf>,
    /// Where the report directory (report.json, report.md) is written.
    #[arg(long, env = "TORN_REPORTS_DIR", default_value = "reports")]
    pub reports_dir: PathBuf,
    /// Write no report files.
    #[arg(long)]
    pub no_report: bool,
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

/// The command line as typed, each argument shell-quoted where it needs
/// it (`--writer-stdio 'python3 w.py {path}'`), so report.json's `command`
/// can be pasted back into a shell.
pub fn quoted_command_line() -> String {
    shell_words::join(std::env::args())
}

/// A duration flag: `500ms`, `3s`, `1m`; more than zero and at most what
/// torn runs a case ([`torn::limits::MAX_DURATION`]). Clap puts the flag's
/// name in front of the message, so the message says what is wrong with the
/// value in torn's words, never the parser's.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.starts_with('-') {
        return Err("a duration cannot be negative; write e.g. 500ms, 3s, 1m".into());
    }
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("a duration needs a unit: {t}ms, {t}s or {t}m"));
    }
    match humantime::parse_duration(t) {
        Ok(d) if d.is_zero() => Err("must be more than zero".into()),
        Ok(d) if d > torn::limits::MAX_DURATION => Err(format!(
            "longer than torn runs anything (at most {}h)",
            torn::limits::MAX_DURATION.as_secs() / 3600
        )),
        Ok(d) => Ok(d),
        Err(_) if t.is_empty() => Err("empty; write a duration, e.g. 500ms, 3s, 1m".into()),
        Err(_) => Err("not a duration; write e.g. 500ms, 3s, 1m (units: us, ms, s, m, h)".into()),
    }
}

/// A `--perturb` hold: a duration of at most [`torn::limits::MAX_PERTURB`]
/// (holds widen a window by microseconds).
fn parse_hold(s: &str) -> Result<Duration, String> {
    let max = torn::limits::MAX_PERTURB;
    let too_long = || {
        format!(
            "holds of {}: torn holds a writer at most {} at a time (holds widen a window by microseconds)",
            s.trim(),
            humantime::format_duration(max)
        )
    };
    match parse_duration(s) {
        Ok(d) if d > max => Err(too_long()),
        Err(_) if humantime::parse_duration(s.trim()).is_ok_and(|d| d > max) => Err(too_long()),
        other => other,
    }
}

/// A count of threads or processes: a whole number, at least 1.
fn parse_count(s: &str) -> Result<NonZeroUsize, String> {
    match s.trim().parse::<u64>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => usize::try_from(n)
            .ok()
            .and_then(NonZeroUsize::new)
            .ok_or_else(|| "too large".into()),
        Err(_) if s.trim().starts_with('-') => Err("must be at least 1".into()),
        Err(_) => Err("not a whole number; write e.g. 2".into()),
    }
}

/// A count of writes: a whole number, at least 1.
fn parse_count_u64(s: &str) -> Result<NonZeroU64, String> {
    parse_count(s).map(|n| NonZeroU64::new(n.get() as u64).expect("non-zero"))
}

/// A whole number (a count, a seed).
fn parse_whole(s: &str) -> Result<u64, String> {
    let t = s.trim();
    t.parse::<u64>().map_err(|_| {
        if t.starts_with('-') {
            "cannot be negative".into()
        } else if t.is_empty() {
            "empty; write a whole number".into()
        } else {
            format!("`{t}` is not a whole number")
        }
    })
}

/// A probability: a number in [0, 1), e.g. 1e-5.
fn parse_probability(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(p) if (0.0..1.0).contains(&p) => Ok(p),
        Ok(_) => Err("must be a probability in [0, 1), e.g. 1e-5".into()),
        Err(_) => Err("not a number; write a probability in [0, 1), e.g. 1e-5".into()),
    }
}
