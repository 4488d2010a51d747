//! The result of one exploration, and its text.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use super::check::{self, CrashOutcome, Seen};
use super::describe::{self, describe_call};
use super::enumerate::{Coverage, Limits, Space};
use super::model::Model;
use super::ops::Logical;
use super::{Input, zero_counts};
use crate::exit;
use crate::numbers::thousands;

/// What exploring one trace under one model found.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct CrashReport {
    /// The persistence model the states were built under.
    pub model: Model,
    /// The target file, as traced.
    pub target: PathBuf,
    /// Seed of the sampler (it matters only where `exhaustive` is false).
    pub seed: u64,
    /// The bounds the exploration ran under.
    pub limits: Limits,
    /// Traced events read.
    pub events: usize,
    /// Pieces the model cut the trace into (blocks, sizes, directory
    /// operations, ...), synced or not.
    pub pieces: usize,
    /// Crash points: one after each traced event.
    pub crash_points: usize,
    /// Persisted-piece sets generated over all crash points, before
    /// deduplication.
    pub generated: u64,
    /// Distinct states judged, summed over the crash points (deduplicated
    /// by directory contents within each crash point).
    pub states_explored: u64,
    /// Directory trees built on disk (a state seen at several crash points
    /// is built once while it is remembered).
    pub states_built: u64,
    /// Whether every state the model allows was generated at every crash point.
    pub exhaustive: bool,
    /// Crash points whose states outnumbered the budget and were sampled.
    pub sampled_points: usize,
    /// Estimated persisted-piece sets not generated at the sampled crash
    /// points (Knuth's estimator; 0 when exhaustive).
    pub not_explored_estimate: u64,
    /// States per outcome; every outcome is listed.
    pub outcomes: BTreeMap<CrashOutcome, u64>,
    /// States that left files besides the target (temp files) in its directory.
    pub litter_states: u64,
    /// The first state found with each anomalous outcome.
    pub first: BTreeMap<CrashOutcome, Offending>,
    /// The first state found that left litter.
    pub first_litter: Option<Offending>,
    /// Assumptions the trace forced (see the `ops` module).
    pub notes: Vec<String>,
    /// Atomic? durable? and the status and exit code that follow.
    pub verdict: CrashVerdict,
}

/// One crash state, told as the operations that reached disk.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Offending {
    /// Index of the traced event after which power was lost (0-based).
    pub crash_after: usize,
    /// That event, as a recipe step.
    pub event: String,
    /// The newest version acknowledged before the crash point, if any.
    pub acknowledged: Option<u64>,
    /// What the target held: `version 2`, `an empty file`, ...
    pub found: String,
    /// Pieces a barrier had made durable before the crash point (on disk in
    /// every state).
    pub synced: usize,
    /// Every other piece from before the crash point, in trace order, and
    /// whether it reached disk in this state.
    pub steps: Vec<Step>,
    /// Files left besides the target, relative to its directory.
    pub litter: Vec<String>,
}

/// One piece of an [`Offending`] state.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Step {
    /// The piece: `write(.config.yaml.000001.tmp, 0..1196)`, `rename(a → b)`, ...
    pub op: String,
    /// Whether it reached disk.
    pub persisted: bool,
}

impl Offending {
    /// `rename(a → b) persisted; write(a, 0..1196) lost`.
    pub fn summary(&self) -> String {
        self.steps
            .iter()
            .map(|s| format!("{} {}", s.op, if s.persisted { "persisted" } else { "lost" }))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// pass / fail / inconclusive, as elsewhere in torn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CrashStatus {
    /// Every allowed state was explored; all were atomic and durable.
    Pass,
    /// Some state was torn, empty, missing, unreadable, or lost an
    /// acknowledged version.
    Fail,
    /// Nothing failed, but not every state was explored (sampled), or the
    /// trace changed nothing.
    Inconclusive,
}

impl CrashStatus {
    /// The one spelling used everywhere, as in JSON.
    pub fn name(self) -> &'static str {
        match self {
            CrashStatus::Pass => "pass",
            CrashStatus::Fail => "fail",
            CrashStatus::Inconclusive => "inconclusive",
        }
    }
}

/// The verdict on one exploration.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct CrashVerdict {
    /// No state left the target torn, empty, missing or unreadable.
    pub atomic: bool,
    /// No state lost a version acknowledged before its crash point.
    pub durable: bool,
    /// No state left litter (noted, not judged).
    pub tidy: bool,
    /// `fail` when not atomic or not durable; else `inconclusive` when
    /// sampled (or nothing changed), else `pass`.
    pub status: CrashStatus,
    /// The exit code this verdict alone would give.
    pub exit_code: i32,
    /// One line: `not atomic (empty 3); not durable (lost-ack 5)`.
    pub summary: String,
}

