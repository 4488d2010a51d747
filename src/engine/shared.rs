//! The little state writers and readers share: a handful of atomics.
//!
//! Readers only load these; there is no lock between readers and writers.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crossbeam_utils::CachePadded;

/// Shared between the writers, the readers and the run's main thread.
/// Every field is an atomic that is valid when zeroed, so it can live in
/// shared memory mapped by reader processes.
#[derive(Debug, Default)]
#[repr(C)]
pub struct Shared {
    /// Next version to hand to a writer.
    pub next_version: AtomicU64,
    /// Highest version whose write has returned successfully.
    pub committed: CachePadded<AtomicU64>,
    /// Next version of the `{{FIELD}}` value (read-modify-write runs).
    pub next_field: AtomicU64,
    /// Highest `{{FIELD}}` version whose write has returned successfully.
    pub committed_field: CachePadded<AtomicU64>,
    /// Writes begun (incremented before a write's first system call).
    pub started: CachePadded<AtomicU64>,
    /// Writes ended, successfully or not.
    pub finished: CachePadded<AtomicU64>,
    /// Set by the main thread to end the run.
    pub stop: AtomicBool,
    /// Readers that reached their read budget.
    pub readers_done: AtomicU64,
}

/// Live per-thread counters for progress display, each on its own cache line.
#[derive(Debug, Default)]
#[repr(C)]
pub struct Live {
    pub reads: AtomicU64,
    pub exposed: AtomicU64,
    pub anomalies: AtomicU64,
}

impl Live {
    /// Publishes a reader's running totals (relaxed stores to its own line).
    #[inline]
    pub fn publish(&self, t: &super::tally::ReadTally) {
        self.reads.store(t.reads, Ordering::Relaxed);
        self.exposed.store(t.exposed, Ordering::Relaxed);
        self.anomalies.store(t.anomalies(), Ordering::Relaxed);
    }
}

/// A snapshot of the write counters taken around a read, to tell whether the
/// read overlapped a write in flight.
#[derive(Debug, Clone, Copy)]
pub struct Exposure {
    started: u64,
    finished: u64,
}

impl Shared {
    pub fn new(first_version: u64) -> Self {
        let s = Self::default();
        s.next_version.store(first_version, Ordering::Relaxed);
        s
    }

    /// Taken just before a read opens the file. `started` is loaded before
    /// `finished`, so a write that ends between the two loads is not counted
    /// as in flight: exposure is never over-counted.
    #[inline]
    pub fn before_read(&self) -> Exposure {
        let started = self.started.load(Ordering::Acquire);
        let finished = self.finished.load(Ordering::Acquire);
        Exposure { started, finished }
    }

    /// Whether a read that began at `before` overlapped a write: one was in
    /// flight when it began, or one began before it ended.
    #[inline]
    pub fn exposed(&self, before: Exposure) -> bool {
        before.started > before.finished || self.started.load(Ordering::Acquire) > before.started
    }
}
