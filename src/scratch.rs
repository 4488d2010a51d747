//! Scratch directories: the only place torn writes test files.
//!
//! By default a fresh directory under the system temp dir, removed at the
//! end. With `--dir`, a directory that is empty or was made by torn (it holds
//! a marker file); torn removes what it created there and nothing else.
//!
//! Every directory torn will remove is recorded in the undo journal
//! ([`crate::guard::journal`]) first, so a killed run's directories are
//! removed by its supervisor or by `torn clean`. The marker holds the pid of
//! the run that made the directory, so `torn clean` can tell a dead run's
//! directory from a live one's, and is held locked (`flock`) for the run's
//! whole life: a second run given the same `--dir` is refused instead of
//! deleting the live run's case directories.
//!
//! A root is used only if torn can trust it ([`crate::guard::trust`]):
//! owned by the running uid, not a symlink, writable by no one else (a root
//! torn creates is mode 0700); the marker is opened relative to it without
//! following a link.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg, OFlag};

use crate::guard::trust::{Strict, TrustedDir};

/// Name of the file that marks a directory as torn's own.
pub const MARKER: &str = ".torn-scratch";

/// Name of the file that marks a case directory as torn's own.
pub const CASE_MARKER: &str = ".torn-case";

use crate::guard::journal::{self, Entry, Ticket};

/// Why a scratch directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScratchError {
    #[error(
        "--dir {0}: directory is not empty and was not made by torn (no {MARKER} file); \
         torn only writes into empty directories or its own, so nothing of yours is overwritten"
    )]
    NotOurs(PathBuf),
    #[error(
        "--dir {0}: {1} exists and was not made by torn (no {CASE_MARKER} file); \
         torn does not remove a directory of yours — move it away or pick another --dir"
    )]
    CaseNotOurs(PathBuf, PathBuf),
    #[error("--dir {0}: not a directory")]
    NotADirectory(PathBuf),
    #[error("--dir {0}: {1}")]
    Untrusted(PathBuf, String),
    #[error(
        "--dir {0}: in use by torn run {1} (its marker {MARKER} is locked); two runs in one \
         directory would delete each other's files — wait for it, or pick another --dir"
    )]
    InUse(PathBuf, u32),
    #[error("--dir {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// A short name safe for a directory: letters, digits and dashes, at most 40 bytes.
pub fn slug(s: &str) -> String {
    s.chars()
        .take(40)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A scratch root for one run.
pub struct Scratch {
    root: PathBuf,
    /// The journal entry of a root torn created (removed on drop).
    ticket: Option<Ticket>,
    /// Whether the root is the user's `--dir` (kept after the run, even
    /// when torn created it; removed only if the run is killed).
    user_dir: bool,
    keep: bool,
    /// The marker, locked for as long as the run lasts.
    _lock: Flock<File>,
}

fn marker_text() -> String {
    std::process::id().to_string()
}

/// Whether the marker in `dir` is locked by a live run (see the module doc).
pub fn marker_locked(dir: &TrustedDir) -> bool {
    let Ok(f) = dir.open_file(MARKER, OFlag::O_RDONLY, 0) else {
        return false;
    };
    matches!(
        Flock::lock(f, FlockArg::LockExclusiveNonblock),
        Err((_, nix::errno::Errno::EWOULDBLOCK))
    )
}

/// Whether `pid` is a live torn process other than this one (a run of a
/// torn that did not lock its marker; a reused pid is some other program).
fn live_torn(pid: u32) -> bool {
    pid != 0
        && pid != std::process::id()
        && crate::guard::clean::alive(pid)
        && std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "torn")
}

/// Creates (or takes over) the marker in `dir`: locked, holding this pid.
fn claim(dir: &TrustedDir) -> Result<Flock<File>, ScratchError> {
    let io_err = |source| ScratchError::Io {
        path: dir.path().to_path_buf(),
        source,
    };
    let file = dir
        .open_file(MARKER, OFlag::O_CREAT | OFlag::O_RDWR, 0o600)
        .map_err(io_err)?;
    let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(l) => l,
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
            let pid = crate::guard::clean::marker_pid(dir.path()).unwrap_or(0);
            return Err(ScratchError::InUse(dir.path().to_path_buf(), pid));
        }
        Err((_, e)) => return Err(io_err(e.into())),
    };
    if let Some(pid) = crate::guard::clean::marker_pid(dir.path()).filter(|&p| live_torn(p)) {
        return Err(ScratchError::InUse(dir.path().to_path_buf(), pid));
    }
    lock.set_len(0).map_err(io_err)?;
    lock.write_all(marker_text().as_bytes()).map_err(io_err)?;
    Ok(lock)
}