pub(super) struct Builder<'a> {
    l: &'a Logical,
    input: &'a Input<'a>,
    model: Model,
    limits: Limits,
    seed: u64,
    pieces: usize,
    pub built: u64,
    counts: BTreeMap<CrashOutcome, u64>,
    generated: u64,
    explored: u64,
    exhaustive: bool,
    sampled_points: usize,
    not_explored: f64,
    litter_states: u64,
    first: BTreeMap<CrashOutcome, Offending>,
    first_litter: Option<Offending>,
}

impl<'a> Builder<'a> {
    pub fn new(
        l: &'a Logical,
        input: &'a Input<'a>,
        model: Model,
        limits: Limits,
        seed: u64,
        pieces: usize,
    ) -> Self {
        Self {
            l,
            input,
            model,
            limits,
            seed,
            pieces,
            built: 0,
            counts: zero_counts(),
            generated: 0,
            explored: 0,
            exhaustive: true,
            sampled_points: 0,
            not_explored: 0.0,
            litter_states: 0,
            first: BTreeMap::new(),
            first_litter: None,
        }
    }

    /// Counts one distinct state at crash point `k`.
    pub fn record(
        &mut self,
        k: usize,
        space: &Space<'_>,
        chosen: &[bool],
        seen: &Seen,
        outcome: CrashOutcome,
        acked: Option<u64>,
    ) {
        self.explored += 1;
        *self.counts.entry(outcome).or_default() += 1;
        if !seen.litter.is_empty() {
            self.litter_states += 1;
            if self.first_litter.is_none() {
                self.first_litter = Some(self.offending(k, space, chosen, seen, acked));
            }
        }
        if outcome != CrashOutcome::Ok && !self.first.contains_key(&outcome) {
            let o = self.offending(k, space, chosen, seen, acked);
            self.first.insert(outcome, o);
        }
    }

    fn offending(
        &self,
        k: usize,
        space: &Space<'_>,
        chosen: &[bool],
        seen: &Seen,
        acked: Option<u64>,
    ) -> Offending {
        Offending {
            crash_after: k,
            event: describe_call(self.l, &self.input.trace[k].call),
            acknowledged: acked,
            found: check::found(seen),
            synced: space.micros().len() - space.optional().len(),
            steps: space
                .optional()
                .iter()
                .map(|&m| Step {
                    op: describe::piece(self.l, &space.micros()[m as usize]),
                    persisted: chosen[m as usize - space.first()],
                })
                .collect(),
            litter: seen.litter.clone(),
        }
    }

    /// Adds one crash point's coverage.
    pub fn cover(&mut self, c: Coverage) {
        self.generated += c.generated;
        if !c.exhaustive {
            self.exhaustive = false;
            self.sampled_points += 1;
            self.not_explored += (c.total - c.generated as f64).max(0.0);
        }
    }

    pub fn finish(self) -> CrashReport {
        let count = |o: CrashOutcome| self.counts.get(&o).copied().unwrap_or(0);
        let broken: Vec<String> = CrashOutcome::ALL
            .iter()
            .filter(|o| o.breaks_atomicity() && count(**o) > 0)
            .map(|o| format!("{} {}", o.name(), thousands(count(*o))))
            .collect();
        let lost = count(CrashOutcome::LostAck);
        let (atomic, durable) = (broken.is_empty(), lost == 0);
        let status = if !atomic || !durable {
            CrashStatus::Fail
        } else if !self.exhaustive || self.pieces == 0 {
            CrashStatus::Inconclusive
        } else {
            CrashStatus::Pass
        };
        let mut summary = match (atomic, durable) {
            (true, true) => "atomic and durable".to_string(),
            _ => {
                let mut parts = Vec::new();
                parts.push(match atomic {
                    true => "atomic".to_string(),
                    false => format!("not atomic ({})", broken.join(", ")),
                });
                parts.push(match durable {
                    true => "durable".to_string(),
                    false => format!("not durable (lost-ack {})", thousands(lost)),
                });
                parts.join("; ")
            }
        };
        match status {
            CrashStatus::Inconclusive if self.pieces == 0 => {
                summary.push_str(", but the trace changed nothing")
            }
            CrashStatus::Inconclusive => {
                summary.push_str(" in the states sampled, but not every state was explored")
            }
            CrashStatus::Pass => summary.push_str(" in every state"),
            CrashStatus::Fail => {}
        }
        if self.litter_states > 0 {
            let _ = write!(summary, "; litter in {} states", thousands(self.litter_states));
        }
        CrashReport {
            model: self.model,
            target: self.input.target.to_path_buf(),
            seed: self.seed,
            limits: self.limits,
            events: self.input.trace.len(),
            pieces: self.pieces,
            crash_points: self.input.trace.len(),
            generated: self.generated,
            states_explored: self.explored,
            states_built: self.built,
            exhaustive: self.exhaustive,
            sampled_points: self.sampled_points,
            // `as` saturates: an overflowing (or infinite) estimate is u64::MAX.
            not_explored_estimate: self.not_explored.round() as u64,
            outcomes: self.counts,
            litter_states: self.litter_states,
            first: self.first,
            first_litter: self.first_litter,
            notes: self.l.notes.clone(),
            verdict: CrashVerdict {
                atomic,
                durable,
                tidy: self.litter_states == 0,
                status,
                exit_code: match status {
                    CrashStatus::Pass => exit::OK,
                    CrashStatus::Fail => exit::ANOMALIES_FOUND,
                    CrashStatus::Inconclusive => exit::INCONCLUSIVE,
                },
                summary,
            },
        }
    }
}

