//! Mutation windows from a live trace: the spans in which the target path's
//! contents or identity were changing.
//!
//! A window opens when a call that may change the target *enters* (before
//! the kernel acts: an open of the target for writing, a truncate, a rename
//! or link onto it, an unlink of it) and closes when the change is over (the
//! close of the descriptor opened for writing; the return of the rename,
//! truncate, link or unlink). A rename of the target away (or an unlink of
//! it) opens a window that stays open until something is at the target's
//! name again (the rename of the new file onto it): in between, readers find
//! no file. Windows are published on the run's shared
//! board as they happen ([`Shared::window_open`]), so readers count the reads
//! that overlapped one exactly as they count any exposure, without keeping a
//! history. The tracer calls [`WindowTracker::entry`] at every syscall-entry
//! stop and [`WindowTracker::exit`] at every exit stop; built-in strategies
//! do the same in-process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use super::event::{Call, Event};
/// Where a tracker reports windows opening and closing: the engine's shared
/// board, on which readers count a read as exposed while a window is open.
/// The tracer knows only this, not the engine.
pub trait WindowSink: Send + Sync {
    fn window_open(&self);
    fn window_close(&self);
}

/// Turns one writer's calls into mutation windows on the case's board, and
/// optionally holds the writer inside its windows ([`Perturb`]).
pub struct WindowTracker {
    board: Arc<dyn WindowSink>,
    target: PathBuf,
    state: Mutex<State>,
    perturb: Option<Mutex<Perturber>>,
}

/// Delay injection: at a call boundary inside a mutation window (after the
/// truncate, between chunks, before the close) or just before a rename onto
/// the target, the writer is held for a random short time, widening rare
/// races. Seeded: the same seed draws the same sequence of holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Perturb {
    /// Longest hold.
    pub max: Duration,
    pub seed: u64,
}

struct Perturber {
    max_ns: u64,
    rng: rand_chacha::ChaCha8Rng,
    stats: PerturbStats,
}

/// What delay injection did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerturbStats {
    /// Holds made.
    pub holds: u64,
    /// Time held in all, nanoseconds.
    pub held_ns: u64,
    /// The seed that replays them.
    pub seed: u64,
}

#[derive(Default)]
struct State {
    /// Descriptors open for writing on the target (by fd number), and how
    /// many opens of each are in flight or open.
    open_fds: HashMap<i32, u32>,
    /// Opens of the target for writing that have entered but not returned
    /// (by thread), so the exit knows a window is open for them.
    pending_opens: HashMap<u32, u32>,
    /// Calls that opened a window at entry and close it at exit (by thread).
    pending_calls: HashMap<u32, u32>,
    /// Windows currently open.
    open: u64,
    /// Of those, the ones opened by renaming the target away or unlinking
    /// it: they close when a file is at the target's name again.
    gone: u64,
}

/// Whether `flags` open a file for writing.
pub fn writes(flags: i32) -> bool {
    let acc = flags & nix::libc::O_ACCMODE;
    acc == nix::libc::O_WRONLY || acc == nix::libc::O_RDWR || flags & nix::libc::O_TRUNC != 0
}

impl WindowTracker {
    pub fn new(board: Arc<dyn WindowSink>, target: &Path, perturb: Option<Perturb>) -> Self {
        Self {
            board,
            target: target.to_path_buf(),
            state: Mutex::new(State::default()),
            perturb: perturb.map(|p| {
                Mutex::new(Perturber {
                    max_ns: p.max.as_nanos() as u64,
                    rng: rand_chacha::ChaCha8Rng::seed_from_u64(p.seed),
                    stats: PerturbStats {
                        seed: p.seed,
                        ..PerturbStats::default()
                    },
                })
            }),
        }
    }

    fn shared(&self) -> &dyn WindowSink {
        &*self.board
    }

    /// What delay injection did so far (`None` when off).
    pub fn perturb_stats(&self) -> Option<PerturbStats> {
        self.perturb
            .as_ref()
            .map(|p| p.lock().unwrap_or_else(|e| e.into_inner()).stats)
    }

    /// Holds the writer for a random time (half the boundaries, up to the max).
    fn hold(&self) {
        let Some(p) = &self.perturb else { return };
        let ns = {
            let mut p = p.lock().unwrap_or_else(|e| e.into_inner());
            if !p.rng.random_bool(0.5) {
                return;
            }
            let max = p.max_ns;
            let ns = p.rng.random_range(0..=max);
            p.stats.holds += 1;
            p.stats.held_ns += ns;
            ns
        };
        std::thread::sleep(Duration::from_nanos(ns));
    }

