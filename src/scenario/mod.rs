//! Scenario files: a YAML description of a run.
//!
//! ```yaml
//! name: hermes-rotation
//! format: yaml              # yaml | json | dotenv | ini
//! template: hermes          # a built-in template, or a file path (relative to the scenario)
//! duration: 3s              # per strategy; with `reads`, an upper bound
//! seed: 42
//! writers: 1
//! readers: 2
//! write_rate: max           # or e.g. 200hz (per writer)
//! strategies:
//!   - strategy: naive-truncate
//!   - strategy: naive-chunked
//!     chunks: 4
//!   - strategy: flock-guarded
//!     label: flock-guarded+locking-readers
//!     reader_lock: true
//!   - writer_stdio: python3 examples/writers/durable.py   # the user's own writer
//! ```
//!
//! Unknown keys and bad values are errors that name the file, line and column.
//! Every top-level default can be overridden per strategy entry.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

pub mod requires;
mod values;
pub use requires::Skipped;
use values::octal;
pub use values::{Dur, Rate};

use crate::format::{self, Format, Template};
use crate::strategy::{self, Expect, Params, Setup};
use crate::subject::{ExternalSpec, SubjectSpec};

/// A scenario file, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name, used in report directory names.
    pub name: String,
    /// What this scenario reproduces, in a sentence or two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub format: Format,
    /// A built-in template name, or a path to a file with `{{TOKEN}}` slots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Dotted key the client reads the token from (built-ins know theirs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key: Option<String>,
    /// Target path relative to the scratch HOME (built-ins know theirs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Octal mode the target is created with, e.g. "0600".
    #[serde(default = "default_mode", with = "octal")]
    pub target_mode: u32,
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default = "default_duration")]
    pub duration: Dur,
    /// Total reads per strategy; the run of a strategy ends at whichever of
    /// `reads` and `duration` comes first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reads: Option<u64>,
    #[serde(default = "one")]
    pub writers: NonZeroUsize,
    #[serde(default = "two")]
    pub readers: NonZeroUsize,
    #[serde(default)]
    pub reader_lock: bool,
    /// How the clients read: `reread` (every call, like Hermes), `cached`
    /// (once at start-up), `mtime-cached` (again when the file changed).
    #[serde(default)]
    pub reader_profile: crate::engine::Profile,
    /// When torn's readers read: `spin` (back to back) or `wait` (idle
    /// until a write window opens, which holds the writer until a read has
    /// begun). Default: `wait` for a traced writer command (a process per
    /// write, whose start-up the readers would otherwise slow), `spin`
    /// otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader_pace: Option<crate::case::Pace>,
    /// Run readers as separate processes (real clients are processes;
    /// POSIX locks are per process) instead of threads.
    #[serde(default)]
    pub reader_procs: bool,
    /// Two writers do read-modify-write of different fields of the file: the
    /// rotator changes the token, a setup step the `{{FIELD}}` value (use a
    /// template with a `{{FIELD}}` slot, e.g. `hermes-two-fields`). Shows lost
    /// updates. Built-in strategies only.
    #[serde(default)]
    pub rmw: bool,
    /// Trace the writer's file-system calls (default true): write windows
    /// and recipes come from what the writer really did. `false` counts
    /// each whole write as a window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<bool>,
    /// Delay injection: hold a traced writer up to this long (e.g. `200us`)
    /// at call boundaries inside its write windows, with holds drawn from
    /// the seed, to widen rare races.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perturb: Option<Dur>,
    /// Make the target a symlink to a file elsewhere (a dotfiles checkout)
    /// and report whether the link survives and the linked file is updated.
    #[serde(default)]
    pub target_symlink: bool,
    /// Scan the target's directory every millisecond during the run for a
    /// widened target mode and for group/other-readable files holding a token.
    #[serde(default)]
    pub watch_modes: bool,
    /// After each strategy's run, kill its writer with SIGKILL at this many
    /// random (seeded) instants, and check after each kill that the target is
    /// whole and no temp file was left (built-in and `writer_stdio` subjects).
    #[serde(default)]
    pub kill_trials: u64,
    /// Inject a real fault mid-run: `read-only-dir` (the target's directory
    /// becomes read-only) or `full-disk` (its filesystem fills up; needs a
    /// small filesystem such as harness/fs.sh's tmpfs-small).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<crate::engine::fault::Fault>,
    /// When the fault starts, after the writers and readers do (default 200ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_after: Option<Dur>,
    /// Re-read the target after every write (one writer only): a write the
    /// subject called successful must be in the file ("swallowed write
    /// error" otherwise), and after a failed one the file must be whole. On by
    /// default with a fault or an external writer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_writes: Option<bool>,
    /// The real client as an extra reader: a program that answers each `read`
    /// line with the token it would use, or `err <reason>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader_stdio: Option<String>,
    /// What the real client (the `reader_stdio` program's client) does with
    /// what it read, in its own words; its calls are then counted by what
    /// they would come to for its user ("npm would send no token (401)").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<crate::client::ClientProfile>,
    /// Commands the scenario runs (a real tool, its client): where one is
    /// not on PATH, the scenario is skipped (exit 77), not run.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "requires::commands"
    )]
    pub requires: Vec<String>,
    /// Longest one external write or read may take (default 10s); entries may override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_timeout: Option<Dur>,
    #[serde(default)]
    pub write_rate: Rate,
    /// Model token revocation: a token is revoked once more than this many
    /// newer versions have been committed. Unset (the default), tokens are
    /// not revoked during a run, so would-403 counts exactly the reads whose
    /// token is absent or not whole. (At a maximal write rate a small value
    /// makes "revoked at the moment of use" depend on scheduler delays.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_grace: Option<u64>,
    /// Anomalous reads kept as evidence, per outcome and strategy.
    #[serde(default = "default_evidence")]
    pub evidence: usize,
    /// What the target holds before an external writer's first write: a
    /// file (relative to the scenario), `empty`, or `absent` (the writer
    /// creates it). Default: the template's version 0. The writer's own
    /// format is learned from its warm-up writes either way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed_file: Option<String>,
    /// Fields (dotted paths, e.g. `meta.updated_at`) an external writer
    /// changes on every write, not compared when reads are judged by
    /// meaning. Default: found during the warm-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volatile: Option<Vec<String>>,
    pub strategies: Vec<CaseEntry>,
    /// Set when torn guessed `format` (a gate without `--format`): an
    /// external writer's file that format does not fit is judged as raw
    /// bytes. Never read from a scenario file, whose `format:` is given.
    #[serde(skip)]
    pub format_guessed: bool,
}

