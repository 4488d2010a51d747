//! Built-in write strategies: one file each, behind one trait.
//!
//! Each strategy mirrors a way real code rewrites a config file, and states
//! in its doc comment (and in [`Strategy::expect`]) what it promises to a
//! concurrent reader. Adding a strategy is one file plus one line in [`ALL`];
//! the engine never names a strategy.

mod flock_guarded;
mod in_place;
mod naive_chunked;
mod naive_truncate;
pub(crate) mod ops;
mod rename_durable;
mod rename_durable_locked;
mod rename_fixed_tmp;
mod rename_unique_tmp;

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::trace::{Discard, Recorder};

/// How one run of a strategy is set up, as far as its promise depends on it.
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    /// Concurrent writer threads running this strategy on the same target.
    pub writers: usize,
    /// Whether readers take a shared `flock` before reading.
    pub readers_lock: bool,
    /// Writers do read-modify-write of different fields (lost-update runs).
    pub rmw: bool,
}

/// A lock held across a read-modify-write.
pub type UpdateLock = nix::fcntl::Flock<std::fs::File>;

/// What a case is expected to show; a run checks each case against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expect {
    /// Zero anomalies: the strategy claims to be safe here.
    Clean,
    /// At least one anomaly: the strategy is known unsafe here (a positive control).
    Anomalies,
    /// No claim either way (e.g. stale reads that depend on writer timing).
    Any,
}

impl Expect {
    /// As written in scenario files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Expect::Clean => "clean",
            Expect::Anomalies => "anomalies",
            Expect::Any => "any",
        }
    }
}

/// Tunables a scenario may pass to a strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Params {
    /// Number of `write` calls `naive-chunked` splits a version into.
    pub chunks: usize,
}

impl Default for Params {
    fn default() -> Self {
        Self { chunks: 4 }
    }
}

/// A way of rewriting the target so that it holds a new version.
pub trait Strategy: Send + Sync {
    /// The registry name (`naive-truncate`, ...).
    fn name(&self) -> &'static str;

    /// Rewrites `target` so that, once this returns `Ok`, it holds exactly
    /// `bytes`. Errors are returned, never swallowed.
    fn write(&self, target: &Path, bytes: &[u8]) -> io::Result<()> {
        self.write_recorded(target, bytes, &Discard)
    }

    /// [`write`](Self::write), recording every file-system call it makes
    /// into `rec`, in order, as the ptrace tracer would record a program
    /// making the same system calls. The calls are the strategy's
    /// [`Info::recipe`] (a test holds each strategy to it).
    fn write_recorded(&self, target: &Path, bytes: &[u8], rec: &dyn Recorder) -> io::Result<()>;

    /// What this strategy promises concurrent readers under `setup`.
    fn expect(&self, setup: &Setup) -> Expect;

    /// A lock to hold across a read-modify-write of `target`, for strategies
    /// that serialise updates (none by default).
    fn update_lock(&self, _target: &Path) -> io::Result<Option<UpdateLock>> {
        Ok(None)
    }
}

/// A registry entry.
pub struct Info {
    pub name: &'static str,
    pub summary: &'static str,
    /// The calls one write makes, as recorded (`tmp` is the temp file,
    /// `dir` the target's directory; `O_CLOEXEC` is left out). Locks are
    /// not file-system calls and do not appear.
    pub recipe: &'static str,
    build: fn(&Params) -> Box<dyn Strategy>,
}