    fn is_target(&self, p: &Path) -> bool {
        p == self.target
    }

    /// At a call's entry (its arguments decoded, its result unknown).
    pub fn entry(&self, tid: u32, call: &Call) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        // Inside a window, or right before the rename that opens one: a
        // boundary where a hold widens a race.
        let boundary = st.open > 0
            || matches!(call, Call::Rename { to, .. } | Call::Link { to, .. } if self.is_target(to));
        if boundary && self.perturb.is_some() {
            drop(st);
            self.hold();
            st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        }
        let opens_window = match call {
            Call::Open { path, flags, .. } if self.is_target(path) && writes(*flags) => {
                *st.pending_opens.entry(tid).or_default() += 1;
                true
            }
            Call::Truncate { path, .. } | Call::Unlink { path } if self.is_target(path) => {
                *st.pending_calls.entry(tid).or_default() += 1;
                true
            }
            Call::Rename { from, to, .. } if self.is_target(to) || self.is_target(from) => {
                *st.pending_calls.entry(tid).or_default() += 1;
                true
            }
            Call::Link { to, .. } | Call::Symlink { to, .. } if self.is_target(to) => {
                *st.pending_calls.entry(tid).or_default() += 1;
                true
            }
            // A write through a descriptor torn did not see opened (inherited):
            // the write itself is the window.
            Call::Write { path, fd, .. } if self.is_target(path) && !st.open_fds.contains_key(fd) => {
                *st.pending_calls.entry(tid).or_default() += 1;
                true
            }
            _ => false,
        };
        if opens_window {
            st.open += 1;
            self.shared().window_open();
        }
    }

    /// At a call's exit, with its result.
    pub fn exit(&self, e: &Event) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let tid = e.tid;
        let close = |st: &mut State| {
            if st.open > 0 {
                st.open -= 1;
                self.shared().window_close();
            }
        };
        let fills = e.ok()
            && match &e.call {
                Call::Rename { to, .. } | Call::Link { to, .. } | Call::Symlink { to, .. } => {
                    self.is_target(to)
                }
                Call::Open { path, flags, .. } => self.is_target(path) && flags & nix::libc::O_CREAT != 0,
                _ => false,
            };
        if fills {
            while st.gone > 0 {
                st.gone -= 1;
                close(&mut st);
            }
        }
        let removes = e.ok()
            && match &e.call {
                Call::Rename { from, flags, .. } => {
                    self.is_target(from) && flags & nix::libc::RENAME_EXCHANGE == 0
                }
                Call::Unlink { path } => self.is_target(path),
                _ => false,
            };
        match &e.call {
            Call::Open { path, flags, fd, .. }
                if self.is_target(path) && writes(*flags) && take(&mut st.pending_opens, tid) =>
            {
                if e.ok() && *fd >= 0 {
                    // The window stays open until this descriptor is closed.
                    *st.open_fds.entry(*fd).or_default() += 1;
                } else {
                    close(&mut st);
                }
            }
            Call::Close { fd, .. } => {
                if let Some(n) = st.open_fds.get_mut(fd) {
                    *n -= 1;
                    if *n == 0 {
                        st.open_fds.remove(fd);
                    }
                    close(&mut st);
                }
            }
            Call::Truncate { .. }
            | Call::Unlink { .. }
            | Call::Rename { .. }
            | Call::Link { .. }
            | Call::Symlink { .. }
            | Call::Write { .. }
                if take(&mut st.pending_calls, tid) =>
            {
                if removes {
                    // Readers find no file until the name is filled again.
                    st.gone += 1;
                } else {
                    close(&mut st);
                }
            }
            _ => {}
        }
    }

    /// Closes every window still open (the writer exited or was killed with
    /// descriptors open).
    pub fn close_all(&self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while st.open > 0 {
            st.open -= 1;
            self.shared().window_close();
        }
        st.gone = 0;
        st.open_fds.clear();
        st.pending_opens.clear();
        st.pending_calls.clear();
    }
}

impl super::record::Observer for WindowTracker {
    fn entry(&self, tid: u32, call: &Call) {
        WindowTracker::entry(self, tid, call);
    }

    fn exit(&self, event: &Event) {
        WindowTracker::exit(self, event);
    }
}