/// One entry of `strategies:`: a strategy and any overrides.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseEntry {
    /// A built-in strategy; or else one of `writer_cmd` / `writer_stdio`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<StrategyName>,
    /// An external writer run once per write, `{token}`, `{path}`, `{home}` substituted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer_cmd: Option<String>,
    /// An external writer speaking the line protocol (token in, `ok`/`err` out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer_stdio: Option<String>,
    /// Run the writer command through `sh -c`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<bool>,
    /// Longest one external write may take before the writer counts as hung.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_timeout: Option<Dur>,
    /// Name shown in tables (defaults to the strategy name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// `write` calls per version, for `naive-chunked`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<NonZeroUsize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writers: Option<NonZeroUsize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readers: Option<NonZeroUsize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader_lock: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader_profile: Option<crate::engine::Profile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader_pace: Option<crate::case::Pace>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader_procs: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rmw: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_rate: Option<Rate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Dur>,
    /// Override what the strategy promises (`clean`, `anomalies`, `any`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
    /// Why this entry expects what it does, printed with its verdict. With
    /// `expect: anomalies` it marks a known flaw the scenario demonstrates
    /// (not a positive control): anomalies are then `expected`, not a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_reason: Option<String>,
    /// Fields this entry's writer changes on every write (see the top-level `volatile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volatile: Option<Vec<String>>,
}

fn default_mode() -> u32 {
    0o600
}
fn default_seed() -> u64 {
    1
}
fn default_duration() -> Dur {
    Dur(Duration::from_secs(2))
}
fn one() -> NonZeroUsize {
    NonZeroUsize::MIN
}
fn two() -> NonZeroUsize {
    NonZeroUsize::new(2).expect("2 is non-zero")
}
fn default_evidence() -> usize {
    3
}

