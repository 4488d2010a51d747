//! Where a subject's events go: a [`Recording`], shared by whoever records
//! (the ptrace tracer's thread, a built-in strategy through [`Recorder`])
//! and whoever reads (the engine, polling while the writer runs).
//!
//! Memory stays flat: events live in a fixed-size [`Ring`], notes and
//! program names are capped, and write payloads are cut at
//! [`TraceSpec::data_cap`] bytes.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use super::event::{Call, Event, FileState, Ring, now_ns};

/// At most this many distinct notes are kept (the rest are counted).
const MAX_NOTES: usize = 32;
/// At most this many executed programs are named in a summary.
const MAX_EXECS: usize = 16;

/// What to record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TraceSpec {
    /// A call is recorded when a path it names — or the path behind the file
    /// descriptor it uses — is one of these directories or lies inside one.
    /// Paths are compared as absolute, lexically normalised paths (no
    /// symlink resolution); each directory is matched both as given and
    /// canonicalised.
    pub watch_dirs: Vec<PathBuf>,
    /// Bytes of payload kept per write event (0: none).
    pub data_cap: usize,
    /// Events kept (a few hundred bytes each, plus payload); beyond this
    /// the oldest are dropped, and counted.
    pub ring_cap: usize,
}

impl TraceSpec {
    /// Watches `watch_dirs`, keeps no payload and up to 16 384 events.
    pub fn new(watch_dirs: Vec<PathBuf>) -> Self {
        Self {
            watch_dirs,
            data_cap: 0,
            ring_cap: 16_384,
        }
    }
}

/// What a recording saw, and what it could not see.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceSummary {
    /// Events came from the ptrace tracer (an external writer).
    pub ptrace: bool,
    /// Events came from in-process recording (a built-in strategy).
    pub in_process: bool,
    /// Why (part of) the writer ran untraced, if it did: its calls are then
    /// missing from the trace, not absent from the disk.
    pub untraced: Option<String>,
    /// File-system calls examined: stops of the tracer's seccomp filter, or
    /// calls recorded in-process.
    pub calls_seen: u64,
    /// Events recorded (kept, drained, or dropped), i.e. calls on watched paths.
    pub events: u64,
    /// Events in the ring now (not yet drained).
    pub kept: usize,
    /// Events overwritten because the ring was full (the oldest go first).
    pub dropped: u64,
    /// Processes followed (the started command, its children, ...).
    pub processes: u64,
    /// Threads followed, processes' main threads included.
    pub threads: u64,
    /// Watched calls that were interrupted by a signal and restarted or
    /// failed with EINTR (recorded once, when they completed).
    pub interrupted: u64,
    /// Watched calls entered by a process that died before they returned
    /// (their effect on disk is unknown).
    pub unfinished: u64,
    /// The first programs executed in the traced tree.
    pub execs: Vec<String>,
    /// What the trace could not see, in words (capped; see `notes_dropped`).
    pub unseen: Vec<String>,
    /// Notes beyond the cap.
    pub notes_dropped: u64,
}

/// Records in-process calls: built-in strategies call it around each
/// file-system operation, so that a built-in's trace looks like the ptrace
/// trace of a program doing the same calls.
pub trait Recorder {
    /// Whether events are kept at all (callers skip building them if not).
    fn enabled(&self) -> bool;
    /// Announces a call about to be made (its arguments known, its result
    /// not): mutation windows open here, before the kernel acts.
    fn entry(&self, _call: &Call) {}
    /// Bytes of payload to keep per write event.
    fn data_cap(&self) -> usize;
    /// Records one completed call entered at `start_ns` ([`now_ns`]) and
    /// returning now with `result` (the return value, or `-errno`).
    fn record(&self, call: Call, result: i64, start_ns: u64);
}

/// A recorder that keeps nothing: the default for [`crate::strategy::Strategy::write`].
pub struct Discard;

impl Recorder for Discard {
    fn enabled(&self) -> bool {
        false
    }
    fn data_cap(&self) -> usize {
        0
    }
    fn record(&self, _: Call, _: i64, _: u64) {}
}

/// Watches calls live, as they enter and as they return: mutation windows
/// ([`crate::trace::window::WindowTracker`]) are opened and closed here.
/// Called from the tracer's thread while the traced thread is stopped, or
/// in-process around a built-in strategy's call.
pub trait Observer: Send + Sync {
    /// A watched call entered (`call` holds what is known before it runs:
    /// an `Open` has fd -1, a `Write` no payload).
    fn entry(&self, tid: u32, call: &Call);
    /// A watched call returned.
    fn exit(&self, event: &Event);
}

