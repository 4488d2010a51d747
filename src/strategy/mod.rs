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
mod rename_durable;
mod rename_durable_locked;
mod rename_fixed_tmp;
mod rename_unique_tmp;

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

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
    fn write(&self, target: &Path, bytes: &[u8]) -> io::Result<()>;

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
    build: fn(&Params) -> Box<dyn Strategy>,
}

/// Every built-in strategy.
pub const ALL: &[Info] = &[
    Info {
        name: "naive-truncate",
        summary: "open(O_TRUNC), one write, close — the Hermes rotator; readers see empty files",
        build: |_| Box::new(naive_truncate::NaiveTruncate),
    },
    Info {
        name: "naive-chunked",
        summary: "open(O_TRUNC), several writes (buffered I/O) — readers see prefixes",
        build: |p| Box::new(naive_chunked::NaiveChunked { chunks: p.chunks }),
    },
    Info {
        name: "in-place",
        summary: "pwrite at offset 0 without truncating, then ftruncate — readers see mixes",
        build: |_| Box::new(in_place::InPlace),
    },
    Info {
        name: "rename-fixed-tmp",
        summary: "write <path>.tmp, rename — atomic with one writer, torn/ENOENT with several",
        build: |_| Box::new(rename_fixed_tmp::RenameFixedTmp),
    },
    Info {
        name: "rename-unique-tmp",
        summary: "unique temp file in the same directory, rename — atomic, not durable",
        build: |_| Box::new(rename_unique_tmp::RenameUniqueTmp),
    },
    Info {
        name: "rename-durable",
        summary: "unique temp, fsync file, rename, fsync dir, target mode kept — atomic and durable",
        build: |_| Box::new(rename_durable::RenameDurable),
    },
    Info {
        name: "rename-durable-locked",
        summary: "rename-durable with flock(LOCK_EX) on the directory across read-modify-write — no lost updates",
        build: |_| Box::new(rename_durable_locked::RenameDurableLocked),
    },
    Info {
        name: "flock-guarded",
        summary: "naive rewrite under flock(LOCK_EX) — safe only for readers that also lock",
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

/// A unique temp file beside `target`, named like the editors and config
/// libraries do (`.<name>.XXXXXX.tmp`), created mode 0600.
pub(crate) fn unique_temp(target: &Path) -> io::Result<tempfile::NamedTempFile> {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(parent_dir(target))
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
