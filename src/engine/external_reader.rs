//! The external reader (`--reader-stdio`): the real client's own parser
//! (Python + PyYAML, Node's JSON.parse, ...) asked to read the target, one
//! `read` line at a time, counted alongside torn's own readers.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::shared::Shared;
use super::tally::{FirstSeen, ReadTally};
use crate::classify::Classifier;
use crate::subject::line::LineChild;
use crate::subject::{ExternalSpec, WriterCtx};

/// What the external reader saw, and how it ended.
#[derive(Debug, Clone)]
pub struct ExternalReads {
    pub command: String,
    pub tally: ReadTally,
    /// The same calls, by what they would come to for the client's user.
    pub client: crate::client::ClientTally,
    /// Set when the reader hung or exited; the case stops.
    pub error: Option<String>,
    pub stderr_tail: Option<String>,
}

/// Starts the reader program and waits for its first answer (before the
/// start barrier, so its start-up is not counted as reading).
pub fn start(spec: &ExternalSpec, ctx: &WriterCtx) -> Result<LineChild, String> {
    let argv = crate::subject::process_argv(spec, ctx)?;
    let mut child = LineChild::start(&argv, ctx, ctx.log_dir.join("reader.stderr"))?;
    child
        .ask("read", spec.timeout)
        .map_err(|s| format!("the first (warm-up) read got no answer: {s}"))?;
    Ok(child)
}

/// Asks the reader program to read until the case stops.
pub fn run(
    mut child: LineChild,
    spec: &ExternalSpec,
    id: usize,
    classifier: &Classifier,
    shared: &Shared,
    start: Instant,
    evidence_per_class: usize,
) -> ExternalReads {
    let mut tally = ReadTally::new(evidence_per_class);
    let mut client = crate::client::ClientTally::default();
    let mut error = None;
    let mut i = 0u64;
    while !shared.stop.load(Ordering::Relaxed) {
        let committed_before = shared.committed.load(Ordering::Acquire);
        let exposure = shared.before_read();
        let answer = match child.ask("read", spec.timeout.max(Duration::from_millis(1))) {
            Ok(a) => a,
            Err(silence) => {
                error = Some(format!("external reader: {silence}"));
                shared.stop.store(true, Ordering::Relaxed);
                break;
            }
        };
        let exposed = shared.exposed(exposure);
        let window_exposed = shared.window_exposed(exposure);
        let committed_at_use = shared.committed.load(Ordering::Acquire);
        let c = classifier.classify_answer(&answer, committed_before, committed_at_use);
        let at_ns = start.elapsed().as_nanos() as u64;
        client.record(&answer, c.outcome, exposed, at_ns);
        let seen = || FirstSeen {
            at_ns,
            reader: id,
            read_index: i,
        };
        tally.record(
            &c,
            exposed,
            window_exposed,
            seen,
            answer.as_bytes(),
            committed_before,
        );
        i += 1;
    }
    ExternalReads {
        command: spec.command.clone(),
        tally,
        client,
        error,
        stderr_tail: child.finish(),
    }
}
