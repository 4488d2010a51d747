//! The little state writers and readers share: a handful of atomics.
//!
//! Readers only load these; there is no lock between readers and writers.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use crossbeam_utils::CachePadded;

/// Slots of the per-window read counts: a ring indexed by window number.
pub const WINDOW_SLOTS: usize = 4096;
/// A window's read count is folded into [`Shared::window_hist`] when the
/// window this many later opens: by then every read that overlapped it has
/// long ended (reads take microseconds; windows open at most every few).
pub const WINDOW_LAG: u64 = 256;
/// Most windows one read is counted against (a read overlapping more is
/// counted against the first this many).
pub const MAX_WINDOWS_PER_READ: u64 = 8;
/// Buckets of the histogram of reads per window: 0, 1, 2–3, 4–7, 8–15, 16+.
pub const HIST_BUCKETS: usize = 6;

/// Shared between the writers, the readers and the run's main thread.
/// Every field is an atomic that is valid when zeroed, so it can live in
/// shared memory mapped by reader processes.
#[derive(Debug)]
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
    /// Mutation windows opened: spans in which the target's contents or
    /// identity were changing, from the writer's trace (or, untraced, whole
    /// writes). Incremented before the window's first system call enters.
    pub win_started: CachePadded<AtomicU64>,
    /// Mutation windows closed (after the last system call returned).
    pub win_finished: CachePadded<AtomicU64>,
    /// Reads that overlapped window `k`, in slot `k % WINDOW_SLOTS`.
    pub win_hits: [AtomicU32; WINDOW_SLOTS],
    /// Folded windows by the number of reads that overlapped them (see
    /// [`HIST_BUCKETS`]).
    pub win_hist: [AtomicU64; HIST_BUCKETS],
    /// Windows some read overlapped, counted live by the first read to hit
    /// each (the histogram lags by [`WINDOW_LAG`] windows).
    pub win_hit_live: CachePadded<AtomicU64>,
    /// Writes whose recipe showed a finding that can hurt readers (live, so
    /// a gate stops on a truncating writer's first write).
    pub recipe_anomalies: AtomicU64,
    /// Writes whose traced recipe fell in an atomic class, and writes that
    /// fell in none (live, so a gate proving by recipe can stop).
    pub atomic_writes: AtomicU64,
    pub other_writes: AtomicU64,
    /// Set while the readers wait for windows ([`crate::case::Pace::Wait`]):
    /// opening a window then wakes them and holds the writer until one
    /// has begun a read.
    pub pace_wait: AtomicBool,
    /// The futex word waiting readers sleep on: bumped at every window opened.
    pub wake: AtomicU32,
    /// Reads begun by waiting readers (after their exposure snapshot).
    pub reads_begun: CachePadded<AtomicU64>,
    /// Windows whose writer was held until a read began, the time held in
    /// all (ns), and the holds that ended at [`HOLD_LIMIT`] with no read begun.
    pub holds: AtomicU64,
    pub held_ns: AtomicU64,
    pub holds_unread: AtomicU64,
    /// Windows opened before the readers started (warm-up writes).
    pub win_before_start: AtomicU64,
    /// One more than the windows opened when the run was told to stop
    /// (0: not stopped); later ones opened with no reader left to read them.
    pub win_at_stop: AtomicU64,
}

/// Longest a waiting-pace window holds its writer for a read to begin.
pub const HOLD_LIMIT: std::time::Duration = std::time::Duration::from_millis(20);
/// Longest a waiting reader sleeps with no window opening: it then reads
/// anyway, so a change torn could not trace is still read now and then.
pub const IDLE_READ_EVERY: std::time::Duration = std::time::Duration::from_millis(5);
/// How long a waiting reader leaves the CPU between its reads inside one
/// window (a window of a millisecond is still read about ten times).
pub const IN_WINDOW_GAP: std::time::Duration = std::time::Duration::from_micros(100);

