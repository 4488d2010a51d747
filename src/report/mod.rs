//! The result of a run: a versioned, self-describing structure, and the
//! reporters that render it (JSON, Markdown, the terminal table).
//!
//! `report.json` is the source of truth; every field is documented here.

pub mod evidence;
pub mod files;
pub mod github;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod plots;
pub mod sections;
pub mod table;
pub mod verdict;
pub mod words;
pub mod xml;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::case::Case;
use crate::classify::Outcome;
use crate::engine::{CaseRaw, FirstSeen};
use crate::envinfo::Environment;
use crate::stats::Estimate;
use crate::subject::SubjectSpec;

pub use files::check_writable_dir;
pub use verdict::{CaseStatus, ProofTarget, Rules, RunStatus, Verdict};

/// Identifies the schema of `report.json`; bumped on incompatible change.
///
/// - `torn.report/3`: each case records the [`Case`] it ran whole (`case`:
///   subject, writers, readers, rates, fault, expectation, shape settings)
///   instead of flat copies of some of its settings; traces (`trace`,
///   `recipe_anomalies`), crash stages (`crash`) and learned shapes. `torn
///   merge` brings /1 and /2 reports to it ([`migrate`]).
/// - `torn.report/2`: a case status may be `expected` (a known flaw the
///   scenario demonstrates), and a case may carry `expect_reason`; cases
///   count mutation windows (`windows`, `anomalies_per_window`) and
///   `reads_during_writer_activity`, and the `foreign` outcome.
/// - `torn.report/1`: the first; `torn merge` still reads it.
pub const SCHEMA: &str = "torn.report/3";

/// Every `report.json` schema this build reads.
pub const SCHEMAS_READ: [&str; 3] = [SCHEMA, "torn.report/2", "torn.report/1"];

/// Brings a report of an older schema (its cases' settings in flat fields,
/// before each case recorded its [`Case`] whole) to this one, in place: each
/// case gains the `case` those fields describe. What the old schemas did not
/// record (the write timeout, tracing, a fault's start) takes its default.
pub fn migrate(report: &mut serde_json::Value) {
    use serde_json::{Value, json};
    let mode = report
        .pointer("/scenario/target_mode")
        .and_then(Value::as_u64)
        .unwrap_or(0o644);
    let Some(cases) = report.get_mut("cases").and_then(Value::as_array_mut) else {
        return;
    };
    for c in cases {
        if c.get("case").is_some() {
            continue;
        }
        let get = |k: &str| c.get(k).cloned().unwrap_or(Value::Null);
        let text = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let external = |command: String| json!({"command": command, "shell": false, "timeout": {"secs": 10, "nanos": 0}});
        let subject = match text("subject_kind").as_str() {
            "writer-cmd" => json!({"command": external(text("subject"))}),
            "writer-stdio" => json!({"stdio": external(text("subject"))}),
            _ => {
                json!({"strategy": {"name": text("subject"), "params": {"chunks": c.get("chunks").and_then(Value::as_u64).unwrap_or(4)}}})
            }
        };
        let secs = c.get("elapsed_s").and_then(Value::as_f64).unwrap_or(0.0);
        let case = json!({
            "label": get("label"),
            "subject": subject,
            "expect": c.get("expect").cloned().unwrap_or(json!("any")),
            "expect_reason": get("expect_reason"),
            "duration": {"secs": secs as u64, "nanos": ((secs.fract()) * 1e9) as u32},
            "reads": null,
            "writers": {"count": c.get("writers").cloned().unwrap_or(json!(1)), "rate": c.get("write_rate").cloned().unwrap_or(json!("max")), "rmw": false, "verify": false, "trace": false, "perturb": null},
            "readers": {"count": c.get("readers").cloned().unwrap_or(json!(1)), "lock": c.get("reader_lock").cloned().unwrap_or(json!(false)), "profile": c.get("reader_profile").cloned().unwrap_or(json!("reread")), "procs": false},
            "target_mode": mode,
            "target_symlink": false,
            "watch_modes": false,
            "fault": c.get("fault").and_then(Value::as_str).map(|f| json!({"fault": f, "after": {"secs": 0, "nanos": 200_000_000}})),
            "external_reader": null,
            "kill_trials": 0,
            "evidence": 3
        });
        if let Some(obj) = c.as_object_mut() {
            obj.insert("case".into(), case);
        }
    }
}

