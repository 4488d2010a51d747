//! Scratch directories: the only place torn writes test files.
//!
//! By default a fresh directory under the system temp dir, removed at the
//! end. With `--dir`, a directory that is empty or was made by torn (it holds
//! a marker file); torn removes what it created there and nothing else.

use std::io;
use std::path::{Path, PathBuf};

/// Name of the file that marks a directory as torn's own.
pub const MARKER: &str = ".torn-scratch";

/// Why a scratch directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScratchError {
    #[error(
        "--dir {0}: directory is not empty and was not made by torn (no {MARKER} file); \
         torn only writes into empty directories or its own, so nothing of yours is overwritten"
    )]
    NotOurs(PathBuf),
    #[error("--dir {path}")]
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
    temp: Option<tempfile::TempDir>,
    keep: bool,
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
                std::fs::write(temp.path().join(MARKER), b"").map_err(io_err(temp.path()))?;
                Ok(Self {
                    root: temp.path().to_path_buf(),
                    temp: Some(temp),
                    keep,
                })
            }
            Some(d) => {
                std::fs::create_dir_all(d).map_err(io_err(d))?;
                let marker = d.join(MARKER);
                let empty = std::fs::read_dir(d).map_err(io_err(d))?.next().is_none();
                if !empty && !marker.exists() {
                    return Err(ScratchError::NotOurs(d.to_path_buf()));
                }
                std::fs::write(&marker, b"").map_err(io_err(d))?;
                Ok(Self {
                    root: d.to_path_buf(),
                    temp: None,
                    keep,
                })
            }
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A fresh fake HOME for one case: `<root>/<NN>-<label>/home`.
    pub fn case_dir(&self, index: usize, label: &str) -> io::Result<CaseDir> {
        let dir = self.root.join(format!("{index:02}-{}", slug(label)));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(dir.join("home"))?;
        Ok(CaseDir { dir, keep: self.keep })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.keep
            && let Some(t) = self.temp.take()
        {
            let _ = t.keep();
        }
    }
}

/// One case's directory; removed on drop unless the run keeps scratch files.
pub struct CaseDir {
    dir: PathBuf,
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
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
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