/// Every built-in strategy.
pub const ALL: &[Info] = &[
    Info {
        name: "naive-truncate",
        summary: "open(O_TRUNC), one write, close — the Hermes rotator; readers see empty files",
        recipe: "open(target, O_WRONLY|O_CREAT|O_TRUNC, 0666) → write(target) → close(target)",
        build: |_| Box::new(naive_truncate::NaiveTruncate),
    },
    Info {
        name: "naive-chunked",
        summary: "open(O_TRUNC), several writes (buffered I/O) — readers see prefixes",
        recipe: "open(target, O_WRONLY|O_CREAT|O_TRUNC, 0666) → write(target) ×chunks → close(target)",
        build: |p| Box::new(naive_chunked::NaiveChunked { chunks: p.chunks }),
    },
    Info {
        name: "in-place",
        summary: "pwrite at offset 0 without truncating, then ftruncate — readers see mixes",
        recipe: "open(target, O_WRONLY|O_CREAT, 0666) → write(target, @0) → truncate(target) → close(target)",
        build: |_| Box::new(in_place::InPlace),
    },
    Info {
        name: "rename-fixed-tmp",
        summary: "write <path>.tmp, rename — atomic with one writer, torn/ENOENT with several",
        recipe: "open(target.tmp, O_WRONLY|O_CREAT|O_TRUNC, 0666) → write(target.tmp) → close(target.tmp) → rename(target.tmp, target)",
        build: |_| Box::new(rename_fixed_tmp::RenameFixedTmp),
    },
    Info {
        name: "rename-unique-tmp",
        summary: "unique temp file in the same directory, rename — atomic, not durable",
        recipe: "open(tmp, O_RDWR|O_CREAT|O_EXCL, 0600) → write(tmp) → close(tmp) → rename(tmp, target)",
        build: |_| Box::new(rename_unique_tmp::RenameUniqueTmp),
    },
    Info {
        name: "rename-durable",
        summary: "unique temp, fsync file, rename, fsync dir, target mode kept — atomic and durable",
        recipe: "open(tmp, O_RDWR|O_CREAT|O_EXCL, 0600) → chmod(tmp) → write(tmp) → fsync(tmp) → close(tmp) → rename(tmp, target) → open(dir, O_RDONLY|O_DIRECTORY) → fsync(dir) → close(dir)",
        build: |_| Box::new(rename_durable::RenameDurable),
    },
    Info {
        name: "rename-durable-locked",
        summary: "rename-durable with flock(LOCK_EX) on the directory across read-modify-write — no lost updates",
        recipe: "open(tmp, O_RDWR|O_CREAT|O_EXCL, 0600) → chmod(tmp) → write(tmp) → fsync(tmp) → close(tmp) → rename(tmp, target) → open(dir, O_RDONLY|O_DIRECTORY) → fsync(dir) → close(dir)",
        build: |_| Box::new(rename_durable_locked::RenameDurableLocked),
    },
    Info {
        name: "flock-guarded",
        summary: "naive rewrite under flock(LOCK_EX) — safe only for readers that also lock",
        recipe: "open(target, O_WRONLY|O_CREAT, 0666) → truncate(target) → write(target) → close(target)",
        build: |_| Box::new(flock_guarded::FlockGuarded),
    },
];

/// Builds the strategy called `name`.
pub fn build(name: &str, params: &Params) -> Option<Box<dyn Strategy>> {
    ALL.iter().find(|i| i.name == name).map(|i| (i.build)(params))
}

/// Takes `flock(LOCK_SH)` on `file`, as a cooperating reader does.
pub fn lock_shared(file: std::fs::File) -> io::Result<nix::fcntl::Flock<std::fs::File>> {
    flock_guarded::lock(file, nix::fcntl::FlockArg::LockShared)
}

/// The registry's names, for error messages.
pub fn names() -> Vec<&'static str> {
    ALL.iter().map(|i| i.name).collect()
}

/// What an atomic rename promises: safety with one writer; with several, the
/// last rename wins even if it carries an older version (no claim); and in
/// read-modify-write runs, without a lock, lost updates (anomalies expected).
pub(crate) fn rename_promise(setup: &Setup) -> Expect {
    match (setup.rmw, setup.writers > 1) {
        (true, _) => Expect::Anomalies,
        (false, true) => Expect::Any,
        (false, false) => Expect::Clean,
    }
}

