//! Exit codes of the `torn` binary. Documented in the README; stable.

/// The run completed and every expectation held: controls showed the race,
/// strategies that claim safety showed zero anomalies.
pub const OK: i32 = 0;
/// A strategy (or subject) that claims safety showed at least one anomaly.
pub const ANOMALIES_FOUND: i32 = 1;
/// Nothing contradicts the claims, but the run could not prove them: the
/// positive control showed nothing, or no read overlapped a write.
pub const INCONCLUSIVE: i32 = 2;
/// The subject under test failed to run (reserved for external writers).
pub const SUBJECT_ERROR: i32 = 3;
/// Bad command line or configuration (scenario file, template).
pub const USAGE_ERROR: i32 = 64;
/// An I/O or environment error outside the subject (scratch dir, reports).
pub const IO_ERROR: i32 = 74;
/// Skipped: a command the scenario `requires:` is not installed; nothing ran
/// (the automake/ctest convention for a skipped test).
pub const SKIPPED: i32 = 77;
/// Interrupted by Ctrl-C (after cleaning up).
pub const INTERRUPTED: i32 = 130;
