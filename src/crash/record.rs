//! Recording a built-in strategy's writes for `torn crash --strategy`.
//!
//! The one place the crash explorer obtains a built-in strategy's trace: the
//! strategy writes through [`Strategy::write_recorded`] into a
//! [`Recording`] that keeps every payload, exactly as the ptrace tracer
//! records an external writer.

use std::path::Path;

use crate::classify::Classifier;
use crate::strategy::Strategy;
use crate::trace::{Event, Recording, TraceSpec, now_ns};

/// Payload bytes kept per write: whole config files.
const MAX_PAYLOAD: usize = 1 << 20;

/// A built-in strategy's writes, as recorded.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// Every file-system call made on the target's directory, in order.
    pub events: Vec<Event>,
    /// `(version, ack_ns)`: when each `Strategy::write` returned `Ok`
    /// ([`crate::trace::now_ns`]).
    pub acks: Vec<(u64, u64)>,
    /// For an external writer: the version and bytes the target held before
    /// the recorded writes (the last write that taught torn its shape).
    pub initial: Option<(u64, Vec<u8>)>,
    /// For an external writer: the classifier of its learned shape.
    pub classifier: Option<Classifier>,
}

/// Why a strategy could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("strategy {0}: the recording dropped events (raise its ring); nothing to explore faithfully")]
    Unavailable(String),
    #[error("{0}: {1}")]
    Subject(String, String),
    #[error("strategy {strategy}: write of version {version} failed")]
    Write {
        strategy: String,
        version: u64,
        source: std::io::Error,
    },
}

/// Writes versions `1..=writes` of `classifier`'s template onto `target`
/// (which holds version 0) with `strategy`, one write at a time, recording
/// every call each write makes (with payloads) and the instant it returned.
pub fn record_builtin(
    strategy: &dyn Strategy,
    target: &Path,
    classifier: &Classifier,
    writes: u64,
) -> Result<Recorded, RecordError> {
    let dir = target.parent().unwrap_or(Path::new("/")).to_path_buf();
    let rec = Recording::new(&TraceSpec {
        data_cap: MAX_PAYLOAD,
        ..TraceSpec::new(vec![dir])
    });
    let mut out = Recorded::default();
    for version in 1..=writes {
        if crate::guard::signals::stop_requested() {
            return Err(RecordError::Subject(
                strategy.name().to_string(),
                "interrupted by a signal".into(),
            ));
        }
        let bytes = classifier.template.render_vec(&classifier.codec, version);
        strategy
            .write_recorded(target, &bytes, rec.as_ref())
            .map_err(|source| RecordError::Write {
                strategy: strategy.name().to_string(),
                version,
                source,
            })?;
        out.acks.push((version, now_ns()));
        out.events.extend(rec.drain());
    }
    if rec.summary().dropped > 0 {
        return Err(RecordError::Unavailable(strategy.name().to_string()));
    }
    Ok(out)
}

/// Writes versions `1..=writes` onto `ctx.target` (which holds version 0)
/// with any subject — an external writer run under the tracer, or a
/// built-in recorded in-process — one write at a time, keeping every call
/// (with payloads) and the instant each write was acknowledged (its command
/// exited 0, its `ok` arrived, its call returned).
pub fn record_subject(
    spec: &crate::subject::SubjectSpec,
    ctx: &crate::subject::WriterCtx,
    classifier: &Classifier,
    writes: u64,
) -> Result<Recorded, RecordError> {
    let label = spec.label();
    let dir = ctx.target.parent().unwrap_or(Path::new("/")).to_path_buf();
    let rec = Recording::new(&TraceSpec {
        data_cap: MAX_PAYLOAD,
        ..TraceSpec::new(vec![dir])
    });
    let subject = spec.build();
    let writer = subject
        .start_traced(ctx, rec.clone())
        .map_err(|e| RecordError::Subject(label.clone(), e))?;
    let mut out = Recorded::default();
    // An external writer formats the file its own way: learn its shape first
    // (as the gate does), so crash states are judged against what it writes.
    let mut writers = vec![writer];
    let shared = crate::engine::Shared::new(1);
    // What the writer left is read only if it is a regular file of torn's,
    // and at most a template's worth (a link to /dev/zero is not read).
    let read_target = || match crate::shape::read_back(&ctx.target) {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(why)) => Err(why),
        Err(e) => Err(e.to_string()),
    };
    let start = read_target().ok();
    let learned = crate::shape::learn(
        &mut writers,
        classifier,
        &ctx.target,
        &shared,
        &Default::default(),
        start.as_deref(),
    );
    let mut writer = writers.pop().expect("one writer");
    if let Some(e) = learned.report.error {
        let _ = writer.finish();
        return Err(RecordError::Subject(label, format!("learning its shape: {e}")));
    }
    let first = shared.next_version.load(std::sync::atomic::Ordering::Acquire);
    out.initial = Some((
        first - 1,
        read_target().map_err(|why| {
            RecordError::Subject(label.clone(), format!("the target after learning: {why}"))
        })?,
    ));
    out.classifier = learned.classifier;
    let classifier = out.classifier.as_ref().unwrap_or(classifier);
    rec.drain();
    for version in first..first + writes {
        // A stop signal ends the recording between writes.
        if crate::guard::signals::stop_requested() {
            let _ = writer.finish();
            return Err(RecordError::Subject(label, "interrupted by a signal".into()));
        }
        let bytes = classifier.template.render_vec(&classifier.codec, version);
        let token = classifier.codec.token(version);
        match writer.write(&token, &bytes) {
            Ok(()) => out.acks.push((version, now_ns())),
            Err(e) => {
                let _ = writer.finish();
                return Err(RecordError::Subject(
                    label,
                    format!("write of version {version}: {e:?}"),
                ));
            }
        }
    }
    let _ = writer.finish();
    let summary = rec.summary();
    if let Some(why) = summary.untraced {
        return Err(RecordError::Subject(label, format!("could not be traced: {why}")));
    }
    if summary.dropped > 0 {
        return Err(RecordError::Unavailable(label));
    }
    out.events = rec.drain();
    Ok(out)
}
