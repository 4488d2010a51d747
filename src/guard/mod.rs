//! Leave nothing behind, even when killed.
//!
//! Everything torn changes outside its own memory is undone when the change
//! is no longer needed, when torn is interrupted, and when torn dies:
//!
//! - [`journal`]: every undoable change (a scratch directory, a case
//!   directory under `--dir`, a directory made immutable or read-only) is
//!   written to a per-process journal before it is made, and released once
//!   undone. A journal with unreleased entries is exactly what a dead run
//!   left behind; replaying it undoes the changes in reverse.
//! - [`procs`]: every process torn starts carries the case directory in its
//!   environment (`TORN_CASE`) and dies with the thread that started it
//!   (`PR_SET_PDEATHSIG`). At the end of a case, and when a run dies, every
//!   process still carrying the tag — a writer's daemon started with
//!   `setsid`, a helper that ignored EOF — is killed.
//! - [`supervisor`]: the `torn` process that runs cases forks first and
//!   keeps a small supervisor as its parent. The supervisor forwards
//!   SIGINT/SIGTERM/SIGHUP, and when the worker ends however it ends
//!   (SIGKILL included) replays the worker's journal and kills what it
//!   started. If the supervisor is killed instead, the worker receives
//!   SIGTERM (its parent-death signal) and cleans up itself.
//! - [`clean`]: `torn clean` replays the journals of dead runs (both
//!   processes killed at once, a machine reset) and removes scratch
//!   directories whose run is gone; every run reports such leftovers.

pub mod clean;
pub mod journal;
pub mod procs;
pub mod signals;
pub mod supervisor;
pub mod trust;