impl Scratch {
    /// A scratch root: `dir` if given (checked), else a new temp directory.
    pub fn new(dir: Option<&Path>, keep: bool) -> Result<Self, ScratchError> {
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ScratchError::Io { path, source }
        };
        let untrusted = |path: &Path, e: crate::guard::trust::TrustError| {
            ScratchError::Untrusted(path.to_path_buf(), e.to_string())
        };
        match dir {
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("torn-")
                    .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
                    .tempdir()
                    .map_err(io_err(&std::env::temp_dir()))?;
                let root = temp.keep();
                let ticket = match journal::record(Entry::Dir { path: root.clone() }) {
                    Ok(t) => t,
                    Err(e) => {
                        let _ = std::fs::remove_dir_all(&root);
                        return Err(ScratchError::Io {
                            path: root,
                            source: e,
                        });
                    }
                };
                let lock = TrustedDir::open(&root, Strict::Private, "TMPDIR")
                    .map_err(|e| untrusted(&root, e))
                    .and_then(|d| claim(&d));
                match lock {
                    Ok(lock) => Ok(Self {
                        root,
                        ticket: Some(ticket),
                        user_dir: false,
                        keep,
                        _lock: lock,
                    }),
                    Err(e) => {
                        let _ = journal::undo(ticket);
                        Err(e)
                    }
                }
            }
            Some(d) => {
                let meta = d.symlink_metadata();
                if meta
                    .as_ref()
                    .is_ok_and(|m| !m.is_dir() && !m.file_type().is_symlink())
                {
                    return Err(ScratchError::NotADirectory(d.to_path_buf()));
                }
                // A directory torn creates is journaled, so a killed run's is
                // removed; one that already existed is the user's, and kept.
                let ticket = if meta.is_err() {
                    let abs = std::path::absolute(d).map_err(io_err(d))?;
                    let t = journal::record(Entry::Dir { path: abs }).map_err(io_err(d))?;
                    if let Err(e) = std::fs::create_dir_all(d) {
                        journal::release(t);
                        return Err(io_err(d)(e));
                    }
                    Some(t)
                } else {
                    None
                };
                let fail = |e: ScratchError| {
                    if let Some(t) = ticket {
                        journal::release(t);
                    }
                    Err(e)
                };
                let root = match TrustedDir::open(d, Strict::NoOtherWriters, "--dir") {
                    Ok(r) => r,
                    Err(e) => return fail(untrusted(d, e)),
                };
                let empty = match std::fs::read_dir(d) {
                    Ok(mut rd) => rd.next().is_none(),
                    Err(e) => return fail(io_err(d)(e)),
                };
                if !empty && std::fs::symlink_metadata(d.join(MARKER)).is_err() {
                    return fail(ScratchError::NotOurs(d.to_path_buf()));
                }
                match claim(&root) {
                    Ok(lock) => Ok(Self {
                        root: d.to_path_buf(),
                        ticket,
                        user_dir: true,
                        keep,
                        _lock: lock,
                    }),
                    Err(e) => fail(e),
                }
            }
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A fresh fake HOME for one case: `<root>/<NN>-<label>/home`. An
    /// existing directory of that name is replaced only if torn made it.
    pub fn case_dir(&self, index: usize, label: &str) -> Result<CaseDir, ScratchError> {
        let dir = self.root.join(format!("{index:02}-{}", slug(label)));
        let io_err = |source| ScratchError::Io {
            path: dir.clone(),
            source,
        };
        if dir.symlink_metadata().is_ok() {
            if !dir.join(CASE_MARKER).is_file() {
                return Err(ScratchError::CaseNotOurs(self.root.clone(), dir));
            }
            journal::remove_tree(&dir).map_err(io_err)?;
        }
        let ticket = journal::record(Entry::Dir { path: dir.clone() }).map_err(io_err)?;
        std::fs::create_dir_all(dir.join("home")).map_err(io_err)?;
        std::fs::write(dir.join(CASE_MARKER), marker_text()).map_err(io_err)?;
        Ok(CaseDir {
            dir,
            ticket,
            keep: self.keep,
        })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(t) = self.ticket.take() {
            if self.keep || self.user_dir {
                journal::release(t);
            } else {
                undo_or_say(t, &self.root);
            }
        }
    }
}

