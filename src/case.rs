//! The case: everything one run of one subject needs, with every default
//! applied — the one model of it.
//!
//! Scenario files and the gate build cases ([`crate::scenario::Scenario::cases`]),
//! the engine runs them ([`crate::engine::run_case`]), reports record them,
//! and helper processes (reader processes, killed-writer trials) receive the
//! parts they need serialized as one JSON file (`engine::procs::ReaderJob`, [`WriterJob`]),
//! never rebuilt from flags. A new setting is a field here, once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::classify::Classifier;
use crate::format::{Format, Template};
use crate::strategy::Expect;
use crate::subject::{ExternalSpec, SubjectSpec};
use crate::token::TokenCodec;

/// One case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// Name shown in tables.
    pub label: String,
    /// What writes.
    pub subject: SubjectSpec,
    /// What the case is expected to show.
    pub expect: Expect,
    /// Why, when a scenario says so (a known flaw the scenario shows on purpose).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_reason: Option<String>,
    /// How long to run (an upper bound when `reads` is set).
    pub duration: Duration,
    /// Total read budget, shared evenly among the readers.
    pub reads: Option<u64>,
    pub writers: Writers,
    pub readers: Readers,
    /// Mode the target is created with (credentials files are 0600).
    pub target_mode: u32,
    /// Make the target a symlink to a file elsewhere (a dotfiles checkout).
    pub target_symlink: bool,
    /// Scan the target's directory every millisecond for widened modes and
    /// group/other-readable files holding a token.
    pub watch_modes: bool,
    /// A fault to inject, and when (after the start).
    pub fault: Option<FaultPlan>,
    /// The real client, asked to read alongside torn's readers.
    pub external_reader: Option<ExternalSpec>,
    /// What that client does with what it read (its calls counted in its
    /// own terms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<crate::client::ClientProfile>,
    /// Killed-writer trials after the run.
    pub kill_trials: u64,
    /// Anomalous reads kept as evidence, per outcome.
    pub evidence: usize,
    /// How an external writer's own format is learned (ignored for
    /// built-in strategies, which write torn's template).
    #[serde(default)]
    pub shape: ShapeSettings,
}

/// How the shape of an external writer's file is learned: from what file
/// it starts, and which fields may change on every write.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShapeSettings {
    /// What the target holds before the writer's first write.
    pub start: StartFile,
    /// Fields the writer changes on every write (dotted paths), as given by
    /// the user; `None`: found during the warm-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volatile: Option<Vec<String>>,
    /// Whether the format was given (`--format`, a scenario's `format:`):
    /// then a writer's file its parser rejects, or where no key holds the
    /// token, is the writer's error; when torn guessed the format, such a
    /// file is judged as raw bytes instead.
    #[serde(default = "format_given_default")]
    pub format_given: bool,
}

fn format_given_default() -> bool {
    true
}

/// What the target holds before an external writer's first write.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartFile {
    /// Version 0 of torn's template.
    #[default]
    Template,
    /// The user's own file (`--seed-file PATH`), copied in.
    File(PathBuf),
    /// An empty file.
    Empty,
    /// No file: the writer creates it.
    Absent,
}

impl StartFile {
    /// Parses `--seed-file` / `seed_file:`: `empty`, `absent`, or a path
    /// (relative to `base`; write `./empty` for a file named `empty`).
    pub fn parse(value: &str, base: &Path) -> Self {
        match value {
            "empty" => StartFile::Empty,
            "absent" => StartFile::Absent,
            "template" => StartFile::Template,
            path => StartFile::File(base.join(path)),
        }
    }

    /// In words, for reports.
    pub fn describe(&self) -> String {
        match self {
            StartFile::Template => "torn's template (version 0)".into(),
            StartFile::File(p) => format!("the file {}", p.display()),
            StartFile::Empty => "an empty file".into(),
            StartFile::Absent => "no file (the writer creates it)".into(),
        }
    }

    /// The bytes to put in the target before the first write (`None`: no file).
    pub fn bytes(&self, classifier: &Classifier) -> std::io::Result<Option<Vec<u8>>> {
        Ok(match self {
            StartFile::Template => Some(classifier.template.render_vec(&classifier.codec, 0)),
            StartFile::File(p) => Some(
                crate::limits::read_text(p, crate::limits::MAX_TEMPLATE_BYTES, "seed file")?.into_bytes(),
            ),
            StartFile::Empty => Some(Vec::new()),
            StartFile::Absent => None,
        })
    }
}

/// How the case writes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Writers {
    /// Concurrent writers.
    pub count: usize,
    pub rate: Rate,
    /// Read-modify-write: writer 0 updates the token, writer 1 the `{{FIELD}}`.
    pub rmw: bool,
    /// Re-read the target after each write (single writer): a write called
    /// successful must be in the file; after a failed one the file must be whole.
    pub verify: bool,
    /// Trace the writer's file-system calls (ptrace for an external writer,
    /// in-process for a built-in): real write windows and recipes.
    #[serde(default = "yes")]
    pub trace: bool,
    /// Delay injection: hold the writer up to this long at call boundaries
    /// inside its write windows (traced writers only).
    #[serde(default)]
    pub perturb: Option<Duration>,
}