/// A subject's events so far, with what is watched and how much is kept.
/// Shared (`Arc`) between recorders and readers; every method takes a short
/// lock, so polling it while a writer runs is cheap.
pub struct Recording {
    dirs: Vec<PathBuf>,
    devs: Vec<(u64, PathBuf)>,
    data_cap: usize,
    inner: Mutex<Inner>,
    observer: Mutex<Option<Arc<dyn Observer>>>,
}

pub(crate) struct Inner {
    pub ring: Ring,
    pub summary: TraceSummary,
    notes: BTreeSet<String>,
    /// Opens with `O_CREAT` but not `O_EXCL` between entry and exit (by
    /// thread): whether the path existed at entry, so the exit knows whether
    /// the open created the file.
    existed: Vec<(u32, bool)>,
}

impl Inner {
    /// Adds a note about something the trace could not see (deduplicated, capped).
    pub fn note(&mut self, note: String) {
        if self.notes.contains(&note) {
            return;
        }
        if self.notes.len() >= MAX_NOTES {
            self.summary.notes_dropped += 1;
        } else {
            self.notes.insert(note);
        }
    }

    /// Names a program executed in the traced tree (capped).
    pub fn exec(&mut self, program: String) {
        if self.summary.execs.len() < MAX_EXECS {
            self.summary.execs.push(program);
        }
    }
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording")
            .field("dirs", &self.dirs)
            .finish_non_exhaustive()
    }
}