impl Default for Shared {
    fn default() -> Self {
        // SAFETY: every field is an atomic integer or bool (or an array of
        // them, or one padded), for which all-zero bytes are a valid value.
        unsafe { std::mem::zeroed() }
    }
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
        self.exposed.store(t.window_exposed, Ordering::Relaxed);
        self.anomalies.store(t.anomalies(), Ordering::Relaxed);
    }
}

/// A snapshot of the write and window counters taken around a read, to
/// tell whether the read overlapped a write in flight, and which mutation
/// windows.
#[derive(Debug, Clone, Copy)]
pub struct Exposure {
    started: u64,
    finished: u64,
    win_started: u64,
    win_finished: u64,
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
        let win_started = self.win_started.load(Ordering::Acquire);
        let win_finished = self.win_finished.load(Ordering::Acquire);
        Exposure {
            started,
            finished,
            win_started,
            win_finished,
        }
    }

    /// Whether a read that began at `before` overlapped a write: one was in
    /// flight when it began, or one began before it ended.
    #[inline]
    pub fn exposed(&self, before: Exposure) -> bool {
        before.started > before.finished || self.started.load(Ordering::Acquire) > before.started
    }

    /// Whether a read that began at `before` overlapped a mutation window,
    /// and if so counts it against the windows it overlapped: those in
    /// flight when it began and those that began before it ended (windows
    /// numbered from 1 in the order they opened).
    #[inline]
    pub fn window_exposed(&self, before: Exposure) -> bool {
        let now = self.win_started.load(Ordering::Acquire);
        if before.win_started == before.win_finished && now == before.win_started {
            return false;
        }
        let first = before.win_finished + 1;
        let last = now.min(first + MAX_WINDOWS_PER_READ - 1);
        for k in first..=last {
            if self.win_hits[(k % WINDOW_SLOTS as u64) as usize].fetch_add(1, Ordering::Relaxed) == 0 {
                self.win_hit_live.fetch_add(1, Ordering::Relaxed);
            }
        }
        true
    }

    /// Opens a mutation window (before its first system call); returns its
    /// number. With waiting readers, wakes them and holds the caller (the
    /// writer, stopped by its tracer or in-process) until one of them has
    /// begun a read, for at most [`HOLD_LIMIT`].
    pub fn window_open(&self) -> u64 {
        let waiting = self.pace_wait.load(Ordering::SeqCst) && !self.stop.load(Ordering::Relaxed);
        let k = self.win_started.fetch_add(1, Ordering::SeqCst) + 1;
        if k > WINDOW_LAG {
            self.fold_window(k - WINDOW_LAG);
        }
        if waiting {
            // Loaded after the window opened: a read begun after this ends
            // after it, so it is counted against this window.
            let begun = self.reads_begun.load(Ordering::SeqCst);
            self.wake.fetch_add(1, Ordering::SeqCst);
            super::futex::wake_all(&self.wake);
            self.hold_for_a_read(begun);
        }
        k
    }

    fn hold_for_a_read(&self, begun: u64) {
        let t = std::time::Instant::now();
        let mut read = false;
        while t.elapsed() < HOLD_LIMIT && !self.stop.load(Ordering::Relaxed) {
            if self.reads_begun.load(Ordering::SeqCst) > begun {
                read = true;
                break;
            }
            std::thread::yield_now();
        }
        self.holds.fetch_add(1, Ordering::Relaxed);
        self.held_ns
            .fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        self.holds_unread.fetch_add(u64::from(!read), Ordering::Relaxed);
    }

    /// A waiting reader, before its next read: sleeps while no window is
    /// open, until one opens, the run stops, or [`IDLE_READ_EVERY`] passes;
    /// inside a window it has already read, it sleeps [`IN_WINDOW_GAP`]
    /// (or until another window opens) so the writer, not the readers, has
    /// the CPU to end the window. `seen` is the reader's own: the window
    /// count at its last read.
    #[inline]
    pub fn await_window(&self, seen: &mut u64) {
        let word = self.wake.load(Ordering::SeqCst);
        let started = self.win_started.load(Ordering::SeqCst);
        let open = started > self.win_finished.load(Ordering::SeqCst);
        if !self.stop.load(Ordering::Relaxed) {
            if !open {
                super::futex::wait(&self.wake, word, IDLE_READ_EVERY);
            } else if started == *seen {
                super::futex::wait(&self.wake, word, IN_WINDOW_GAP);
            }
        }
        *seen = self.win_started.load(Ordering::SeqCst);
    }

    /// A waiting reader has taken its exposure snapshot and begins to read:
    /// a writer held at a window's opening may go on.
    #[inline]
    pub fn read_begun(&self) {
        self.reads_begun.fetch_add(1, Ordering::SeqCst);
    }

    /// What holding writers for waiting readers did (`None`: readers spun).
    pub fn hold_stats(&self) -> Option<Holds> {
        let holds = self.holds.load(Ordering::Acquire);
        (holds > 0 || self.pace_wait.load(Ordering::Acquire)).then(|| Holds {
            holds,
            held_ns: self.held_ns.load(Ordering::Acquire),
            unread: self.holds_unread.load(Ordering::Acquire),
        })
    }

    /// Closes a mutation window (after its last system call returned).
    pub fn window_close(&self) {
        self.win_finished.fetch_add(1, Ordering::AcqRel);
    }

    /// Folds the windows not yet folded into the histogram (at the end of a
    /// case, once every reader and writer has stopped).
    pub fn fold_remaining_windows(&self) {
        let opened = self.win_started.load(Ordering::Acquire);
        for k in opened.saturating_sub(WINDOW_LAG - 1).max(1)..=opened {
            self.fold_window(k);
        }
    }

    fn fold_window(&self, k: u64) {
        let hits = self.win_hits[(k % WINDOW_SLOTS as u64) as usize].swap(0, Ordering::AcqRel);
        let bucket = match hits {
            0 => 0,
            1 => 1,
            2..=3 => 2,
            4..=7 => 3,
            8..=15 => 4,
            _ => 5,
        };
        self.win_hist[bucket].fetch_add(1, Ordering::Relaxed);
    }

    /// Windows by reads that overlapped them (after [`Self::fold_remaining_windows`]).
    pub fn window_histogram(&self) -> [u64; HIST_BUCKETS] {
        std::array::from_fn(|i| self.win_hist[i].load(Ordering::Acquire))
    }

    /// Windows at least one read overlapped so far (live).
    pub fn windows_hit(&self) -> u64 {
        self.win_hit_live.load(Ordering::Relaxed)
    }

    /// The case's windows, once it has stopped.
    pub fn window_stats(&self, traced: bool) -> WindowStats {
        self.fold_remaining_windows();
        let histogram = self.window_histogram();
        WindowStats {
            traced,
            opened: self.win_started.load(Ordering::Acquire),
            hit: histogram[1..].iter().sum(),
            histogram,
            before_start: self.win_before_start.load(Ordering::Acquire),
            after_stop: match self.win_at_stop.load(Ordering::Acquire) {
                0 => 0,
                at => self.win_started.load(Ordering::Acquire).saturating_sub(at - 1),
            },
            holds: self.hold_stats(),
        }
    }
}

