//! Trace files for `torn crash --trace`: a JSON array of events, or an
//! object that also says what the events cannot.
//!
//! ```json
//! {
//!   "target": "/home/u/.hermes/config.yaml",
//!   "initial_version": 0,
//!   "acks": [[1, 5300], [2, 9100]],
//!   "events": [
//!     {"start_ns": 1000, "end_ns": 1200, "tid": 7, "result": 3,
//!      "call": {"call": "open", "path": "/home/u/.hermes/config.yaml",
//!               "flags": 577, "mode": 438, "fd": 3}},
//!     {"start_ns": 1300, "end_ns": 1500, "tid": 7, "result": 5,
//!      "call": {"call": "write", "path": "/home/u/.hermes/config.yaml",
//!               "fd": 3, "offset": null, "len": 5, "data": "6b65793a0a"}},
//!     ...
//!   ]
//! }
//! ```
//!
//! Every field but `events` may be left out:
//! - `target`: the path most often renamed onto, else the one most written;
//! - `initial_version`: the version the target held, durably, before the
//!   trace (default 0, mode 0600); `null` when it did not exist;
//! - `acks`: `[version, ack_ns]` pairs; when absent they are inferred: a
//!   version is acknowledged at the end of the last event before the
//!   directory next changes after the target first held it whole (the
//!   `fsync`s and `close`s that end a write count, the next write's first
//!   change does not). That fits one writer writing versions in turn; give
//!   `acks` for anything else.
//!
//! A write's payload is `data`, in hex; crash states cannot be built without it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::disk::Image;
use super::model::Model;
use super::ops::{InitialFile, Logical, TraceError};
use crate::classify::Classifier;
use crate::trace::{Call, Event};

/// The schema of trace files torn writes (`torn crash --save-trace`);
/// bumped on an incompatible change. A file without `schema` is read as
/// this version.
pub const SCHEMA: &str = "torn.trace/1";

/// A trace file, with its defaults filled in.
///
/// Version 1 (`"schema": "torn.trace/1"`): `events` (each with `start_ns`,
/// `end_ns`, `tid`, `result` and `call`, as [`Event`] serializes), and
/// optionally `target`, `initial_version`, `acks`, `seed` (the seed whose
/// tokens the writes carry: `torn crash --trace` refuses another) and
/// `source` (what was recorded, for people).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceFile {
    /// [`SCHEMA`]; absent in hand-written files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// What was recorded (`rename-durable`, `writer-stdio: ...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The seed that issued the tokens written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    pub events: Vec<Event>,
    #[serde(default)]
    pub target: Option<PathBuf>,
    #[serde(default = "version_zero")]
    pub initial_version: Option<u64>,
    #[serde(default)]
    pub acks: Option<Vec<(u64, u64)>>,
    /// The writer's own file shape, learned when it was recorded (an
    /// external writer's): states are judged by it on replay, not by
    /// torn's template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<SavedShape>,
}

/// A learned shape as a trace file keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedShape {
    pub format: crate::format::Format,
    pub client_key: String,
    /// The writer's file with `{{TOKEN}}` slots.
    pub text: String,
    /// Fields the writer changes on every write (judged by meaning); absent
    /// when its files were byte-stable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volatile: Option<Vec<String>>,
}

impl SavedShape {
    /// The shape a classifier judges by.
    pub fn of(c: &crate::classify::Classifier) -> Self {
        Self {
            format: c.template.format,
            client_key: c.template.client_key.clone(),
            text: c.template.text(),
            volatile: c.semantic.as_ref().map(|s| s.volatile.clone()),
        }
    }

    /// A classifier judging by this shape, with `codec`'s tokens.
    pub fn classifier(
        &self,
        codec: crate::token::TokenCodec,
        grace: u64,
    ) -> Result<crate::classify::Classifier, String> {
        let t = crate::format::Template::new(crate::shape::ORIGIN, self.format, &self.client_key, &self.text)
            .map_err(|e| format!("its shape: {e}"))?;
        let c = crate::classify::Classifier::new(t, codec, grace);
        match &self.volatile {
            Some(v) => c.semantic(v.clone()).map_err(|e| format!("its shape: {e}")),
            None => Ok(c),
        }
    }
}

fn version_zero() -> Option<u64> {
    Some(0)
}

/// Why a trace file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read trace file {path}")]
    Read { path: PathBuf, source: std::io::Error },
    /// Not `source`: serde's message is part of this one (with its line and
    /// column), and would otherwise be printed twice by `{:#}`.
    #[error(
        "trace file {path}: {error} (expected a JSON array of events, or {{\"events\": [...], ...}}; see `torn help crash`)"
    )]
    Parse { path: PathBuf, error: serde_json::Error },
    #[error(
        "trace file {path}: its writes carry the tokens of seed {recorded}; run with --seed {recorded} (given: {given})"
    )]
    Seed {
        path: PathBuf,
        recorded: u64,
        given: u64,
    },
    #[error("trace file {path}: schema `{found}` is not one this torn reads ({SCHEMA})")]
    Schema { path: PathBuf, found: String },
    #[error("trace file {path}: cannot tell which file is the target (no rename, no write); add \"target\"")]
    NoTarget { path: PathBuf },
    #[error("trace file {path}: {source}")]
    Trace { path: PathBuf, source: TraceError },
}