fn yes() -> bool {
    true
}

/// How the case reads.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Readers {
    /// Concurrent readers (at most [`crate::limits::MAX_READERS`]; scenarios
    /// and flags are validated before a case is built).
    pub count: usize,
    /// Readers take `flock(LOCK_SH)` before reading.
    pub lock: bool,
    /// When the clients read and when they reuse a token.
    pub profile: Profile,
    /// Readers run as processes instead of threads.
    pub procs: bool,
    /// Whether readers read back to back or wait for a write window.
    #[serde(default)]
    pub pace: Pace,
}

/// When torn's readers read (DESIGN's reader profiles say what the client
/// does with what it read; the pace says when torn asks).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Pace {
    /// Back to back, on every core they get: the most reads per second,
    /// for writers that write back to back.
    #[default]
    Spin,
    /// Idle until a write window opens (the traced writer is held at the
    /// entry of its first mutating call until a reader has begun a read),
    /// then read back to back until it closes; one read every few
    /// milliseconds in between. A writer that spends most of its time
    /// starting up (a process per write) gets the CPU between its windows,
    /// and every window is read.
    Wait,
}

impl Pace {
    pub fn name(self) -> &'static str {
        match self {
            Pace::Spin => "spin",
            Pace::Wait => "wait",
        }
    }
}

/// A fault and when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultPlan {
    pub fault: Fault,
    pub after: Duration,
}

/// Where a case runs: paths of the scratch directory, and the torn
/// executable helper processes are started from.
#[derive(Debug, Clone)]
pub struct CaseEnv {
    /// The scratch HOME holding the target.
    pub home: PathBuf,
    /// The case directory (writer logs, the board), outside HOME.
    pub log_dir: PathBuf,
    /// The torn executable reader and writer processes run.
    pub exe: Option<PathBuf>,
}

/// The document a case writes and judges, as helper processes receive it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub format: Format,
    /// Where the template came from (a built-in name or a path).
    pub origin: String,
    pub text: String,
    pub client_key: String,
    pub seed: u64,
    /// See [`Classifier::grace`].
    pub grace: u64,
    /// Judge by meaning, ignoring these fields (a learned shape whose bytes
    /// vary between writes); `None`: by exact bytes only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volatile: Option<Vec<String>>,
}

impl Document {
    pub fn of(c: &Classifier) -> Self {
        Self {
            format: c.template.format,
            origin: c.template.origin.clone(),
            text: c.template.text().to_string(),
            client_key: c.template.client_key.clone(),
            seed: c.codec.seed(),
            grace: c.grace,
            volatile: c.semantic.as_ref().map(|s| s.volatile.clone()),
        }
    }

    pub fn classifier(&self) -> anyhow::Result<Classifier> {
        let t = Template::new(&self.origin, self.format, &self.client_key, &self.text)?;
        let c = Classifier::new(t, TokenCodec::new(self.seed), self.grace);
        match &self.volatile {
            Some(v) => c.semantic(v.clone()).map_err(anyhow::Error::msg),
            None => Ok(c),
        }
    }
}

/// What a killed-writer trial's writer process runs: `torn __writer --job FILE`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WriterJob {
    pub subject: SubjectSpec,
    pub target: PathBuf,
    pub document: Document,
}

/// Writes a job file for a helper process.
pub fn write_job<T: Serialize>(path: &Path, job: &T) -> std::io::Result<()> {
    std::fs::write(path, serde_json::to_vec(job).map_err(std::io::Error::other)?)
}

/// Reads a job file (in the helper process).
pub fn read_job<T: for<'de> Deserialize<'de>>(path: &Path) -> anyhow::Result<T> {
    let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("reading job {}: {e}", path.display()))?;
    Ok(serde_json::from_slice(&bytes)?)
}

impl std::fmt::Display for FaultPlan {
    /// `read-only-dir after 200ms`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} after {}",
            self.fault.name(),
            humantime::format_duration(self.after)
        )
    }
}

/// A fault to inject (what it does: [`crate::engine::fault`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    ReadOnlyDir,
    FullDisk,
}

/// How the client behind a reader uses the file (DESIGN's reader profiles).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// Read and parse on every call (Hermes).
    #[default]
    Reread,
    /// Read once at start-up and use that token for every call (most CLIs):
    /// never sees a write window, but keeps a token that may be revoked.
    Cached,
    /// Re-read only when the file's inode, size or mtime changed: a read
    /// that caught a write window is reused until the file changes again.
    MtimeCached,
}

/// A write rate: `max` (back to back) or `<number>hz` per writer (parsed
/// and printed in [`crate::scenario`]).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Rate(pub Option<f64>);