impl WindowStats {
    /// The share of the windows opened while readers ran (after the
    /// warm-up, before the stop) that a read overlapped (`None` when none
    /// opened).
    pub fn share_read(&self) -> Option<f64> {
        let during = self.opened.saturating_sub(self.before_start + self.after_stop);
        (during > 0).then(|| self.hit.min(during) as f64 / during as f64)
    }
}

/// A case's mutation windows, and how many reads overlapped each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WindowStats {
    /// Whether the windows come from the writer's trace; if not, each whole
    /// write (for an external writer, each run of its write command) counts
    /// as one window.
    pub traced: bool,
    /// Windows opened.
    pub opened: u64,
    /// Windows at least one read overlapped.
    pub hit: u64,
    /// Windows by the number of reads that overlapped them: 0, 1, 2–3, 4–7,
    /// 8–15, 16 or more.
    pub histogram: [u64; HIST_BUCKETS],
    /// Of the windows opened, those of warm-up writes, before any reader
    /// started (no read could overlap them).
    #[serde(default)]
    pub before_start: u64,
    /// Of the windows opened, those opened after the run was told to stop.
    #[serde(default)]
    pub after_stop: u64,
    /// With waiting readers: how the writer was held at each window's
    /// opening until a read began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holds: Option<Holds>,
}