impl TraceFile {
    /// Reads a trace file: an array of events or a [`TraceFile`] object.
    pub fn load(path: &Path) -> Result<Self, InputError> {
        // Non-blocking, regular files only, at most the cap: a FIFO or
        // /dev/zero given as a trace is an error, not a hang.
        let text = crate::limits::read_text(path, crate::limits::MAX_TRACE_BYTES, "trace file").map_err(
            |source| InputError::Read {
                path: path.to_path_buf(),
                source,
            },
        )?;
        let parse = |error| InputError::Parse {
            path: path.to_path_buf(),
            error,
        };
        let value: serde_json::Value = serde_json::from_str(&text).map_err(parse)?;
        let events = value
            .as_array()
            .or_else(|| value.get("events").and_then(|e| e.as_array()))
            .map_or(0, Vec::len);
        if events > crate::limits::MAX_TRACE_EVENTS {
            return Err(InputError::Trace {
                path: path.to_path_buf(),
                source: TraceError::TooManyEvents(events),
            });
        }
        // Parsed again from the text, not from `value`: serde then says the
        // line and column of a bad event.
        if value.is_array() {
            Ok(Self {
                schema: None,
                source: None,
                seed: None,
                events: serde_json::from_str(&text).map_err(parse)?,
                target: None,
                initial_version: Some(0),
                acks: None,
                shape: None,
            })
        } else {
            let file: Self = serde_json::from_str(&text).map_err(parse)?;
            match file.schema.as_deref() {
                None | Some(SCHEMA) => Ok(file),
                Some(other) => Err(InputError::Schema {
                    path: path.to_path_buf(),
                    found: other.to_string(),
                }),
            }
        }
    }

    /// The target: given, or inferred from the events.
    pub fn target(&self, path: &Path) -> Result<PathBuf, InputError> {
        let target = self
            .target
            .clone()
            .or_else(|| infer_target(&self.events))
            .ok_or_else(|| InputError::NoTarget {
                path: path.to_path_buf(),
            })?;
        // Every path is checked before anything is built from it (see
        // `ops::check_trace`): `..`, `.` and relative paths are refused.
        super::ops::check_trace(&self.events, &target).map_err(|source| InputError::Trace {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(target)
    }
}

/// The path most often renamed onto, else the one most written.
pub fn infer_target(events: &[Event]) -> Option<PathBuf> {
    let mut renamed: HashMap<&PathBuf, usize> = HashMap::new();
    let mut written: HashMap<&PathBuf, usize> = HashMap::new();
    for e in events.iter().filter(|e| e.ok()) {
        match &e.call {
            Call::Rename { to, .. } => *renamed.entry(to).or_default() += 1,
            Call::Write { path, .. } => *written.entry(path).or_default() += 1,
            _ => {}
        }
    }
    top(renamed).or_else(|| top(written))
}

/// The most frequent path (the smallest on a tie, for a stable answer).
fn top(counts: HashMap<&PathBuf, usize>) -> Option<PathBuf> {
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(p, _)| p.clone())
}

/// Acknowledgements inferred from the events (see the module doc): replays
/// the trace in program order and notes when each version's write ended.
pub fn infer_acks(
    events: &[Event],
    target: &Path,
    initial: &[InitialFile],
    classifier: &Classifier,
) -> Result<Vec<(u64, u64)>, TraceError> {
    let l = Logical::from_trace(events, target, initial)?;
    let micros = Model::Strict.plan(&l);
    let mut img = Image::initial(&l);
    let version = |img: &Image| {
        img.names.get(target).and_then(|&ino| {
            classifier
                .template
                .whole_version(&classifier.codec, &img.contents(ino))
        })
    };
    let initially = version(&img);
    let mut next = 0;
    let mut hashes = Vec::with_capacity(events.len());
    let mut held = Vec::with_capacity(events.len());
    for k in 0..events.len() {
        while next < micros.len() && micros[next].event <= k {
            img.apply(&l, &micros[next]);
            next += 1;
        }
        hashes.push(img.hash(&l));
        held.push(version(&img));
    }
    let mut acks: Vec<(u64, u64)> = Vec::new();
    let mut k = 0;
    while k < events.len() {
        match held[k] {
            Some(v)
                if (if k == 0 { initially } else { held[k - 1] }) != Some(v)
                    && !acks.iter().any(|(a, _)| *a == v) =>
            {
                let mut end = k;
                while end + 1 < events.len() && hashes[end + 1] == hashes[k] {
                    end += 1;
                }
                acks.push((v, events[end].end_ns));
                k = end + 1;
            }
            _ => k += 1,
        }
    }
    Ok(acks)
}