/// A whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// When the run started, RFC 3339 UTC.
    pub created: String,
    /// The command line that made this report.
    pub command: String,
    pub scenario: ScenarioInfo,
    /// Seed of the run: it determines every token (and so every byte written).
    pub seed: u64,
    pub environment: Environment,
    /// What the verdict holds the run to beyond each case's expectation
    /// (the gate's proof target and crash stage).
    #[serde(default)]
    pub rules: Rules,
    /// The built-in strategy raced to calibrate a recipe class on this
    /// filesystem (a gate proving by recipe), if one ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<verdict::Calibration>,
    /// One entry per strategy entry of the scenario, in order.
    pub cases: Vec<CaseReport>,
    /// The gate's crash stage (`--crash`): the subject's own writes, traced,
    /// crashed at every point under each persistence model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crash: Vec<CrashStage>,
    pub verdict: Verdict,
}

/// One subject's crash states under one persistence model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CrashStage {
    /// The case crashed: its label in `cases`.
    pub subject: String,
    pub report: crate::crash::CrashReport,
}

/// The scenario as run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioInfo {
    pub name: String,
    /// File it was loaded from, or `built-in:<name>`.
    pub source: String,
    /// Format of the target (`yaml`, `json`, `dotenv`, `ini`).
    pub format: String,
    /// Template the versions were rendered from.
    pub template: String,
    /// Target path relative to the scratch HOME.
    pub target: String,
    /// Length in bytes of every whole version.
    pub version_len: usize,
    /// Mode the target was created with; reports of a private target
    /// (no group or other bits, a credentials file) are written 0600.
    #[serde(default = "public_mode")]
    pub target_mode: u32,
    /// The scenario with command-line overrides applied, as YAML: feed it to
    /// `torn run` to repeat the run.
    pub effective: String,
}

/// One strategy under one load.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseReport {
    /// Name shown in tables.
    pub label: String,
    /// The built-in strategy, or the external writer's command.
    pub subject: String,
    /// The case as run: subject, writers, readers, rates, fault, expectation
    /// — the one model of a case ([`crate::case::Case`]), recorded whole.
    pub case: Case,
    /// Wall time from the start barrier to the end, seconds.
    pub elapsed_s: f64,
    /// Whether Ctrl-C cut the case short.
    pub interrupted: bool,
    pub writes: WriteStats,
    /// Reads made by all readers.
    pub reads: u64,
    /// Reads per second, all readers together.
    pub reads_per_s: f64,
    /// Reads that overlapped a mutation window (the ones that could tear):
    /// spans in which the target's contents or identity were changing, from
    /// the writer's trace. Untraced (see `windows.traced`), a whole write is
    /// one window.
    pub exposed_reads: u64,
    /// Reads made while a write was in flight as torn saw it from outside
    /// (for an external writer, the whole run of its write command,
    /// interpreter start-up included): the wider count torn used before it
    /// traced writers.
    #[serde(default)]
    pub reads_during_writer_activity: u64,
    /// The mutation windows, and how many reads overlapped each.
    #[serde(default)]
    pub windows: crate::engine::WindowStats,
    /// What tracing the writer showed: what it saw and could not see, each
    /// distinct write recipe with its count, and the recipe findings with
    /// the calls of their first write as evidence.
    #[serde(default)]
    pub trace: Option<crate::engine::tally::TraceReport>,
    /// Writes whose recipe is a finding that can hurt readers (the target
    /// truncated or written in place, a fixed or wide temp file, a rename
    /// from another directory) — not counted when the readers take the
    /// writer's lock, which makes rewriting in place safe for them.
    #[serde(default)]
    pub recipe_anomalies: u64,
    /// Any anomaly, per mutation window that at least one read overlapped:
    /// the per-write bound ("0 anomalies in 3,000 windows each read at
    /// least once").
    #[serde(default = "no_calls")]
    pub anomalies_per_window: Estimate,
    /// Per-outcome counts, rates over all reads, and exact 95% bounds: one
    /// per outcome, in [`Outcome::ALL`] order. (A report made before an
    /// outcome existed reads as a count of 0 for it.)
    #[serde(deserialize_with = "every_outcome")]
    pub outcomes: Vec<OutcomeStat>,
    /// Any anomaly, over all reads.
    pub anomalies: Estimate,
    /// Any anomaly, over exposed reads: the number to quote for "zero
    /// anomalies in N exposed reads".
    pub anomalies_per_exposed: Estimate,
    /// Reads whose token the client would have been refused with (HTTP 403).
    pub would_403: Estimate,
    /// Calls the clients made (a caching client calls without reading), and
    /// those that would have been refused: the figure the table shows.
    #[serde(default = "no_calls")]
    pub calls_would_403: Estimate,
    /// Reads of a whole version older than one the same reader had already
    /// read: the file went back in time (a regression; these reads are also
    /// counted as `stale`).
    #[serde(default)]
    pub regressions: u64,
    /// The earliest anomaly of any kind.
    pub first_anomaly: Option<FirstAnomaly>,
    /// The target as left after the run, judged against the newest committed version.
    pub final_state: Outcome,
    /// Modes, owner, temp files left behind, and the symlink (if any).
    #[serde(default)]
    pub watch: crate::engine::watch::Findings,
    /// What SIGKILLing the writer at random instants left behind.
    #[serde(default)]
    pub kill_trials: Option<crate::engine::kill::KillTrials>,
    /// The first few anomalous reads of each outcome, saved beside the report.
    pub evidence: Vec<evidence::EvidenceRef>,
    /// Set when the subject broke (hung, crashed, answered garbage, exited),
    /// or the external reader did.
    pub subject_error: Option<String>,
    /// The real client's own reads (`reader_stdio`), also counted above.
    pub external_reader: Option<ExternalReaderReport>,
    /// What the real client would have done with the external reader's
    /// answers, in its own terms (a scenario's `client:` profile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<crate::client::ClientReport>,
    /// Anomalies and committed writes over time, in fixed buckets.
    #[serde(default)]
    pub timeline: Option<Timeline>,
    /// The end of an external writer's stderr.
    pub writer_stderr: Option<String>,
    /// An external writer's own shape, learned from its warm-up writes:
    /// the template its reads were judged against, exact or by meaning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<crate::shape::ShapeReport>,
    pub status: CaseStatus,
    /// Why the case got its status, in words.
    pub reason: String,
    /// For a pass: the route that proved it (`windows` or `recipe`); the
    /// reason holds the evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proven_by: Option<verdict::Route>,
}