/// A strategy name checked against the registry while parsing, so a typo
/// is reported at its line and column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct StrategyName(pub String);

impl<'de> Deserialize<'de> for StrategyName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if strategy::build(&s, &Params::default()).is_none() {
            return Err(serde::de::Error::custom(format!(
                "unknown strategy `{s}`; expected one of: {}",
                strategy::names().join(", ")
            )));
        }
        Ok(StrategyName(s))
    }
}

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario file {path}")]
    Read { path: String, source: std::io::Error },
    #[error("scenario file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("{}", invalid_message(path, field, message))]
    Invalid {
        path: String,
        field: &'static str,
        message: String,
    },
    #[error("scenario file {path}")]
    Template {
        path: String,
        source: format::TemplateError,
    },
}

/// The origin of a scenario built from command-line flags (the gate, the
/// overrides of `run`): its errors name the flag, not a field of a file.
pub const COMMAND_LINE: &str = "command line";

fn invalid_message(path: &str, field: &str, message: &str) -> String {
    if path == COMMAND_LINE {
        format!("--{}: {message}", field.replace('_', "-"))
    } else {
        format!("scenario file {path}: field `{field}`: {message}")
    }
}

impl Scenario {
    /// Parses scenario text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ScenarioError> {
        serde_saphyr::from_str::<Scenario>(text).map_err(|e| ScenarioError::Parse {
            path: origin.to_string(),
            // The parser's snippet calls the text `<input>`: name the file.
            // Its advice on duplicate keys is for programmers, not users.
            message: e.to_string().replace("<input>", origin).replace(
                ", set DuplicateKeyPolicy in Options if acceptable",
                " (each field may appear once)",
            ),
        })
    }

    /// Loads a scenario file.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let text = crate::limits::read_text(path, crate::limits::MAX_SCENARIO_BYTES, "scenario file")
            .map_err(|source| ScenarioError::Read {
                path: path.display().to_string(),
                source,
            })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The template this scenario writes. `base` is the scenario file's
    /// directory, against which a template path is resolved.
    pub fn template(&self, origin: &str, base: &Path) -> Result<Template, ScenarioError> {
        let name = self
            .template
            .clone()
            .unwrap_or_else(|| self.format.default_template().to_string());
        let wrap = |source| ScenarioError::Template {
            path: origin.to_string(),
            source,
        };
        if let Some(b) = format::builtin(&name) {
            if b.format != self.format {
                return Err(ScenarioError::Invalid {
                    path: origin.to_string(),
                    field: "template",
                    message: format!(
                        "built-in template `{name}` is {}, but `format` is {}",
                        b.format.name(),
                        self.format.name()
                    ),
                });
            }
            let key = self.client_key.as_deref().unwrap_or(b.client_key);
            return Template::new(b.name, b.format, key, b.text).map_err(wrap);
        }
        if !base.join(&name).exists() {
            return Err(ScenarioError::Invalid {
                path: origin.to_string(),
                field: "template",
                message: format::no_such_template(&name),
            });
        }
        let Some(key) = self.client_key.as_deref() else {
            return Err(ScenarioError::Invalid {
                path: origin.to_string(),
                field: "client_key",
                message: format!(
                    "`{name}` is not a built-in template ({}), so it is read as a file, and then `client_key` is required",
                    format::BUILTINS
                        .iter()
                        .map(|b| b.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        };
        Template::from_file(&base.join(&name), self.format, key).map_err(wrap)
    }

    /// The target path relative to the scratch HOME.
    pub fn target_rel(&self) -> PathBuf {
        let name = self.template.as_deref().unwrap_or(self.format.default_template());
        let default = format::builtin(name).map_or("config", |b| b.default_target);
        PathBuf::from(self.target.as_deref().unwrap_or(default))
    }

    /// Checks what parsing alone cannot (the target stays inside the scratch
    /// directory; there is something to run).
    pub fn validate(&self, origin: &str) -> Result<(), ScenarioError> {
        let invalid = |field, message: String| ScenarioError::Invalid {
            path: origin.to_string(),
            field,
            message,
        };
        let target = self.target_rel();
        if target.is_absolute()
            || target
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(invalid(
                "target",
                format!(
                    "`{}` must be a relative path inside the scratch HOME, without `..`",
                    target.display()
                ),
            ));
        }
        if self.strategies.is_empty() {
            return Err(invalid("strategies", "list at least one strategy".into()));
        }
        if let Some(problem) = self.requires.iter().find_map(|r| requires::entry_problem(r)) {
            return Err(invalid("requires", problem));
        }
        if let Some(client) = &self.client {
            if self.reader_stdio.is_none() {
                return Err(invalid(
                    "client",
                    format!(
                        "says what {} does with what it read, but no `reader_stdio` runs it: give the adapter that answers each `read` with the token {} would use",
                        client.name, client.name
                    ),
                ));
            }
            if let Some(problem) = client.problem() {
                return Err(invalid("client", problem));
            }
        }
        use crate::limits::{MAX_DURATION, MAX_EVIDENCE, MAX_READERS, MAX_WRITERS};
        let over = |what: &str, n: usize, max: usize| format!("{n} {what}: torn runs at most {max} per case");
        let check_counts = |readers: Option<usize>, writers: Option<usize>, entry: String| {
            if let Some(r) = readers.filter(|&r| r > MAX_READERS) {
                return Err(invalid(
                    "readers",
                    format!("{entry}{}", over("readers", r, MAX_READERS)),
                ));
            }
            if let Some(w) = writers.filter(|&w| w > MAX_WRITERS) {
                return Err(invalid(
                    "writers",
                    format!("{entry}{}", over("writers", w, MAX_WRITERS)),
                ));
            }
            Ok(())
        };
        check_counts(Some(self.readers.get()), Some(self.writers.get()), String::new())?;
        if self.evidence > MAX_EVIDENCE {
            return Err(invalid(
                "evidence",
                format!(
                    "{} anomalous reads kept per outcome: at most {MAX_EVIDENCE}",
                    self.evidence
                ),
            ));
        }
        if self.duration.0 > MAX_DURATION {
            return Err(invalid(
                "duration",
                format!(
                    "{:?} is longer than torn runs a case ({MAX_DURATION:?})",
                    self.duration.0
                ),
            ));
        }
        use crate::limits::{MAX_KILL_TRIALS, MAX_PERTURB};
        if let Some(p) = self.perturb.filter(|p| p.0 > MAX_PERTURB) {
            return Err(invalid(
                "perturb",
                format!(
                    "holds of {:?}: torn holds a writer at most {MAX_PERTURB:?} at a time (holds widen a window by microseconds)",
                    p.0
                ),
            ));
        }
        if self.kill_trials > MAX_KILL_TRIALS {
            return Err(invalid(
                "kill_trials",
                format!(
                    "{} trials: torn runs at most {MAX_KILL_TRIALS} per case",
                    self.kill_trials
                ),
            ));
        }
        for (i, e) in self.strategies.iter().enumerate() {
            check_counts(
                e.readers.map(NonZeroUsize::get),
                e.writers.map(NonZeroUsize::get),
                format!("entry {}: ", i + 1),
            )?;
            if e.duration.is_some_and(|d| d.0 > MAX_DURATION) {
                return Err(invalid(
                    "duration",
                    format!("entry {}: longer than {MAX_DURATION:?}", i + 1),
                ));
            }
            if e.rmw.unwrap_or(self.rmw) && e.strategy.is_none() {
                return Err(invalid(
                    "rmw",
                    format!(
                        "entry {}: read-modify-write runs take built-in strategies only",
                        i + 1
                    ),
                ));
            }
            let profile = e.reader_profile.unwrap_or(self.reader_profile);
            if e.reader_pace.or(self.reader_pace) == Some(crate::case::Pace::Wait)
                && profile != crate::engine::Profile::Reread
            {
                return Err(invalid(
                    "reader_pace",
                    format!(
                        "entry {}: `wait` needs reader_profile `reread` (a {} client does not read when a window opens)",
                        i + 1,
                        profile.name()
                    ),
                ));
            }
            let given = [
                e.strategy.is_some(),
                e.writer_cmd.is_some(),
                e.writer_stdio.is_some(),
            ];
            if given.iter().filter(|g| **g).count() != 1 {
                return Err(invalid(
                    "strategies",
                    format!(
                        "entry {} must give exactly one of `strategy`, `writer_cmd`, `writer_stdio`",
                        i + 1
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Every entry with defaults applied (call [`Scenario::validate`] first),
    /// a seed file taken relative to the working directory.
    pub fn cases(&self) -> Vec<crate::case::Case> {
        self.cases_at(Path::new(""))
    }

    /// Every entry with defaults applied, a seed file relative to `base`
    /// (the scenario file's directory).
    pub fn cases_at(&self, base: &Path) -> Vec<crate::case::Case> {
        self.strategies.iter().map(|e| self.case(e, base)).collect()
    }

    fn case(&self, e: &CaseEntry, base: &Path) -> crate::case::Case {
        use crate::case::{Case, FaultPlan, Readers, ShapeSettings, StartFile, Writers};
        let params = Params {
            chunks: e.chunks.map_or(Params::default().chunks, NonZeroUsize::get),
        };
        let external = |command: &String| ExternalSpec {
            command: command.clone(),
            shell: e.shell.unwrap_or(false),
            timeout: e
                .write_timeout
                .or(self.write_timeout)
                .map_or(DEFAULT_WRITE_TIMEOUT, |d| d.0),
        };
        let subject = match (&e.strategy, &e.writer_cmd, &e.writer_stdio) {
            (Some(name), _, _) => SubjectSpec::Strategy {
                name: name.0.clone(),
                params,
            },
            (None, Some(cmd), _) => SubjectSpec::Command(external(cmd)),
            (None, None, Some(cmd)) => SubjectSpec::Stdio(external(cmd)),
            (None, None, None) => unreachable!("validate() requires one subject per entry"),
        };
        let rmw = e.rmw.unwrap_or(self.rmw);
        // A read-modify-write run has exactly two writers: the rotator (token)
        // and the setup step ({{FIELD}}).
        let writers = if rmw {
            2
        } else {
            e.writers.unwrap_or(self.writers).get()
        };
        let reader_lock = e.reader_lock.unwrap_or(self.reader_lock);
        let expect = e.expect.unwrap_or_else(|| {
            subject.build().expect(&Setup {
                writers,
                readers_lock: reader_lock,
                rmw,
            })
        });
        let external_subject = !matches!(subject, SubjectSpec::Strategy { .. });
        let profile = e.reader_profile.unwrap_or(self.reader_profile);
        let pace = e.reader_pace.or(self.reader_pace).unwrap_or(
            // Untraced, a command's window is its whole run: nothing to wait for.
            if matches!(subject, SubjectSpec::Command(_))
                && profile == crate::engine::Profile::Reread
                && self.trace.unwrap_or(true)
            {
                crate::case::Pace::Wait
            } else {
                crate::case::Pace::Spin
            },
        );
        Case {
            label: e.label.clone().unwrap_or_else(|| subject.label()),
            subject,
            expect,
            expect_reason: e.expect_reason.clone(),
            duration: e.duration.unwrap_or(self.duration).0,
            reads: self.reads,
            writers: Writers {
                count: writers,
                rate: e.write_rate.unwrap_or(self.write_rate),
                rmw,
                trace: self.trace.unwrap_or(true),
                perturb: self.perturb.map(|d| d.0),
                verify: self
                    .verify_writes
                    .unwrap_or(self.fault.is_some() || external_subject),
            },
            readers: Readers {
                count: e.readers.unwrap_or(self.readers).get(),
                lock: reader_lock,
                profile,
                procs: e.reader_procs.unwrap_or(self.reader_procs),
                pace,
            },
            target_mode: self.target_mode,
            target_symlink: self.target_symlink,
            watch_modes: self.watch_modes,
            fault: self.fault.map(|fault| FaultPlan {
                fault,
                after: self.fault_after.map_or(Duration::from_millis(200), |d| d.0),
            }),
            client: self.client.clone(),
            external_reader: self.reader_stdio.as_ref().map(|c| ExternalSpec {
                command: c.clone(),
                shell: false,
                timeout: self.write_timeout.map_or(DEFAULT_WRITE_TIMEOUT, |d| d.0),
            }),
            kill_trials: self.kill_trials,
            evidence: self.evidence,
            shape: ShapeSettings {
                start: self
                    .seed_file
                    .as_deref()
                    .map_or(StartFile::Template, |f| StartFile::parse(f, base)),
                volatile: e.volatile.clone().or_else(|| self.volatile.clone()),
                format_given: !self.format_guessed,
            },
        }
    }
}

impl Scenario {
    /// Skips the scenario (a [`Skipped`] error) when a command it
    /// `requires:` is not on `PATH`. `origin` is where it came from
    /// (`built-in:…` scenarios say where to get their tools).
    pub fn check_requires(&self, origin: &str) -> Result<(), Skipped> {
        let missing = requires::missing(&self.requires, std::env::var_os("PATH").as_deref());
        if missing.is_empty() {
            return Ok(());
        }
        Err(Skipped {
            scenario: self.name.clone(),
            missing,
            hint: origin.starts_with("built-in:").then(|| {
                "install it, or put it on PATH (harness/wild.sh installs the tools of the in-the-wild scenarios into a work directory and runs them)".to_string()
            }),
        })
    }
}

/// Longest one external write may take unless a scenario or flag says otherwise.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "name: t\nformat: yaml\nstrategies:\n  - strategy: naive-truncate\n";

    #[test]
    fn minimal_scenario_gets_defaults() {
        let s = Scenario::parse(MINIMAL, "t.yaml").unwrap();
        assert_eq!(s.readers.get(), 2);
        assert_eq!(s.target_mode, 0o600);
        assert_eq!(s.target_rel(), PathBuf::from(".hermes/config.yaml"));
        let cases = s.cases();
        assert_eq!(cases[0].expect, Expect::Anomalies);
    }

    #[test]
    fn unknown_key_names_line_and_column() {
        let text = "name: t\nformat: yaml\nstrategies:\n  - strategy: naive-truncate\n    chunkz: 3\n";
        let e = Scenario::parse(text, "bad.yaml").unwrap_err().to_string();
        assert!(e.contains("bad.yaml"), "{e}");
        assert!(e.contains("chunkz"), "{e}");
        assert!(e.contains("line 5"), "{e}");
    }

    #[test]
    fn unknown_strategy_lists_the_known_ones() {
        let text = "name: t\nformat: yaml\nstrategies:\n  - strategy: rename-atomic\n";
        let e = Scenario::parse(text, "bad.yaml").unwrap_err().to_string();
        assert!(
            e.contains("unknown strategy `rename-atomic`") && e.contains("rename-durable"),
            "{e}"
        );
        assert!(e.contains("line 4"), "{e}");
    }

    #[test]
    fn bad_values_are_explained() {
        for (text, want) in [
            ("write_rate: fast", "bad write rate"),
            ("duration: soon", "bad duration"),
            ("writers: 0", "writers"),
            ("target_mode: \"999\"", "bad mode"),
            ("format: xml", "xml"),
        ] {
            let doc = format!("name: t\nformat: yaml\nstrategies:\n  - strategy: naive-truncate\n{text}\n")
                .replace(
                    "format: yaml\nstrategies:\n  - strategy: naive-truncate\nformat: xml",
                    "format: xml\nstrategies:\n  - strategy: naive-truncate",
                );
            let e = Scenario::parse(&doc, "bad.yaml").unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn target_outside_scratch_is_refused() {
        let s = Scenario::parse(&format!("{MINIMAL}target: ../../etc/passwd\n"), "t.yaml").unwrap();
        assert!(
            s.validate("t.yaml")
                .unwrap_err()
                .to_string()
                .contains("inside the scratch")
        );
    }

    #[test]
    fn seed_file_and_volatile_reach_the_case() {
        use crate::case::StartFile;
        let text = "name: t\nformat: json\nseed_file: mine.json\nvolatile: [updated_at]\nstrategies:\n  \
                    - writer_stdio: w {path}\n  - writer_stdio: w {path}\n    volatile: [meta.at]\n";
        let s = Scenario::parse(text, "t.yaml").unwrap();
        let cases = s.cases_at(Path::new("/base"));
        assert_eq!(
            cases[0].shape.start,
            StartFile::File(PathBuf::from("/base/mine.json"))
        );
        assert_eq!(cases[0].shape.volatile, Some(vec!["updated_at".to_string()]));
        assert_eq!(cases[1].shape.volatile, Some(vec!["meta.at".to_string()]));
        let absent = Scenario::parse(&text.replace("mine.json", "absent"), "t.yaml").unwrap();
        assert_eq!(absent.cases()[0].shape.start, StartFile::Absent);
    }

    const WITH_CLIENT: &str = "name: t\nformat: raw\ntarget: .npmrc\nreader_stdio: node client.js {path}\n\
                               requires: [npm, node]\nclient:\n  name: npm\n  none: npm would send no token (401)\n\
                               strategies:\n  - writer_cmd: npm config set k {token}\n";

    #[test]
    fn requires_and_client_reach_the_case() {
        let s = Scenario::parse(WITH_CLIENT, "t.yaml").unwrap();
        s.validate("t.yaml").unwrap();
        assert_eq!(s.requires, vec!["npm".to_string(), "node".to_string()]);
        let client = s.cases()[0].client.clone().unwrap();
        assert_eq!(client.name, "npm");
        assert_eq!(
            client.effect(crate::client::ClientOutcome::NoToken),
            "npm would send no token (401)"
        );
        assert_eq!(
            client.effect(crate::client::ClientOutcome::Failed),
            "npm would fail to load its configuration"
        );
    }

    #[test]
    fn a_misspelt_client_field_names_file_line_and_field() {
        let text = WITH_CLIENT.replace("  none:", "  nothing:");
        let e = Scenario::parse(&text, "wild.yaml").unwrap_err().to_string();
        assert!(e.contains("wild.yaml") && e.contains("line 8"), "{e}");
        assert!(e.contains("unknown field `nothing`") && e.contains("none"), "{e}");
        let text = WITH_CLIENT.replace("requires: [npm, node]", "requires: npm");
        let e = Scenario::parse(&text, "wild.yaml").unwrap_err().to_string();
        assert!(e.contains("wild.yaml") && e.contains("line 5"), "{e}");
    }

    #[test]
    fn bad_requires_and_client_are_explained_by_file_line_and_field() {
        let parse_err = |from: &str, to: &str| {
            Scenario::parse(&WITH_CLIENT.replace(from, to), "wild.yaml")
                .unwrap_err()
                .to_string()
        };
        let e = parse_err("[npm, node]", "[npm, \"npm config set\"]");
        assert!(
            e.contains("wild.yaml")
                && e.contains("line 5")
                && e.contains("`requires`: `npm config set` is not a command name"),
            "{e}"
        );
        let e = parse_err("[npm, node]", "[npm, \"\"]");
        assert!(e.contains("line 5") && e.contains("an entry is empty"), "{e}");
        let e = parse_err("name: npm", "name: \" \"");
        assert!(
            e.contains("line 7") && e.contains("`client.name` is empty"),
            "{e}"
        );
        let e = parse_err("none: npm would send no token (401)", "none: \"\"");
        assert!(e.contains("line 8") && e.contains("an empty sentence"), "{e}");
        // What only the whole file can tell: a client with no reader to run it.
        let s = Scenario::parse(
            &WITH_CLIENT.replace("reader_stdio: node client.js {path}\n", ""),
            "wild.yaml",
        )
        .unwrap();
        let e = s.validate("wild.yaml").unwrap_err().to_string();
        assert!(
            e.starts_with("scenario file wild.yaml: field `client`: says what npm does with what it read, but no `reader_stdio` runs it"),
            "{e}"
        );
        // Scenarios built in code are checked by validate() the same way.
        let mut s = Scenario::parse(WITH_CLIENT, "t.yaml").unwrap();
        s.requires = vec!["npm config".into()];
        let e = s.validate("t.yaml").unwrap_err().to_string();
        assert!(
            e.contains("field `requires`: `npm config` is not a command name"),
            "{e}"
        );
        s.requires.clear();
        s.client.as_mut().unwrap().name = String::new();
        let e = s.validate("t.yaml").unwrap_err().to_string();
        assert!(e.contains("field `client`: `name` must name the client"), "{e}");
    }

    #[test]
    fn a_missing_command_skips_the_scenario_and_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let tool = dir.path().join("npm");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        // A file that is there but not executable is not a command.
        std::fs::write(dir.path().join("node"), "").unwrap();
        let path = dir.path().as_os_str();
        assert_eq!(requires::find("npm", Some(path)), Some(tool.clone()));
        assert_eq!(
            requires::missing(
                &["npm".into(), "node".into(), "torn-no-such-tool".into()],
                Some(path)
            ),
            vec!["node".to_string(), "torn-no-such-tool".to_string()]
        );
        assert_eq!(requires::find(tool.to_str().unwrap(), None), Some(tool.clone()));
        let mut s = Scenario::parse(WITH_CLIENT, "t.yaml").unwrap();
        s.requires = vec!["sh".into(), "torn-no-such-tool".into()];
        let skipped = s.check_requires("built-in:npm-token.yaml").unwrap_err();
        assert_eq!(skipped.missing, vec!["torn-no-such-tool".to_string()]);
        let msg = skipped.to_string();
        assert!(
            msg.starts_with("skipped: scenario t needs a command that is not installed: `torn-no-such-tool`"),
            "{msg}"
        );
        assert!(msg.contains("harness/wild.sh"), "{msg}");
        let own = s.check_requires("mine.yaml").unwrap_err().to_string();
        assert!(!own.contains("harness/wild.sh"), "{own}");
        s.requires = vec!["sh".into()];
        s.check_requires("t.yaml").unwrap();
    }

    #[test]
    fn readers_wait_for_a_per_write_command_and_spin_otherwise() {
        use crate::case::Pace;
        let text = "name: t\nformat: yaml\nstrategies:\n  - writer_cmd: w {path} {token}\n  \
                    - writer_stdio: w {path}\n  - strategy: rename-durable\n  \
                    - writer_cmd: w {path} {token}\n    reader_pace: spin\n";
        let s = Scenario::parse(text, "t.yaml").unwrap();
        s.validate("t.yaml").unwrap();
        let paces: Vec<Pace> = s.cases().iter().map(|c| c.readers.pace).collect();
        assert_eq!(paces, [Pace::Wait, Pace::Spin, Pace::Spin, Pace::Spin]);
        let everywhere = Scenario::parse(
            &text.replace("strategies:", "reader_pace: wait\nstrategies:"),
            "t.yaml",
        )
        .unwrap();
        let paces: Vec<Pace> = everywhere.cases().iter().map(|c| c.readers.pace).collect();
        assert_eq!(
            paces,
            [Pace::Wait, Pace::Wait, Pace::Wait, Pace::Spin],
            "an entry's own pace wins"
        );
        let cached = Scenario::parse(
            "name: t\nformat: yaml\nreader_profile: cached\nreader_pace: wait\nstrategies:\n  - strategy: naive-truncate\n",
            "c.yaml",
        )
        .unwrap();
        let e = cached.validate("c.yaml").unwrap_err().to_string();
        assert!(
            e.contains("c.yaml") && e.contains("reader_pace") && e.contains("cached"),
            "{e}"
        );
        let bad = Scenario::parse(&format!("{MINIMAL}reader_pace: slow\n"), "b.yaml")
            .unwrap_err()
            .to_string();
        assert!(bad.contains("reader_pace") || bad.contains("slow"), "{bad}");
    }

    #[test]
    fn every_shipped_scenario_loads_and_round_trips() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let s = Scenario::load(&path).unwrap();
            s.validate("x").unwrap();
            s.template(&path.display().to_string(), &dir).unwrap();
            let again = Scenario::parse(&serde_saphyr::to_string(&s).unwrap(), "round-trip").unwrap();
            assert_eq!(again, s, "{}", path.display());
            n += 1;
        }
        assert!(n >= 5, "expected the shipped scenarios, found {n}");
    }
}
