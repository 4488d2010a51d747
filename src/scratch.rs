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
//! directory from a live one's.

use std::io;
use std::path::{Path, PathBuf};

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
    keep: bool,
}

fn marker_text() -> String {
    std::process::id().to_string()
}

impl Scratch {
    /// A scratch root: `dir` if given (checked), else a new temp directory.
    pub fn new(dir: Option<&Path>, keep: bool) -> Result<Self, ScratchError> {
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ScratchError::Io { path, source }
        };
        match dir {
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("torn-")
                    .tempdir()
                    .map_err(io_err(&std::env::temp_dir()))?;
                let root = temp.keep();
                let ticket = journal::record(Entry::Dir { path: root.clone() });
                let ticket = match ticket {
                    Ok(t) => t,
                    Err(e) => {
                        let _ = std::fs::remove_dir_all(&root);
                        return Err(ScratchError::Io {
                            path: root,
                            source: e,
                        });
                    }
                };
                std::fs::write(root.join(MARKER), marker_text()).map_err(io_err(&root))?;
                Ok(Self {
                    root,
                    ticket: Some(ticket),
                    keep,
                })
            }
            Some(d) => {
                if d.exists() && !d.is_dir() {
                    return Err(ScratchError::NotADirectory(d.to_path_buf()));
                }
                std::fs::create_dir_all(d).map_err(io_err(d))?;
                let marker = d.join(MARKER);
                let empty = std::fs::read_dir(d).map_err(io_err(d))?.next().is_none();
                if !empty && !marker.exists() {
                    return Err(ScratchError::NotOurs(d.to_path_buf()));
                }
                std::fs::write(&marker, marker_text()).map_err(io_err(d))?;
                Ok(Self {
                    root: d.to_path_buf(),
                    ticket: None,
                    keep,
                })
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
            if self.keep {
                journal::release(t);
            } else {
                let _ = journal::undo(t);
            }
        }
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
            let _ = journal::undo(self.ticket);
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
