//! What a writer really did: the file-system calls it made on the target,
//! its directory, and any file later renamed onto the target.
//!
//! One event model for both kinds of subject: external writers are traced
//! with `ptrace` ([`ptrace::Traced`]: threads and children followed, a
//! seccomp filter so that only file-system calls stop), built-in strategies
//! record the same events in-process through a [`Recorder`]. Both write into
//! a [`Recording`] (a bounded ring, counters, notes on what could not be
//! seen); everything downstream — mutation windows, recipes, crash states —
//! reads [`Event`]s and never asks how they were obtained. A subject is
//! traced by starting it with
//! [`Subject::start_traced`](crate::subject::Subject::start_traced).
//!
//! Times are nanoseconds of `CLOCK_MONOTONIC` ([`now_ns`]), the clock
//! `std::time::Instant` uses on Linux, so a trace lines up with the readers'
//! timestamps.

pub mod event;
pub mod ptrace;
pub mod recipe;
pub mod record;
pub mod render;
pub mod state;
pub mod window;

pub use event::{Call, Event, FileState, LockKind, LockOp, Ring, now_ns};
pub use record::{Discard, Observer, Recorder, Recording, TraceSpec, TraceSummary};