/// The directory holding `target` (where temp files must live for rename to be atomic).
pub(crate) fn parent_dir(target: &Path) -> &Path {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Run alone, every strategy leaves exactly the intended bytes and no
        /// other file in the directory.
        #[test]
        fn alone_every_strategy_leaves_exactly_the_bytes(
            first in proptest::collection::vec(any::<u8>(), 0..9000),
            second in proptest::collection::vec(any::<u8>(), 0..9000),
            chunks in 1usize..9,
        ) {
            for info in ALL {
                let dir = tempfile::tempdir().unwrap();
                let target = dir.path().join("config.yaml");
                let s = build(info.name, &Params { chunks }).unwrap();
                s.write(&target, &first).unwrap();
                prop_assert_eq!(&std::fs::read(&target).unwrap(), &first, "{}", info.name);
                s.write(&target, &second).unwrap();
                prop_assert_eq!(&std::fs::read(&target).unwrap(), &second, "{}", info.name);
                let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
                prop_assert_eq!(names.len(), 1, "{} left {:?}", info.name, names);
            }
        }
    }

    /// A recorded write in the notation of [`Info::recipe`]: paths named
    /// `target`, `target.tmp`, `dir`, or `tmp` (any other file in the
    /// directory); `O_CLOEXEC` left out; repeated steps as `×n`.
    fn recipe_of(events: &[crate::trace::Event], target: &Path) -> String {
        let dir = parent_dir(target);
        let name = |p: &Path| -> String {
            if p == target {
                "target".into()
            } else if p == dir {
                "dir".into()
            } else if p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().ends_with(".yaml.tmp"))
            {
                "target.tmp".into()
            } else if p.parent() == Some(dir) {
                "tmp".into()
            } else {
                p.display().to_string()
            }
        };
        let steps: Vec<String> = events
            .iter()
            .map(|e| crate::trace::render::brief(e, name))
            .collect();
        let mut out: Vec<String> = Vec::new();
        let mut i = 0;
        while i < steps.len() {
            let n = steps[i..].iter().take_while(|s| **s == steps[i]).count();
            out.push(if n > 1 {
                format!("{} ×{n}", steps[i])
            } else {
                steps[i].clone()
            });
            i += n;
        }
        out.join(" → ")
    }

    /// Every strategy records exactly the calls its recipe states, each
    /// successful, for a write over an existing target.
    #[test]
    fn every_strategy_records_its_recipe() {
        use crate::trace::{Recording, TraceSpec};
        for info in ALL {
            let dir = tempfile::tempdir().unwrap();
            let target = dir.path().join("config.yaml");
            std::fs::write(&target, b"old: 0\n").unwrap();
            let s = build(info.name, &Params { chunks: 3 }).unwrap();
            let mut spec = TraceSpec::new(vec![dir.path().to_path_buf()]);
            spec.data_cap = 4;
            let rec = Recording::new(&spec);
            s.write_recorded(&target, b"new: 123456\n", &*rec).unwrap();
            let events = rec.snapshot();
            assert!(events.iter().all(|e| e.ok()), "{}: {events:?}", info.name);
            assert!(
                events.windows(2).all(|w| w[0].end_ns <= w[1].start_ns),
                "{}: events in call order",
                info.name
            );
            assert_eq!(
                recipe_of(&events, &target),
                info.recipe.replace("×chunks", "×3"),
                "{}",
                info.name
            );
            let written: Vec<u8> = events
                .iter()
                .filter_map(|e| match &e.call {
                    crate::trace::Call::Write { data, .. } => data.as_deref().map(<[u8]>::to_vec),
                    _ => None,
                })
                .flatten()
                .collect();
            assert!(
                written.starts_with(b"new:"),
                "{}: payload kept up to the cap",
                info.name
            );
            assert_eq!(rec.summary().calls_seen as usize, events.len());
        }
    }

    #[test]
    fn registry_names_are_unique_and_build() {
        let mut names = names();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        for n in names {
            assert_eq!(build(n, &Params::default()).unwrap().name(), n);
        }
    }
}
