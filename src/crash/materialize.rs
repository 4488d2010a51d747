//! Building a crash state for real: the files, names, contents and modes a
//! crash would leave, in a scratch directory on the run's file system, so it
//! is judged by reading files as a program would (and could be handed to a
//! program's own checker, as ALICE does).

use std::collections::HashMap;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::CrashError;
use super::disk::Image;
use super::ops::{Kind, Logical};

/// A crash state built under `at`, the stand-in for the target's directory.
/// Removed on drop if [`Built::remove`] was not called.
#[derive(Debug)]
pub struct Built {
    at: PathBuf,
    removed: bool,
}

impl Built {
    /// The directory standing in for the target's directory.
    pub fn dir(&self) -> &Path {
        &self.at
    }

    /// Removes the state; an error here is an I/O error of the run.
    pub fn remove(mut self) -> Result<(), CrashError> {
        self.removed = true;
        remove_tree(&self.at).map_err(io_at(&self.at))
    }
}

impl Drop for Built {
    fn drop(&mut self) {
        if !self.removed {
            let _ = remove_tree(&self.at);
        }
    }
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> CrashError + '_ {
    move |source| CrashError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Removes `path` and everything below it (nothing to do if it is absent),
/// giving back write permission to directories a state made read-only.
pub(super) fn remove_tree(path: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            unlock_dirs(path);
            std::fs::remove_dir_all(path)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// Makes every directory below `path` writable again.
fn unlock_dirs(path: &Path) {
    let mut out = vec![path.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        let _ = std::fs::set_permissions(&out[i], std::fs::Permissions::from_mode(0o700));
        if let Ok(rd) = std::fs::read_dir(&out[i]) {
            for e in rd.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    out.push(e.path());
                }
            }
        }
        i += 1;
    }
}

/// Builds `img` (the entries below `l.root`) under `at`, which must not
/// exist. A failure (ENOSPC, EACCES, ...) is returned, never judged.
pub fn build(img: &Image, l: &Logical, at: &Path) -> Result<Built, CrashError> {
    std::fs::create_dir(at).map_err(io_at(at))?;
    let built = Built {
        at: at.to_path_buf(),
        removed: false,
    };
    let mut first_name: HashMap<usize, PathBuf> = HashMap::new();
    let mut dirs = Vec::new();
    for (rel, ino) in img.below(&l.root) {
        let dest = at.join(rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(io_at(parent))?;
        }
        match &l.inodes[ino].kind {
            Kind::Dir => {
                std::fs::create_dir_all(&dest).map_err(io_at(&dest))?;
                dirs.push((dest, img.nodes[ino].mode));
            }
            Kind::Symlink(target) => std::os::unix::fs::symlink(target, &dest).map_err(io_at(&dest))?,
            Kind::File => match first_name.get(&ino) {
                Some(first) => std::fs::hard_link(first, &dest).map_err(io_at(&dest))?,
                None => {
                    std::fs::write(&dest, img.contents(ino)).map_err(io_at(&dest))?;
                    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(img.nodes[ino].mode))
                        .map_err(io_at(&dest))?;
                    first_name.insert(ino, dest);
                }
            },
        }
    }
    // Directory modes last, deepest first, so a read-only one is filled first.
    for (dir, mode) in dirs.into_iter().rev() {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).map_err(io_at(&dir))?;
    }
    Ok(built)
}