/// Undoes a scratch directory's journal entry; a failure (EBUSY: a mount
/// left inside, EACCES) is said on stderr, and the entry stays in the
/// journal for the supervisor and `torn clean` to retry.
fn undo_or_say(t: Ticket, dir: &Path) {
    if let Err(e) = journal::undo(t) {
        eprintln!(
            "torn: could not remove scratch directory {}: {e}; `torn clean` retries it",
            dir.display()
        );
    }
}

/// One case's directory; removed on drop unless the run keeps scratch files.
pub struct CaseDir {
    dir: PathBuf,
    ticket: Ticket,
    keep: bool,
}

impl CaseDir {
    /// The case directory (writer logs go here, outside HOME).
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The fake HOME inside the case directory.
    pub fn home(&self) -> PathBuf {
        self.dir.join("home")
    }
}

impl Drop for CaseDir {
    fn drop(&mut self) {
        // Whatever the case started dies with it, tagged daemons included.
        crate::guard::procs::sweep(&self.dir);
        if self.keep {
            journal::release(self.ticket);
        } else {
            undo_or_say(self.ticket, &self.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_directory_that_is_not_ours() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("precious.txt"), b"x").unwrap();
        let e = Scratch::new(Some(d.path()), false).err().unwrap();
        assert!(e.to_string().contains("not made by torn"), "{e}");
        assert!(d.path().join("precious.txt").exists());
    }

    #[test]
    fn reuses_its_own_and_cleans_case_dirs() {
        let d = tempfile::tempdir().unwrap();
        let s = Scratch::new(Some(d.path()), false).unwrap();
        let case = s.case_dir(0, "naive truncate").unwrap();
        std::fs::write(case.home().join("f"), b"x").unwrap();
        drop(case);
        drop(s);
        let left: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from(MARKER)]);
        // A folder of the user's that looks like a case folder is refused, not removed.
        std::fs::create_dir_all(d.path().join("00-naive_truncate")).unwrap();
        std::fs::write(d.path().join("00-naive_truncate/notes.txt"), b"mine").unwrap();
        let s = Scratch::new(Some(d.path()), false).unwrap();
        let e = s.case_dir(0, "naive truncate").err().unwrap();
        assert!(e.to_string().contains("was not made by torn"), "{e}");
        assert!(d.path().join("00-naive_truncate/notes.txt").exists());
        std::fs::remove_dir_all(d.path().join("00-naive_truncate")).unwrap();
        // While a run holds the directory, a second one is refused.
        let e = Scratch::new(Some(d.path()), false).err().unwrap();
        assert!(e.to_string().contains("in use by torn run"), "{e}");
        drop(s);
        assert!(
            Scratch::new(Some(d.path()), false).is_ok(),
            "a dir made by torn is reusable"
        );
    }

    #[test]
    fn default_scratch_is_removed() {
        let s = Scratch::new(None, false).unwrap();
        let root = s.root().to_path_buf();
        assert!(root.exists());
        drop(s);
        assert!(!root.exists());
    }
}

#[cfg(test)]
mod dir_tests {
    use super::*;

    #[test]
    fn dir_at_a_file_says_not_a_directory() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("file");
        std::fs::write(&f, b"x").unwrap();
        let e = Scratch::new(Some(&f), false).err().unwrap();
        assert!(e.to_string().ends_with("not a directory"), "{e}");
    }

    #[test]
    fn the_marker_names_the_run() {
        let s = Scratch::new(None, false).unwrap();
        assert_eq!(
            crate::guard::clean::marker_pid(s.root()),
            Some(std::process::id())
        );
    }
}
