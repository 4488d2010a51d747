//! Per-thread counters and bounded evidence, merged after the run.
//!
//! Memory is flat however long a run lasts: fixed-size counters, one
//! first-seen record per outcome, at most `evidence_per_class` saved reads
//! per outcome, and a fixed-size latency histogram.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::classify::{Classified, Outcome};

/// When and where an outcome was first seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstSeen {
    /// Nanoseconds since the start barrier released the threads.
    pub at_ns: u64,
    /// Reader thread index.
    pub reader: usize,
    /// That reader's read index (0-based).
    pub read_index: u64,
}

/// One anomalous read, kept as evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub outcome: Outcome,
    pub seen: FirstSeen,
    /// Newest committed version when the read began.
    pub committed_before: u64,
    /// The parser's or the OS's words, when there are any.
    pub detail: Option<String>,
    /// The bytes read (empty for `missing` and `error`).
    pub bytes: Vec<u8>,
}

/// What one or more reader threads saw (sent as JSON by reader processes).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadTally {
    pub reads: u64,
    /// Reads that overlapped a write in flight (the writer's activity:
    /// for an external writer, the whole time its write command ran).
    pub exposed: u64,
    /// Reads that overlapped a mutation window: the spans in which the
    /// target's contents or identity were really changing, from the trace.
    #[serde(default)]
    pub window_exposed: u64,
    pub counts: [u64; Outcome::COUNT],
    pub would_403: u64,
    /// Reads whose whole version was older than the one the same reader had
    /// read before (the file went back in time).
    #[serde(default)]
    pub regressions: u64,
    /// Calls the client made (one per read for `reread`; cached profiles
    /// make calls without reading).
    #[serde(default)]
    pub calls: u64,
    /// Calls that would have been refused (HTTP 403).
    #[serde(default)]
    pub calls_403: u64,
    pub first: [Option<FirstSeen>; Outcome::COUNT],
    pub evidence: Vec<Evidence>,
    evidence_per_class: usize,
    /// Anomalies per time bucket since the start ([`TIMELINE_BUCKETS`] buckets
    /// of `bucket_ns`); empty when no timeline is kept.
    pub timeline: Vec<u64>,
    pub bucket_ns: u64,
}

/// Buckets in a case's timeline: fixed, so memory stays flat.
pub const TIMELINE_BUCKETS: usize = 100;

/// The bucket of an event `at_ns` after the start (the last bucket takes overruns).
pub fn bucket(at_ns: u64, bucket_ns: u64) -> usize {
    ((at_ns / bucket_ns.max(1)) as usize).min(TIMELINE_BUCKETS - 1)
}

impl ReadTally {
    pub fn new(evidence_per_class: usize) -> Self {
        Self {
            reads: 0,
            exposed: 0,
            window_exposed: 0,
            counts: [0; Outcome::COUNT],
            would_403: 0,
            regressions: 0,
            calls: 0,
            calls_403: 0,
            first: [None; Outcome::COUNT],
            evidence: Vec::new(),
            evidence_per_class,
            timeline: Vec::new(),
            bucket_ns: 0,
        }
    }

    /// Keeps a timeline of anomalies in buckets of `bucket_ns`.
    pub fn with_timeline(mut self, bucket_ns: u64) -> Self {
        self.timeline = vec![0; TIMELINE_BUCKETS];
        self.bucket_ns = bucket_ns;
        self
    }

    /// Anomalous reads (every outcome but `ok`).
    pub fn anomalies(&self) -> u64 {
        self.reads - self.counts[Outcome::Ok.index()]
    }

    /// Counts a read. `bytes` is only looked at for anomalies.
    #[inline]
    pub fn record(
        &mut self,
        c: &Classified,
        exposed: bool,
        window_exposed: bool,
        seen: impl FnOnce() -> FirstSeen,
        bytes: &[u8],
        committed_before: u64,
    ) {
        self.reads += 1;
        self.exposed += u64::from(exposed);
        self.window_exposed += u64::from(window_exposed);
        self.counts[c.outcome.index()] += 1;
        self.would_403 += u64::from(c.would_403);
        if c.outcome.is_anomaly() {
            self.record_anomaly(c, seen(), bytes, committed_before);
        }
    }

    #[cold]
    fn record_anomaly(&mut self, c: &Classified, seen: FirstSeen, bytes: &[u8], committed_before: u64) {
        let i = c.outcome.index();
        if !self.timeline.is_empty() {
            self.timeline[bucket(seen.at_ns, self.bucket_ns)] += 1;
        }
        if self.first[i].is_none() {
            self.first[i] = Some(seen);
        }
        let kept = self.evidence.iter().filter(|e| e.outcome == c.outcome).count();
        if kept < self.evidence_per_class {
            self.evidence.push(Evidence {
                outcome: c.outcome,
                seen,
                committed_before,
                detail: c.detail.clone(),
                bytes: bytes.to_vec(),
            });
        }
    }