/// Anomalies against writes over time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timeline {
    /// Width of a bucket, milliseconds.
    pub bucket_ms: f64,
    /// Anomalous reads per bucket.
    pub anomalies: Vec<u64>,
    /// Committed writes per bucket.
    pub writes: Vec<u64>,
}

/// Reads `outcomes` and adds, with a count of 0, any outcome the report's
/// torn did not know (`foreign` in a `torn.report/1`), so that
/// [`CaseReport::outcome`] can index by [`Outcome::index`].
fn every_outcome<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<OutcomeStat>, D::Error> {
    let given = Vec::<OutcomeStat>::deserialize(d)?;
    let reads = given.first().map_or(0, |s| s.estimate.n);
    Ok(Outcome::ALL
        .iter()
        .map(|&o| {
            given
                .iter()
                .find(|s| s.outcome == o)
                .cloned()
                .unwrap_or(OutcomeStat {
                    outcome: o,
                    estimate: Estimate::new(0, reads),
                    first: None,
                })
        })
        .collect())
}

fn no_calls() -> Estimate {
    Estimate::new(0, 0)
}

/// What the external reader (the real client's parser) saw.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExternalReaderReport {
    pub command: String,
    pub reads: u64,
    pub exposed_reads: u64,
    /// `ok`: whole current token; `stale`: whole older token; `torn-parseable`:
    /// any other token; `torn-unparseable`: the client answered `err`.
    pub outcomes: Vec<(Outcome, u64)>,
    pub would_403: u64,
    pub stderr_tail: Option<String>,
}

/// What the writers did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WriteStats {
    /// Writes that returned success.
    pub committed: u64,
    /// Writes that returned an error (each one is an anomaly).
    pub errors: u64,
    pub first_error: Option<String>,
    /// Writes the subject called successful while the file did not change
    /// (a swallowed write error).
    #[serde(default)]
    pub swallowed: u64,
    pub first_swallowed: Option<String>,
    /// Failed writes after which the file was not a whole version (data loss).
    #[serde(default)]
    pub broken_after_failure: u64,
    pub first_broken_after_failure: Option<String>,
    pub per_s: f64,
    /// Write latency percentiles in microseconds.
    pub latency_us: Latency,
}

/// Latency percentiles, microseconds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// One outcome's numbers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutcomeStat {
    pub outcome: Outcome,
    /// Count over all reads, rate, and exact 95% bound(s).
    pub estimate: Estimate,
    /// When it was first seen.
    pub first: Option<FirstSeenMs>,
}

/// A first sighting, in milliseconds since the start.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct FirstSeenMs {
    pub at_ms: f64,
    pub reader: usize,
    pub read_index: u64,
}

impl From<FirstSeen> for FirstSeenMs {
    fn from(f: FirstSeen) -> Self {
        Self {
            at_ms: f.at_ns as f64 / 1e6,
            reader: f.reader,
            read_index: f.read_index,
        }
    }
}