/// Holds of a writer at its windows' openings, for waiting readers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Holds {
    /// Windows whose writer was held.
    pub holds: u64,
    /// Time held in all, nanoseconds.
    pub held_ns: u64,
    /// Holds that ended at the limit with no read begun.
    pub unread: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_count_the_reads_that_overlapped_them() {
        let s = Shared::default();
        // A read before any window: not exposed.
        let b = s.before_read();
        assert!(!s.window_exposed(b));
        // Window 1 open during a read's start: exposed, counted against 1.
        s.window_open();
        let b = s.before_read();
        assert!(s.window_exposed(b));
        s.window_close();
        // A read that starts after window 1 closed and sees window 2 open during it.
        let b = s.before_read();
        s.window_open();
        assert!(s.window_exposed(b));
        s.window_close();
        // Window 3: nobody read.
        s.window_open();
        s.window_close();
        s.fold_remaining_windows();
        assert_eq!(s.window_histogram(), [1, 2, 0, 0, 0, 0]);
    }

    #[test]
    fn waiting_readers_read_every_window_whose_writer_they_released() {
        let s = Shared::default();
        s.pace_wait.store(true, Ordering::SeqCst);
        let windows = 50;
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let mut seen = 0;
                while !s.stop.load(Ordering::SeqCst) {
                    s.await_window(&mut seen);
                    let b = s.before_read();
                    s.read_begun();
                    s.window_exposed(b);
                }
            });
            for _ in 0..windows {
                s.window_open();
                s.window_close();
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            s.stop.store(true, Ordering::SeqCst);
        });
        let stats = s.window_stats(true);
        let holds = stats.holds.expect("waiting readers: holds recorded");
        assert_eq!(holds.holds, windows);
        assert!(
            holds.unread < windows,
            "some read began within the hold limit: {holds:?}"
        );
        // A hold that ended because a read began is a window that read overlapped.
        assert!(stats.hit >= holds.holds - holds.unread, "{stats:?}");
        assert_eq!(stats.share_read(), Some(stats.hit as f64 / windows as f64));
    }

    #[test]
    fn windows_outside_the_readers_run_are_not_in_the_share() {
        let mut w = WindowStats {
            opened: 12,
            hit: 9,
            before_start: 2,
            after_stop: 1,
            ..WindowStats::default()
        };
        assert_eq!(w.share_read(), Some(1.0));
        w.opened = 3;
        assert_eq!(w.share_read(), None);
    }

    #[test]
    fn spinning_readers_never_hold_the_writer() {
        let s = Shared::default();
        s.window_open();
        s.window_close();
        assert_eq!(s.window_stats(true).holds, None);
    }

    #[test]
    fn a_long_run_folds_every_window_exactly_once() {
        let s = Shared::default();
        for _ in 0..10_000 {
            s.window_open();
            let b = s.before_read();
            assert!(s.window_exposed(b));
            s.window_close();
        }
        s.fold_remaining_windows();
        let h = s.window_histogram();
        assert_eq!(h.iter().sum::<u64>(), 10_000);
        assert_eq!(h[1], 10_000, "{h:?}");
    }
}