/// An estimate of states not explored, for people: exact digits only while
/// they mean something; beyond 10^12 in powers of ten, and a saturated
/// count (the estimate overflowed 64 bits) as what it is, a lower bound.
fn estimate(n: u64) -> String {
    if n == u64::MAX {
        "more than 10^19".to_string()
    } else if n >= 1_000_000_000_000 {
        format!("{:.1e}", n as f64)
    } else {
        thousands(n)
    }
}

/// Steps shown per offending state in text (JSON has them all).
const STEPS_SHOWN: usize = 16;

/// The report as text, for stderr: `label` names the subject.
pub fn render(label: &str, r: &CrashReport) -> String {
    let mut out = String::new();
    let how = if r.exhaustive {
        "exhaustive".to_string()
    } else {
        format!(
            "sampled at {} crash points with seed {}; ~{} not explored",
            r.sampled_points,
            r.seed,
            estimate(r.not_explored_estimate)
        )
    };
    let _ = writeln!(
        out,
        "{label} [{}]: {} crash points, {} states explored ({how}; {} persisted-piece sets, {} built on disk)",
        r.model.name(),
        r.crash_points,
        thousands(r.states_explored),
        thousands(r.generated),
        thousands(r.states_built),
    );
    let counts: Vec<String> = r
        .outcomes
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(o, n)| format!("{} {}", o.name(), thousands(*n)))
        .collect();
    let _ = write!(out, "  {}", counts.join(" · "));
    if r.litter_states > 0 {
        let _ = write!(out, " · litter in {} states", thousands(r.litter_states));
    }
    out.push('\n');
    let firsts = r
        .first
        .iter()
        .map(|(o, f)| (o.name(), f))
        .chain(r.first_litter.iter().map(|f| ("litter", f)));
    for (name, f) in firsts {
        let acked = f.acknowledged.map_or("none".to_string(), |v| format!("v{v}"));
        let _ = writeln!(
            out,
            "  first {name}: crash after #{} {} (acknowledged: {acked}); target held {}",
            f.crash_after, f.event, f.found
        );
        let shown: Vec<String> = f
            .steps
            .iter()
            .rev()
            .take(STEPS_SHOWN)
            .rev()
            .map(|s| format!("{} {}", s.op, if s.persisted { "persisted" } else { "lost" }))
            .collect();
        let hidden = f.steps.len() - shown.len();
        let mut line = String::from("    ");
        if f.synced > 0 {
            let _ = write!(line, "[{} synced pieces on disk] ", f.synced);
        }
        if hidden > 0 {
            let _ = write!(line, "[{hidden} earlier unsynced pieces in --json] ");
        }
        line.push_str(&shown.join("; "));
        let _ = writeln!(out, "{line}");
        if !f.litter.is_empty() {
            let _ = writeln!(out, "    litter: {}", f.litter.join(", "));
        }
    }
    for note in &r.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    let _ = writeln!(
        out,
        "  verdict: {} → {} (exit {})",
        r.verdict.summary,
        r.verdict.status.name(),
        r.verdict.exit_code
    );
    out
}

#[cfg(test)]
mod estimate_tests {
    #[test]
    fn a_saturated_estimate_is_not_printed_as_digits() {
        assert_eq!(super::estimate(u64::MAX), "more than 10^19");
        assert_eq!(super::estimate(12_345), "12,345");
        assert_eq!(super::estimate(3_000_000_000_000_000), "3.0e15");
    }
}
