//! Recording a built-in strategy's writes for `torn crash --strategy`.
//!
//! The one place the crash explorer obtains a built-in strategy's trace.
//! In-process recording of the strategies is being written separately; until
//! it lands, [`record_builtin`] says so and `torn crash --trace FILE.json`
//! covers the rest of the path.

use std::path::Path;

use crate::classify::Classifier;
use crate::strategy::Strategy;
use crate::trace::Event;

/// A built-in strategy's writes, as recorded.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// Every file-system call made on the target's directory, in order.
    pub events: Vec<Event>,
    /// `(version, ack_ns)`: when each `Strategy::write` returned `Ok`
    /// ([`crate::trace::now_ns`]).
    pub acks: Vec<(u64, u64)>,
}

/// Why a strategy could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(
        "in-process recording not available yet: `torn crash --strategy {0}` needs the built-in \
         strategies to record their calls; meanwhile give a recorded trace with --trace FILE.json"
    )]
    Unavailable(String),
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
    // INTEGRATE: recording — for v in 1..=writes: render v with
    // `classifier.template.render_vec(&classifier.codec, v)`, run
    // `strategy.write(target, &bytes)` with in-process recording on, push its
    // events, then push `(v, now_ns())` onto `acks`.
    let _ = (target, classifier, writes);
    Err(RecordError::Unavailable(strategy.name().to_string()))
}