/// The earliest anomaly of a case.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct FirstAnomaly {
    pub outcome: Outcome,
    #[serde(flatten)]
    pub seen: FirstSeenMs,
}

impl CaseReport {
    /// `strategy`, `writer-cmd` or `writer-stdio`.
    pub fn subject_kind(&self) -> &'static str {
        match &self.case.subject {
            SubjectSpec::Strategy { .. } => "strategy",
            SubjectSpec::Command(_) => "writer-cmd",
            SubjectSpec::Stdio(_) => "writer-stdio",
        }
    }

    /// Writes per version, for `naive-chunked`.
    pub fn chunks(&self) -> Option<usize> {
        match &self.case.subject {
            SubjectSpec::Strategy { name, params } if name == "naive-chunked" => Some(params.chunks),
            _ => None,
        }
    }

    /// Builds the report of one case; `evidence` are the saved files.
    pub fn new(case: &Case, raw: &CaseRaw, evidence: Vec<evidence::EvidenceRef>) -> Self {
        let r = &raw.reads;
        let secs = raw.elapsed.as_secs_f64().max(1e-9);
        let outcomes = Outcome::ALL
            .iter()
            .map(|&o| OutcomeStat {
                outcome: o,
                estimate: Estimate::new(r.counts[o.index()], r.reads),
                first: r.first[o.index()].map(Into::into),
            })
            .collect();
        let first_anomaly = Outcome::ALL
            .iter()
            .filter(|o| o.is_anomaly())
            .filter_map(|&o| r.first[o.index()].map(|f| (o, f)))
            .min_by_key(|(_, f)| f.at_ns)
            .map(|(outcome, f)| FirstAnomaly {
                outcome,
                seen: f.into(),
            });
        let h = &raw.writes.latency_ns;
        let us = |q: f64| h.value_at_quantile(q) as f64 / 1e3;
        let anomalies = r.anomalies();
        CaseReport {
            label: case.label.clone(),
            subject: match &case.subject {
                SubjectSpec::Strategy { name, .. } => name.clone(),
                SubjectSpec::Command(s) | SubjectSpec::Stdio(s) => s.command.clone(),
            },
            case: case.clone(),
            elapsed_s: secs,
            interrupted: raw.interrupted,
            writes: WriteStats {
                committed: raw.writes.writes,
                errors: raw.writes.errors,
                first_error: raw.writes.first_error.clone(),
                swallowed: raw.writes.swallowed,
                first_swallowed: raw.writes.first_swallowed.clone(),
                broken_after_failure: raw.writes.broken_after_failure,
                first_broken_after_failure: raw.writes.first_broken_after_failure.clone(),
                per_s: raw.writes.writes as f64 / secs,
                latency_us: Latency {
                    p50: us(0.5),
                    p90: us(0.9),
                    p99: us(0.99),
                    max: h.max() as f64 / 1e3,
                },
            },
            reads: r.reads,
            reads_per_s: r.reads as f64 / secs,
            exposed_reads: r.window_exposed,
            reads_during_writer_activity: r.exposed,
            windows: raw.windows,
            trace: raw.writes.trace.clone(),
            recipe_anomalies: raw.writes.trace.as_ref().map_or(0, |t| {
                t.recipes
                    .findings
                    .iter()
                    .filter(|f| f.finding.is_anomaly())
                    .filter(|f| {
                        !(case.readers.lock
                            && matches!(
                                f.finding,
                                crate::trace::recipe::Finding::TruncatesTarget
                                    | crate::trace::recipe::Finding::WritesTargetInPlace
                            ))
                    })
                    .map(|f| f.writes)
                    .sum()
            }),
            anomalies_per_window: Estimate::new(anomalies.min(raw.windows.hit), raw.windows.hit),
            outcomes,
            anomalies: Estimate::new(anomalies, r.reads),
            // Anomalies can (rarely) happen outside exposure, e.g. a stale file
            // left behind by a regressing writer: cap to keep the estimate defined.
            anomalies_per_exposed: Estimate::new(anomalies.min(r.window_exposed), r.window_exposed),
            would_403: Estimate::new(r.would_403, r.reads),
            calls_would_403: Estimate::new(r.calls_403, r.calls),
            regressions: r.regressions,
            first_anomaly,
            final_state: raw.final_state,
            watch: raw.watch.clone(),
            kill_trials: None,
            evidence,
            subject_error: raw
                .writes
                .subject_error
                .clone()
                .or_else(|| raw.external.as_ref().and_then(|e| e.error.clone())),
            timeline: (!r.timeline.is_empty()).then(|| Timeline {
                bucket_ms: r.bucket_ns as f64 / 1e6,
                anomalies: r.timeline.clone(),
                writes: if raw.writes.timeline.is_empty() {
                    vec![0; r.timeline.len()]
                } else {
                    raw.writes.timeline.clone()
                },
            }),
            external_reader: raw.external.as_ref().map(|e| ExternalReaderReport {
                command: e.command.clone(),
                reads: e.tally.reads,
                exposed_reads: e.tally.exposed,
                outcomes: Outcome::ALL
                    .iter()
                    .map(|&o| (o, e.tally.counts[o.index()]))
                    .collect(),
                would_403: e.tally.would_403,
                stderr_tail: e.stderr_tail.clone(),
            }),
            client: case.client.as_ref().zip(raw.external.as_ref()).map(|(p, e)| {
                crate::client::ClientReport::new(p, &e.client, raw.elapsed.as_secs_f64(), raw.writes.writes)
            }),
            writer_stderr: raw.writes.stderr_tail.clone(),
            shape: raw.shape.as_ref().map(|l| l.report.clone()),
            // Decided with the run's other facts by `verdict::decide`.
            status: CaseStatus::Pending,
            reason: String::new(),
            proven_by: None,
        }
    }

    /// The estimate of one outcome.
    pub fn outcome(&self, o: Outcome) -> &Estimate {
        &self.outcomes[o.index()].estimate
    }

    /// Anomalous reads: what "anomalies" counts, everywhere.
    pub fn anomalous_reads(&self) -> u64 {
        self.anomalies.count
    }

    /// Writer-side findings, each in its own unit (writes with a recipe
    /// finding, failed or swallowed writes, mode scans, litter, kills, a
    /// final file not whole): a sum only good for "is there any", which is
    /// all the verdict asks of it.
    pub fn writer_findings(&self) -> u64 {
        let errors = if self.case.fault.is_some() {
            0
        } else {
            self.writes.errors
        };
        errors
            + u64::from(self.final_state.is_anomaly())
            + self.watch.count()
            + self.writes.swallowed
            + self.writes.broken_after_failure
            + self.kill_trials.as_ref().map_or(0, |k| k.count())
            + self.recipe_anomalies
    }
}

