//! Subjects: what writes the target during a case.
//!
//! A subject is either a built-in [`Strategy`](crate::strategy::Strategy) or
//! an external writer — the user's own program, judged black-box through a
//! per-write command ([`command`]) or a persistent line protocol ([`stdio`]).
//! The engine sees only [`Subject`] and [`SubjectWriter`].

pub mod command;
pub mod line;
mod process;
pub mod stdio;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::strategy::{Expect, Setup, Strategy};

/// Where a writer works.
#[derive(Debug, Clone)]
pub struct WriterCtx {
    /// The target file.
    pub target: PathBuf,
    /// The scratch HOME (`HOME` for external writers).
    pub home: PathBuf,
    /// A directory for the writer's logs, outside HOME.
    pub log_dir: PathBuf,
    /// Index of this writer among the case's writers.
    pub index: usize,
}

/// Why one write did not commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteFailure {
    /// The subject reported the failure (an I/O error, a non-zero exit, an
    /// `err` line): a write error, counted, and the run goes on.
    Reported(String),
    /// The subject is broken (hung, crashed, answered garbage, exited): the
    /// case stops and the run ends with a subject error.
    Broken(String),
}

/// What writes the target.
pub trait Subject: Send + Sync {
    /// Name shown in tables (`naive-truncate`, `writer-stdio: python3 rotate.py`).
    fn name(&self) -> String;

    /// Starts one writer (for an external writer: the process, if persistent).
    fn start<'a>(&'a self, ctx: &WriterCtx) -> Result<Box<dyn SubjectWriter + 'a>, String>;

    /// What the subject promises readers under `setup`.
    fn expect(&self, setup: &Setup) -> Expect;
}

/// One running writer of a subject, owned by one writer thread.
pub trait SubjectWriter: Send {
    /// Installs `token` (whose whole file is `bytes`) in the target.
    fn write(&mut self, token: &str, bytes: &[u8]) -> Result<(), WriteFailure>;

    /// Stops the writer (ending and reaping any process) and returns the
    /// tail of what it wrote on stderr, if anything.
    fn finish(self: Box<Self>) -> Option<String>;

    /// The lock the subject holds across a read-modify-write, if any.
    fn update_lock(&mut self) -> std::io::Result<Option<crate::strategy::UpdateLock>> {
        Ok(None)
    }

    /// Whether this writer's mutation windows come from its trace (opened
    /// and closed on [`crate::engine::Shared`] as its system calls happen).
    /// An untraced writer's whole write counts as one window.
    fn traced(&self) -> bool {
        false
    }
}

/// A built-in strategy as a subject.
pub struct BuiltIn(pub Box<dyn Strategy>);

impl Subject for BuiltIn {
    fn name(&self) -> String {
        self.0.name().to_string()
    }

    fn start<'a>(&'a self, ctx: &WriterCtx) -> Result<Box<dyn SubjectWriter + 'a>, String> {
        Ok(Box::new(BuiltInWriter {
            strategy: self,
            target: ctx.target.clone(),
        }))
    }

    fn expect(&self, setup: &Setup) -> Expect {
        self.0.expect(setup)
    }
}

struct BuiltInWriter<'a> {
    strategy: &'a BuiltIn,
    target: PathBuf,
}

impl SubjectWriter for BuiltInWriter<'_> {
    fn write(&mut self, _token: &str, bytes: &[u8]) -> Result<(), WriteFailure> {
        self.strategy
            .0
            .write(&self.target, bytes)
            .map_err(|e| WriteFailure::Reported(e.to_string()))
    }

    fn finish(self: Box<Self>) -> Option<String> {
        None
    }

    fn update_lock(&mut self) -> std::io::Result<Option<crate::strategy::UpdateLock>> {
        self.strategy.0.update_lock(&self.target)
    }
}

/// How an external writer's command line is run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExternalSpec {
    /// The command, with `{token}`, `{path}` and `{home}` placeholders.
    pub command: String,
    /// Run through `sh -c` instead of splitting into words.
    pub shell: bool,
    /// Longest a single write may take before the writer counts as hung.
    pub timeout: Duration,
}

/// Substitutes the placeholders in one word of a command.
pub(crate) fn substitute(word: &str, token: &str, path: &Path, home: &Path) -> String {
    word.replace("{token}", token)
        .replace("{path}", &path.display().to_string())
        .replace("{home}", &home.display().to_string())
}

/// A subject as configured (in a scenario entry or on the gate's command line).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SubjectSpec {
    /// A built-in strategy.
    Strategy {
        name: String,
        params: crate::strategy::Params,
    },
    /// `--writer-cmd`: one process per write.
    Command(ExternalSpec),
    /// `--writer-stdio`: one persistent process per writer, one line per write.
    Stdio(ExternalSpec),
}

impl SubjectSpec {
    /// The default label in tables.
    pub fn label(&self) -> String {
        match self {
            SubjectSpec::Strategy { name, .. } => name.clone(),
            SubjectSpec::Command(s) => format!("writer-cmd: {}", s.command),
            SubjectSpec::Stdio(s) => format!("writer-stdio: {}", s.command),
        }
    }

    /// Whether the subject is the user's own program (whose shape torn learns).
    pub fn is_external(&self) -> bool {
        !matches!(self, SubjectSpec::Strategy { .. })
    }

    /// Builds the subject. Strategy names were checked while parsing.
    pub fn build(&self) -> Box<dyn Subject> {
        match self {
            SubjectSpec::Strategy { name, params } => Box::new(BuiltIn(
                crate::strategy::build(name, params).expect("strategy names are validated"),
            )),
            SubjectSpec::Command(s) => Box::new(command::PerWriteCommand(s.clone())),
            SubjectSpec::Stdio(s) => Box::new(stdio::LineProtocol(s.clone())),
        }
    }
}

/// The argument vector of an external program that takes no token (a reader).
pub fn process_argv(spec: &ExternalSpec, ctx: &WriterCtx) -> Result<Vec<String>, String> {
    process::argv(spec, "", ctx)
}
