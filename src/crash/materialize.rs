//! Building a crash state for real: the files, names, contents and modes a
//! crash would leave, in a scratch directory on the run's file system, so it
//! is judged by reading files as a program would (and could be handed to a
//! program's own checker, as ALICE does).

use std::collections::HashMap;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{Mode, mkdirat};
use nix::unistd::{linkat, symlinkat};

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

/// Opens the directory `rel` below `base` one component at a time, each
/// with `O_NOFOLLOW` (creating missing ones mode 0700 when `create`): a name
/// the trace made a symlink, or a `..`, can never lead out of the state.
pub(super) fn open_dir_beneath(base: &OwnedFd, rel: &Path, create: bool) -> io::Result<OwnedFd> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let mut cur = base.try_clone()?;
    for c in rel.components() {
        let Component::Normal(name) = c else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "`{}` in {}: only plain names are built",
                    c.as_os_str().to_string_lossy(),
                    rel.display()
                ),
            ));
        };
        let next = match openat(cur.as_fd(), name, flags, Mode::empty()) {
            Err(Errno::ENOENT) if create => {
                mkdirat(cur.as_fd(), name, Mode::from_bits_truncate(0o700))?;
                openat(cur.as_fd(), name, flags, Mode::empty())?
            }
            Err(Errno::ELOOP | Errno::ENOTDIR) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "{}: a component is a symbolic link or not a directory; not followed",
                        rel.display()
                    ),
                ));
            }
            r => r?,
        };
        cur = next;
    }
    Ok(cur)
}

/// The parent of `rel` (opened beneath `base`) and `rel`'s last name.
fn parent_beneath<'a>(base: &OwnedFd, rel: &'a Path) -> io::Result<(OwnedFd, &'a std::ffi::OsStr)> {
    let name = rel
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("{}: no name", rel.display())))?;
    let dir = open_dir_beneath(base, rel.parent().unwrap_or(Path::new("")), true)?;
    Ok((dir, name))
}

/// Builds `img` (the entries below `l.root`) under `at`, which must not
/// exist. Every entry is made relative to `at`'s descriptor, component by
/// component, without following links (see [`open_dir_beneath`]). A failure
/// (ENOSPC, EACCES, ...) is returned, never judged.
pub fn build(img: &Image, l: &Logical, at: &Path) -> Result<Built, CrashError> {
    std::fs::create_dir(at).map_err(io_at(at))?;
    let built = Built {
        at: at.to_path_buf(),
        removed: false,
    };
    let base: OwnedFd = nix::fcntl::open(
        at,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_at(at)(e.into()))?;
    let mut first_name: HashMap<usize, PathBuf> = HashMap::new();
    let mut dirs = Vec::new();
    for (rel, ino) in img.below(&l.root) {
        let dest = at.join(rel);
        let err = io_at(&dest);
        let (parent, name) = parent_beneath(&base, rel).map_err(io_at(&dest))?;
        let made: io::Result<()> = (|| {
            match &l.inodes[ino].kind {
                Kind::Dir => match mkdirat(parent.as_fd(), name, Mode::from_bits_truncate(0o700)) {
                    Ok(()) | Err(Errno::EEXIST) => dirs.push((rel.to_path_buf(), img.nodes[ino].mode)),
                    Err(e) => return Err(e.into()),
                },
                Kind::Symlink(target) => symlinkat(target.as_path(), parent.as_fd(), name)?,
                Kind::File => match first_name.get(&ino) {
                    Some(first) => {
                        let (from_dir, from_name) = parent_beneath(&base, first)?;
                        linkat(
                            from_dir.as_fd(),
                            from_name,
                            parent.as_fd(),
                            name,
                            AtFlags::empty(),
                        )?;
                    }
                    None => {
                        let fd = openat(
                            parent.as_fd(),
                            name,
                            OFlag::O_WRONLY
                                | OFlag::O_CREAT
                                | OFlag::O_EXCL
                                | OFlag::O_NOFOLLOW
                                | OFlag::O_CLOEXEC,
                            Mode::from_bits_truncate(0o600),
                        )?;
                        let mut f = std::fs::File::from(fd);
                        f.write_all(&img.contents(ino))?;
                        f.set_permissions(std::fs::Permissions::from_mode(img.nodes[ino].mode))?;
                        first_name.insert(ino, rel.to_path_buf());
                    }
                },
            }
            Ok(())
        })();
        made.map_err(err)?;
    }
    // Directory modes last, deepest first, so a read-only one is filled first.
    for (rel, mode) in dirs.into_iter().rev() {
        let dest = at.join(&rel);
        let dir = open_dir_beneath(&base, &rel, false).map_err(io_at(&dest))?;
        nix::sys::stat::fchmod(dir.as_fd(), Mode::from_bits_truncate(mode as nix::libc::mode_t))
            .map_err(|e| io_at(&dest)(e.into()))?;
    }
    Ok(built)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symlinked_directory_is_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let base_path = d.path().join("state");
        std::fs::create_dir(&base_path).unwrap();
        std::fs::create_dir(d.path().join("outside")).unwrap();
        std::os::unix::fs::symlink(d.path().join("outside"), base_path.join("link")).unwrap();
        let base: OwnedFd = std::fs::File::open(&base_path).unwrap().into();
        let e = parent_beneath(&base, Path::new("link/x")).unwrap_err();
        assert!(e.to_string().contains("not followed"), "{e}");
        let e = parent_beneath(&base, Path::new("../x")).unwrap_err();
        assert!(e.to_string().contains("only plain names"), "{e}");
        assert_eq!(std::fs::read_dir(d.path().join("outside")).unwrap().count(), 0);
    }
}