impl Recording {
    pub fn new(spec: &TraceSpec) -> Arc<Self> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        let mut devs = Vec::new();
        for d in &spec.watch_dirs {
            let abs = if d.is_absolute() {
                d.clone()
            } else {
                std::env::current_dir()
                    .map(|c| c.join(d))
                    .unwrap_or_else(|_| d.clone())
            };
            let given = normalize(&abs);
            let canonical = std::fs::canonicalize(&abs).ok();
            if let Ok(m) = std::fs::metadata(&given) {
                devs.push((m.dev(), given.clone()));
            }
            for p in std::iter::once(given).chain(canonical) {
                if !dirs.contains(&p) {
                    dirs.push(p);
                }
            }
        }
        Arc::new(Self {
            dirs,
            devs,
            data_cap: spec.data_cap,
            inner: Mutex::new(Inner {
                ring: Ring::new(spec.ring_cap),
                summary: TraceSummary::default(),
                notes: BTreeSet::new(),
                existed: Vec::new(),
            }),
            observer: Mutex::new(None),
        })
    }

    /// Sets who watches calls live (one observer; replaces any before).
    pub fn set_observer(&self, o: Arc<dyn Observer>) {
        *self.observer.lock().unwrap_or_else(|e| e.into_inner()) = Some(o);
    }

    fn observer(&self) -> Option<Arc<dyn Observer>> {
        self.observer.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A watched call is entering (see [`Observer::entry`]). An open that
    /// may or may not create its file notes here whether the path exists, so
    /// that its exit ([`Recording::open_state`]) can tell.
    pub fn entry(&self, tid: u32, call: &Call) {
        if !self.watches(call) {
            return;
        }
        if let Call::Open { path, flags, .. } = call
            && flags & libc::O_CREAT != 0
            && flags & libc::O_EXCL == 0
        {
            let existed = super::state::exists(path);
            let mut i = self.lock();
            i.existed.retain(|(t, _)| *t != tid);
            i.existed.push((tid, existed));
        }
        if let Some(o) = self.observer() {
            o.entry(tid, call);
        }
    }

    /// The real state of the file thread `tid` just opened as `fd` with
    /// `flags` (at the open's exit): its inode and mode, and whether this
    /// open created it.
    pub fn open_state(&self, tid: u32, flags: i32, fd: i32) -> Option<FileState> {
        let existed = {
            let mut i = self.lock();
            let at = i.existed.iter().position(|(t, _)| *t == tid);
            at.map(|at| i.existed.swap_remove(at).1)
        };
        let mut st = super::state::of_fd(tid, fd)?;
        st.created = if flags & libc::O_TMPFILE == libc::O_TMPFILE
            || flags & (libc::O_CREAT | libc::O_EXCL) == libc::O_CREAT | libc::O_EXCL
        {
            true
        } else {
            flags & libc::O_CREAT != 0 && existed == Some(false)
        };
        Some(st)
    }

    /// The real state a completed call left its file in, read now (at its
    /// exit), for the calls whose state a recipe needs and that the caller
    /// has not filled in: a chmod (the mode it really set) and a rename (the
    /// file now at the new name). An open's is [`Recording::open_state`].
    fn complete(&self, e: &mut Event) {
        if e.file.is_some() || !e.ok() {
            return;
        }
        e.file = match &e.call {
            Call::Open { flags, fd, .. } => self.open_state(e.tid, *flags, *fd),
            Call::Chmod { path, .. } => super::state::of_path(path),
            Call::Rename { to, .. } => super::state::of_entry(to),
            _ => None,
        };
    }

    /// Whether `path` (absolute, normalised) is a watched directory or inside one.
    pub fn watched(&self, path: &Path) -> bool {
        self.dirs.iter().any(|d| path.starts_with(d))
    }

    /// Whether any path `call` touches is watched.
    pub fn watches(&self, call: &Call) -> bool {
        call.paths().any(|p| self.watched(p))
    }

    /// The watched directories that live on device `dev` (for `syncfs`).
    pub(crate) fn dirs_on(&self, dev: u64) -> impl Iterator<Item = &PathBuf> {
        self.devs.iter().filter(move |(d, _)| *d == dev).map(|(_, p)| p)
    }

    /// The watched directories as given (for `sync`).
    pub(crate) fn dirs_given(&self) -> impl Iterator<Item = &PathBuf> {
        self.devs.iter().map(|(_, p)| p)
    }

    /// Bytes of payload kept per write event.
    pub fn data_cap(&self) -> usize {
        self.data_cap
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds an event (the caller has checked it is watched), reading the
    /// real state of its file where the caller did not.
    pub(crate) fn push(&self, mut e: Event) {
        self.complete(&mut e);
        if let Some(o) = self.observer() {
            o.exit(&e);
        }
        self.lock().ring.push(e);
    }

    /// Notes that (part of) the writer ran untraced, and why.
    pub fn note_untraced(&self, why: impl Into<String>) {
        let mut i = self.lock();
        if i.summary.untraced.is_none() {
            i.summary.untraced = Some(why.into());
        }
    }

    /// Whether (part of) the writer ran untraced.
    pub fn is_untraced(&self) -> bool {
        self.lock().summary.untraced.is_some()
    }

    /// The kept events, oldest first, leaving them in place.
    pub fn snapshot(&self) -> Vec<Event> {
        self.lock().ring.events().cloned().collect()
    }

    /// Takes the kept events, oldest first (counters are kept).
    pub fn drain(&self) -> Vec<Event> {
        self.lock().ring.drain()
    }

    /// Counters and notes so far.
    pub fn summary(&self) -> TraceSummary {
        let i = self.lock();
        let mut s = i.summary.clone();
        s.events = i.ring.total;
        s.kept = i.ring.len();
        s.dropped = i.ring.dropped;
        s.unseen = i.notes.iter().cloned().collect();
        s
    }
}

impl Recorder for Recording {
    fn enabled(&self) -> bool {
        true
    }

    fn entry(&self, call: &Call) {
        Recording::entry(self, 0, call);
    }

    fn data_cap(&self) -> usize {
        self.data_cap
    }

    fn record(&self, call: Call, result: i64, start_ns: u64) {
        let end_ns = now_ns();
        let watched = self.watches(&call);
        let mut event = Event {
            start_ns,
            end_ns,
            tid: 0,
            call,
            result,
            file: None,
        };
        if watched {
            self.complete(&mut event);
        }
        if watched && let Some(o) = self.observer() {
            o.exit(&event);
        }
        let mut i = self.lock();
        i.summary.in_process = true;
        i.summary.calls_seen += 1;
        if watched {
            i.ring.push(event);
        }
    }
}

/// `path` with `.` and `..` resolved lexically (symlinks are not followed:
/// the tracer names what the program named).
pub fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                if out.parent().is_some() {
                    out.pop();
                }
            }
            Component::CurDir => {}
            c => out.push(c.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_resolves_dots_lexically() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(normalize(Path::new("/../a")), PathBuf::from("/a"));
        assert_eq!(normalize(Path::new("/a/b/")), PathBuf::from("/a/b"));
    }

    #[test]
    fn only_watched_calls_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let rec = Recording::new(&TraceSpec::new(vec![dir.path().to_path_buf()]));
        rec.record(
            Call::Unlink {
                path: dir.path().join("x"),
            },
            0,
            now_ns(),
        );
        rec.record(
            Call::Unlink {
                path: PathBuf::from("/elsewhere/x"),
            },
            0,
            now_ns(),
        );
        rec.record(
            Call::Rename {
                from: PathBuf::from("/elsewhere/x"),
                to: dir.path().join("y"),
                flags: 0,
            },
            0,
            now_ns(),
        );
        let s = rec.summary();
        assert_eq!((s.calls_seen, s.events), (3, 2));
        assert!(s.in_process && !s.ptrace);
        assert_eq!(rec.drain().len(), 2);
        assert_eq!(rec.summary().events, 2, "counters survive a drain");
    }
}