    /// Folds another thread's tally into this one, keeping the earliest
    /// first-seen records and the earliest evidence.
    pub fn merge(&mut self, other: ReadTally) {
        self.reads += other.reads;
        self.exposed += other.exposed;
        self.window_exposed += other.window_exposed;
        self.would_403 += other.would_403;
        self.regressions += other.regressions;
        self.calls += other.calls;
        self.calls_403 += other.calls_403;
        for i in 0..Outcome::COUNT {
            self.counts[i] += other.counts[i];
            self.first[i] = match (self.first[i], other.first[i]) {
                (Some(a), Some(b)) => Some(if b.at_ns < a.at_ns { b } else { a }),
                (a, b) => a.or(b),
            };
        }
        add_timelines(
            &mut self.timeline,
            &mut self.bucket_ns,
            other.timeline,
            other.bucket_ns,
        );
        self.evidence.extend(other.evidence);
        self.evidence.sort_by_key(|e| (e.outcome, e.seen.at_ns));
        let mut kept = [0usize; Outcome::COUNT];
        let cap = self.evidence_per_class;
        self.evidence.retain(|e| {
            kept[e.outcome.index()] += 1;
            kept[e.outcome.index()] <= cap
        });
    }
}

/// Adds `theirs` into `ours` (bucket by bucket; an empty side takes the other).
fn add_timelines(ours: &mut Vec<u64>, ours_ns: &mut u64, theirs: Vec<u64>, theirs_ns: u64) {
    if ours.is_empty() {
        *ours = theirs;
        *ours_ns = theirs_ns;
    } else if theirs.len() == ours.len() {
        ours.iter_mut().zip(theirs).for_each(|(a, b)| *a += b);
    }
}

/// What the writer threads did.
#[derive(Debug, Clone)]
pub struct WriteTally {
    /// Writes that returned success (committed versions).
    pub writes: u64,
    /// Writes that returned an error.
    pub errors: u64,
    /// The first error, with the version it was writing.
    pub first_error: Option<String>,
    /// Latency of every write attempt, in nanoseconds.
    pub latency_ns: Histogram<u64>,
    /// Highest version any writer committed.
    pub newest_version: u64,
    /// Set when the subject broke (hung, crashed, answered garbage).
    pub subject_error: Option<String>,
    /// The end of an external writer's stderr.
    pub stderr_tail: Option<String>,
    /// Writes the subject called successful while the file did not change.
    pub swallowed: u64,
    pub first_swallowed: Option<String>,
    /// Failed writes after which the file was not a whole version.
    pub broken_after_failure: u64,
    pub first_broken_after_failure: Option<String>,
    /// Committed writes per time bucket (see [`ReadTally::timeline`]).
    pub timeline: Vec<u64>,
    pub bucket_ns: u64,
    /// Whether every writer's mutation windows came from its trace.
    pub traced: bool,
    /// What the writers' traces showed (the first writer's summary, every
    /// writer's recipes).
    pub trace: Option<TraceReport>,
}

/// What tracing a case's writers showed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceReport {
    /// What the trace saw (the first traced writer's counters) and could
    /// not see (any writer's).
    pub summary: crate::trace::TraceSummary,
    /// The distinct recipes of the writes, and their findings.
    pub recipes: crate::trace::recipe::RecipeBook,
    /// What delay injection did, if it was on.
    pub perturb: Option<crate::trace::window::PerturbStats>,
    /// Where in the writer's source the calls behind findings were made, by
    /// finding name, as the writer said (`ok # where …`; the Python shim).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub sources: std::collections::BTreeMap<String, String>,
}

impl TraceReport {
    /// What the trace could not see, each of which keeps every write of the
    /// run out of a proof by recipe ([`crate::trace::recipe::RecipeClass`]):
    /// a process that ran untraced, a note of calls it cannot follow
    /// (`io_uring`, shared writable mappings, foreign-ABI calls), events
    /// dropped from the ring before they were analysed, calls whose process
    /// died before they returned. Empty: the recipes saw every call.
    pub fn blind_spots(&self) -> Vec<String> {
        let s = &self.summary;
        let mut out = Vec::new();
        if let Some(why) = &s.untraced {
            out.push(format!("ran untraced: {why}"));
        }
        out.extend(s.unseen.iter().cloned());
        if s.notes_dropped > 0 {
            out.push(format!(
                "{} more notes of what the trace could not see",
                s.notes_dropped
            ));
        }
        if s.dropped > 0 {
            out.push(format!(
                "{} traced calls dropped before their write was analysed",
                s.dropped
            ));
        }
        if s.unfinished > 0 {
            out.push(format!(
                "{} calls never returned (their process died)",
                s.unfinished
            ));
        }
        out
    }