/// Decrements `tid`'s pending count; whether there was one.
fn take(m: &mut HashMap<u32, u32>, tid: u32) -> bool {
    match m.get_mut(&tid) {
        Some(n) if *n > 0 => {
            *n -= 1;
            if *n == 0 {
                m.remove(&tid);
            }
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    fn ev(call: Call, result: i64) -> Event {
        Event {
            start_ns: 0,
            end_ns: 0,
            tid: 7,
            call,
            result,
            file: None,
        }
    }

    /// A sink that counts windows opened and closed.
    #[derive(Default)]
    struct Counts {
        started: std::sync::atomic::AtomicU64,
        finished: std::sync::atomic::AtomicU64,
    }

    impl WindowSink for Counts {
        fn window_open(&self) {
            self.started.fetch_add(1, Ordering::Relaxed);
        }
        fn window_close(&self) {
            self.finished.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn board() -> Arc<Counts> {
        Arc::new(Counts::default())
    }

    fn open_windows(b: &Counts) -> (u64, u64) {
        (
            b.started.load(Ordering::Relaxed),
            b.finished.load(Ordering::Relaxed),
        )
    }

    #[test]
    fn truncate_and_write_is_one_window_from_open_to_close() {
        let s = board();
        let t = Path::new("/h/config.yaml");
        let w = WindowTracker::new(s.clone(), t, None);
        let open = Call::Open {
            path: t.into(),
            flags: nix::libc::O_WRONLY | nix::libc::O_TRUNC,
            mode: 0o644,
            fd: 3,
        };
        w.entry(7, &open);
        assert_eq!(
            open_windows(&s),
            (1, 0),
            "open at entry, before the kernel truncates"
        );
        w.exit(&ev(open, 3));
        let write = Call::Write {
            path: t.into(),
            fd: 3,
            offset: None,
            len: 10,
            data: None,
        };
        w.entry(7, &write);
        w.exit(&ev(write, 10));
        assert_eq!(
            open_windows(&s),
            (1, 0),
            "writes through the open descriptor are inside it"
        );
        let close = Call::Close {
            path: t.into(),
            fd: 3,
        };
        w.entry(7, &close);
        w.exit(&ev(close, 0));
        assert_eq!(open_windows(&s), (1, 1));
    }

    #[test]
    fn a_rename_onto_the_target_is_a_window_and_the_temp_file_is_not() {
        let s = board();
        let t = Path::new("/h/config.yaml");
        let w = WindowTracker::new(s.clone(), t, None);
        let tmp = PathBuf::from("/h/.config.yaml.x.tmp");
        let open = Call::Open {
            path: tmp.clone(),
            flags: nix::libc::O_WRONLY | nix::libc::O_CREAT | nix::libc::O_EXCL,
            mode: 0o600,
            fd: 4,
        };
        w.entry(7, &open);
        w.exit(&ev(open, 4));
        assert_eq!(open_windows(&s), (0, 0));
        let rename = Call::Rename {
            from: tmp,
            to: t.into(),
            flags: 0,
        };
        w.entry(7, &rename);
        assert_eq!(open_windows(&s), (1, 0));
        w.exit(&ev(rename, 0));
        assert_eq!(open_windows(&s), (1, 1));
    }

    #[test]
    fn renaming_the_target_away_keeps_a_window_open_until_the_new_file_is_in() {
        let s = board();
        let t = Path::new("/h/config.yaml");
        let w = WindowTracker::new(s.clone(), t, None);
        let away = Call::Rename {
            from: t.into(),
            to: "/h/config.yaml.old".into(),
            flags: 0,
        };
        w.entry(7, &away);
        w.exit(&ev(away, 0));
        assert_eq!(open_windows(&s), (1, 0), "no file at the name: still open");
        let back = Call::Rename {
            from: "/h/.config.yaml.new".into(),
            to: t.into(),
            flags: 0,
        };
        w.entry(7, &back);
        assert_eq!(open_windows(&s), (2, 0));
        w.exit(&ev(back, 0));
        assert_eq!(open_windows(&s), (2, 2), "both close once the new file is in");
        let gone = Call::Unlink { path: t.into() };
        w.entry(7, &gone);
        w.exit(&ev(gone, 0));
        w.close_all();
        assert_eq!(
            open_windows(&s),
            (3, 3),
            "a writer that never refills it: closed at its end"
        );
    }

    #[test]
    fn a_failed_open_closes_its_window() {
        let s = board();
        let t = Path::new("/h/config.yaml");
        let w = WindowTracker::new(s.clone(), t, None);
        let open = Call::Open {
            path: t.into(),
            flags: nix::libc::O_WRONLY,
            mode: 0,
            fd: -1,
        };
        w.entry(7, &open);
        w.exit(&ev(open, -13));
        assert_eq!(open_windows(&s), (1, 1));
        w.close_all();
        assert_eq!(open_windows(&s), (1, 1));
    }
}
