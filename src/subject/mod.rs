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
use std::sync::Arc;
use std::time::Duration;

use crate::strategy::{Expect, Setup, Strategy};
use crate::trace::Recording;

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

    /// [`start`](Self::start), with every file-system call the writer makes
    /// on the paths `rec` watches recorded into `rec` while it runs:
    /// in-process for a built-in strategy, with ptrace for an external
    /// writer (each process of a per-write command, and everything it
    /// starts). Where tracing is not possible the writer runs untraced and
    /// `rec`'s summary says why; the case goes on.
    fn start_traced<'a>(
        &'a self,
        ctx: &WriterCtx,
        rec: Arc<Recording>,
    ) -> Result<Box<dyn SubjectWriter + 'a>, String> {
        rec.note_untraced(format!("{}: this subject cannot be traced", self.name()));
        self.start(ctx)
    }

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

    /// Where in the writer's own source the calls behind recipe findings
    /// were made, by finding name (`truncates-target` →
    /// `cli_auth.py:97 in _update_hermes`), as the writer told it (the
    /// line protocol's `ok # where …` notes). Shown beside the findings the
    /// trace made; never a finding by itself.
    fn sources(&self) -> std::collections::BTreeMap<String, String> {
        std::collections::BTreeMap::new()
    }

    /// The lock the subject holds across a read-modify-write, if any.
    fn update_lock(&mut self) -> std::io::Result<Option<crate::strategy::UpdateLock>> {
        Ok(None)
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
            rec: None,
        }))
    }

    fn start_traced<'a>(
        &'a self,
        ctx: &WriterCtx,
        rec: Arc<Recording>,
    ) -> Result<Box<dyn SubjectWriter + 'a>, String> {
        Ok(Box::new(BuiltInWriter {
            strategy: self,
            target: ctx.target.clone(),
            rec: Some(rec),
        }))
    }

    fn expect(&self, setup: &Setup) -> Expect {
        self.0.expect(setup)
    }
}

struct BuiltInWriter<'a> {
    strategy: &'a BuiltIn,
    target: PathBuf,
    /// Where the strategy's calls are recorded, if traced.
    rec: Option<Arc<Recording>>,
}

impl SubjectWriter for BuiltInWriter<'_> {
    fn write(&mut self, _token: &str, bytes: &[u8]) -> Result<(), WriteFailure> {
        let s = &self.strategy.0;
        match &self.rec {
            Some(rec) => s.write_recorded(&self.target, bytes, &**rec),
            None => s.write(&self.target, bytes),
        }
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::trace::render::brief;
    use crate::trace::{Recording, TraceSpec};

    /// Writes `dir/config.yaml`, logs outside `dir` (as the engine does).
    fn ctx(dir: &Path) -> WriterCtx {
        WriterCtx {
            target: dir.join("config.yaml"),
            home: dir.to_path_buf(),
            log_dir: std::env::temp_dir(),
            index: 0,
        }
    }

    fn steps(rec: &Recording, dir: &Path) -> Vec<String> {
        rec.snapshot()
            .iter()
            .map(|e| brief(e, |p| p.strip_prefix(dir).unwrap_or(p).display().to_string()))
            .collect()
    }

    fn have_python(test: &str) -> bool {
        let found = std::process::Command::new("python3")
            .arg("-c")
            .arg("")
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            eprintln!("SKIP {test}: python3 is not installed");
        }
        found
    }

    fn traceable(test: &str) -> bool {
        crate::trace::ptrace::available()
            .map_err(|why| eprintln!("SKIP {test}: {why}"))
            .is_ok()
    }

    #[test]
    fn a_traced_per_write_command_records_every_process_of_every_write() {
        if !traceable("a_traced_per_write_command_records_every_process_of_every_write") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let subject = command::PerWriteCommand(ExternalSpec {
            command: "printf %s {token} > {path}.tmp && mv {path}.tmp {path}".into(),
            shell: true,
            timeout: Duration::from_secs(10),
        });
        let rec = Recording::new(&TraceSpec::new(vec![d.to_path_buf()]));
        let mut w = subject.start_traced(&ctx(d), rec.clone()).unwrap();
        w.write("one", b"").unwrap();
        w.write("two", b"").unwrap();
        assert!(w.finish().is_none());
        let once = [
            "open(config.yaml.tmp, O_WRONLY|O_CREAT|O_TRUNC, 0666)",
            "close(config.yaml.tmp)",
            "write(config.yaml.tmp)",
            "close(config.yaml.tmp)",
            "rename(config.yaml.tmp, config.yaml)",
        ];
        // Failed calls left out: GNU mv over an existing target first tries
        // renameat2(RENAME_NOREPLACE) (EEXIST), other versions do not.
        let ok: Vec<String> = steps(&rec, d)
            .into_iter()
            .filter(|s| !s.contains(" = -"))
            .collect();
        assert_eq!(ok, [once, once].concat());
        let s = rec.summary();
        assert!(s.ptrace && s.untraced.is_none() && s.processes >= 4, "{s:?}");
        assert_eq!(std::fs::read(d.join("config.yaml")).unwrap(), b"two");
    }

    #[test]
    fn a_traced_line_protocol_writer_records_its_writes() {
        let test = "a_traced_line_protocol_writer_records_its_writes";
        if !traceable(test) || !have_python(test) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let script = d.join("rotate.py");
        std::fs::write(
            &script,
            "import os, sys\n\
             for line in sys.stdin:\n\
             \x20   p = os.environ['TORN_TARGET']\n\
             \x20   with open(p + '.tmp', 'w') as f:\n\
             \x20       f.write(line.strip())\n\
             \x20   os.replace(p + '.tmp', p)\n\
             \x20   print('ok', flush=True)\n",
        )
        .unwrap();
        let subject = stdio::LineProtocol(ExternalSpec {
            command: format!("python3 -I {}", script.display()),
            shell: false,
            timeout: Duration::from_secs(10),
        });
        let rec = Recording::new(&TraceSpec::new(vec![d.join("home")]));
        std::fs::create_dir(d.join("home")).unwrap();
        let c = WriterCtx {
            target: d.join("home/config.yaml"),
            home: d.join("home"),
            log_dir: d.to_path_buf(),
            index: 0,
        };
        let mut w = subject.start_traced(&c, rec.clone()).unwrap();
        w.write("one", b"").unwrap();
        w.write("two", b"").unwrap();
        w.finish();
        let once = [
            "open(home/config.yaml.tmp, O_WRONLY|O_CREAT|O_TRUNC, 0666)",
            "write(home/config.yaml.tmp)",
            "close(home/config.yaml.tmp)",
            "rename(home/config.yaml.tmp, home/config.yaml)",
        ];
        assert_eq!(steps(&rec, d), [once, once].concat());
        assert_eq!(std::fs::read(&c.target).unwrap(), b"two");
    }

    #[test]
    fn a_traced_builtin_records_in_process() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let subject = SubjectSpec::Strategy {
            name: "naive-truncate".into(),
            params: Default::default(),
        }
        .build();
        let rec = Recording::new(&TraceSpec::new(vec![d.to_path_buf()]));
        let mut w = subject.start_traced(&ctx(d), rec.clone()).unwrap();
        w.write("t", b"token: 1\n").unwrap();
        assert_eq!(
            steps(&rec, d),
            [
                "open(config.yaml, O_WRONLY|O_CREAT|O_TRUNC, 0666)",
                "write(config.yaml)",
                "close(config.yaml)"
            ]
        );
        let s = rec.summary();
        assert!(s.in_process && !s.ptrace);
    }
}