    /// Writes whose recipe falls in an atomic class and on which the proof
    /// may rest: none while [`blind_spots`](Self::blind_spots) has any.
    pub fn provably_atomic_writes(&self) -> u64 {
        if self.blind_spots().is_empty() {
            self.recipes.atomic.atomic()
        } else {
            0
        }
    }
}

impl WriteTally {
    pub fn new() -> Self {
        Self {
            writes: 0,
            errors: 0,
            first_error: None,
            latency_ns: Histogram::new_with_bounds(1, 3_600_000_000_000, 2).expect("valid histogram bounds"),
            newest_version: 0,
            subject_error: None,
            stderr_tail: None,
            swallowed: 0,
            first_swallowed: None,
            broken_after_failure: 0,
            first_broken_after_failure: None,
            timeline: Vec::new(),
            bucket_ns: 0,
            traced: false,
            trace: None,
        }
    }

    pub fn merge(&mut self, other: WriteTally) {
        // Traced only if every writer was (a fresh tally has no writer yet).
        self.traced = if self.writes == 0 && self.errors == 0 && self.subject_error.is_none() {
            other.traced
        } else {
            self.traced && other.traced
        };
        self.trace = match (self.trace.take(), other.trace) {
            (Some(mut a), Some(b)) => {
                a.recipes.merge(b.recipes);
                // What any writer's trace could not see holds for the run.
                let (x, y) = (&mut a.summary, b.summary);
                x.untraced = x.untraced.take().or(y.untraced);
                for note in y.unseen {
                    if !x.unseen.contains(&note) {
                        x.unseen.push(note);
                    }
                }
                for (name, at) in b.sources {
                    a.sources.entry(name).or_insert(at);
                }
                x.notes_dropped += y.notes_dropped;
                x.dropped += y.dropped;
                x.unfinished += y.unfinished;
                if let (Some(x), Some(y)) = (&mut a.perturb, b.perturb) {
                    x.holds += y.holds;
                    x.held_ns += y.held_ns;
                }
                Some(a)
            }
            (a, b) => a.or(b),
        };
        self.writes += other.writes;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.latency_ns
            .add(&other.latency_ns)
            .expect("same histogram bounds");
        self.newest_version = self.newest_version.max(other.newest_version);
        self.subject_error = self.subject_error.take().or(other.subject_error);
        self.stderr_tail = self.stderr_tail.take().or(other.stderr_tail);
        self.swallowed += other.swallowed;
        self.first_swallowed = self.first_swallowed.take().or(other.first_swallowed);
        self.broken_after_failure += other.broken_after_failure;
        self.first_broken_after_failure = self
            .first_broken_after_failure
            .take()
            .or(other.first_broken_after_failure);
        add_timelines(
            &mut self.timeline,
            &mut self.bucket_ns,
            other.timeline,
            other.bucket_ns,
        );
    }
}

impl Default for WriteTally {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anomaly(o: Outcome) -> Classified {
        Classified {
            outcome: o,
            version: None,
            field: None,
            would_403: true,
            sent: None,
            detail: None,
        }
    }

    #[test]
    fn evidence_is_bounded_and_merge_keeps_the_earliest() {
        let mut a = ReadTally::new(2);
        let mut b = ReadTally::new(2);
        for i in 0..10u64 {
            let seen = FirstSeen {
                at_ns: 100 + i,
                reader: 0,
                read_index: i,
            };
            a.record(&anomaly(Outcome::Empty), true, true, || seen, b"", 0);
            let seen = FirstSeen {
                at_ns: 50 + i,
                reader: 1,
                read_index: i,
            };
            b.record(&anomaly(Outcome::Empty), false, false, || seen, b"", 0);
        }
        assert_eq!(a.evidence.len(), 2);
        a.merge(b);
        assert_eq!(a.reads, 20);
        assert_eq!(a.exposed, 10);
        assert_eq!(a.counts[Outcome::Empty.index()], 20);
        assert_eq!(a.first[Outcome::Empty.index()].unwrap().at_ns, 50);
        assert_eq!(a.evidence.len(), 2);
        assert!(a.evidence.iter().all(|e| e.seen.reader == 1));
    }
}