/// A reporter renders a finished (or partial) report into its directory.
pub trait Reporter {
    /// File name written inside the report directory.
    fn file_name(&self) -> &'static str;
    fn render(&self, report: &Report) -> anyhow::Result<Vec<u8>>;
}

/// Every file reporter, in the order they are written.
pub fn reporters() -> Vec<Box<dyn Reporter>> {
    vec![
        Box::new(json::Json),
        Box::new(markdown::Markdown),
        Box::new(html::Html),
    ]
}

fn public_mode() -> u32 {
    0o644
}

impl Report {
    /// Whether the run's files must be private (its target is).
    pub fn is_private(&self) -> bool {
        files::is_private(self.scenario.target_mode)
    }
}

/// Writes every reporter's file into `dir` (created if needed; refused if
/// it holds files that are not torn's).
pub fn write_all(report: &Report, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    files::create_report_dir(dir, report.is_private())?;
    let mut written = Vec::new();
    for r in reporters() {
        let path = dir.join(r.file_name());
        let bytes = r.render(report)?;
        files::write(&path, &bytes, report.is_private())?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_old_case_gains_the_case_its_flat_fields_describe() {
        let mut report = serde_json::json!({
            "scenario": {"target_mode": 384},
            "cases": [{
                "label": "subject: writer-stdio: python3 w.py {path}",
                "subject": "python3 w.py {path}",
                "subject_kind": "writer-stdio",
                "chunks": null,
                "writers": 2,
                "readers": 4,
                "reader_lock": true,
                "reader_profile": "mtime-cached",
                "write_rate": "200hz",
                "expect": "clean",
                "fault": "read-only-dir",
                "elapsed_s": 1.5
            }]
        });
        migrate(&mut report);
        let case: Case = serde_json::from_value(report["cases"][0]["case"].clone()).unwrap();
        assert_eq!(case.writers.count, 2);
        assert_eq!(case.writers.rate.to_string(), "200hz");
        assert_eq!((case.readers.count, case.readers.lock), (4, true));
        assert_eq!(case.readers.profile, crate::engine::Profile::MtimeCached);
        assert_eq!(case.target_mode, 0o600);
        assert!(matches!(case.subject, SubjectSpec::Stdio(ref s) if s.command == "python3 w.py {path}"));
        assert_eq!(
            case.fault.map(|f| f.fault),
            Some(crate::engine::fault::Fault::ReadOnlyDir)
        );
        assert_eq!(case.duration, std::time::Duration::from_millis(1500));
    }
}
