//! Directories torn trusts, and paths resolved under them.
//!
//! torn runs as root beside users and writers it does not trust. Anything
//! it later deletes, chmods, appends to or reads back on its own word (the
//! undo journal, scratch roots, the markers in them) must live in a
//! directory that only torn's own user could have put there:
//!
//! - owned by the effective uid, not a symlink, and writable by no one else
//!   (a directory torn creates itself is made mode 0700 and must still be
//!   0700 when it is used again);
//! - opened with `O_NOFOLLOW | O_DIRECTORY`, and every file in it opened
//!   relative to that descriptor, again with `O_NOFOLLOW`, so a name swapped
//!   for a symlink after the check is refused by the kernel, not followed.
//!
//! Anything else is refused with a message naming the path and what is
//! wrong with it, and nothing found in it is used or undone.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use nix::fcntl::{OFlag, openat};
use nix::sys::stat::Mode;

/// How strict the mode check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strict {
    /// A directory torn created itself: mode exactly `0700`.
    Private,
    /// A directory the user named (`--dir`): no write permission for group
    /// or other, so no one else can add, swap or remove entries in it.
    NoOtherWriters,
}

/// A directory checked to be torn's own, held open.
#[derive(Debug)]
pub struct TrustedDir {
    fd: OwnedFd,
    path: PathBuf,
}

/// Why a directory or a file in it is not trusted.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error(
        "{path}: {why}; torn trusts only a directory owned by uid {uid} that no one else can write \
         (one torn creates itself is mode 0700), so it neither uses nor undoes anything in it — \
         remove it, or point {hint} elsewhere"
    )]
    Untrusted {
        path: PathBuf,
        why: String,
        uid: u32,
        hint: &'static str,
    },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

impl From<TrustError> for io::Error {
    fn from(e: TrustError) -> Self {
        let kind = match &e {
            TrustError::Untrusted { .. } => io::ErrorKind::PermissionDenied,
            TrustError::Io { source, .. } => source.kind(),
        };
        io::Error::new(kind, e.to_string())
    }
}

fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// What is wrong with a directory of owner `uid` and mode `mode`, if anything.
fn judge(uid: u32, mode: u32, strict: Strict) -> Option<String> {
    if uid != euid() {
        return Some(format!("owned by uid {uid}, not by uid {}", euid()));
    }
    match strict {
        Strict::Private if mode & 0o7777 != 0o700 => Some(format!("mode {:04o}, not 0700", mode & 0o7777)),
        Strict::NoOtherWriters if mode & 0o022 != 0 => Some(format!(
            "mode {:04o}: writable by group or other users",
            mode & 0o7777
        )),
        _ => None,
    }
}

impl TrustedDir {
    /// Opens `path` (never through a symlink) and checks it; `hint` names
    /// what the user can change to use another place (`TMPDIR`, `--dir`).
    pub fn open(path: &Path, strict: Strict, hint: &'static str) -> Result<Self, TrustError> {
        let untrusted = |why: String| TrustError::Untrusted {
            path: path.to_path_buf(),
            why,
            uid: euid(),
            hint,
        };
        let fd = match nix::fcntl::open(
            path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            // O_NOFOLLOW | O_DIRECTORY on a symlink fails with ENOTDIR (or ELOOP).
            Err(nix::errno::Errno::ELOOP | nix::errno::Errno::ENOTDIR) => {
                let link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
                return Err(untrusted(
                    if link {
                        "a symbolic link"
                    } else {
                        "not a directory"
                    }
                    .into(),
                ));
            }
            Err(e) => {
                return Err(TrustError::Io {
                    path: path.to_path_buf(),
                    source: e.into(),
                });
            }
        };
        let st = nix::sys::stat::fstat(fd.as_fd()).map_err(|e| TrustError::Io {
            path: path.to_path_buf(),
            source: e.into(),
        })?;
        if let Some(why) = judge(st.st_uid, st.st_mode, strict) {
            return Err(untrusted(why));
        }
        Ok(Self {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// Creates `path` mode 0700 if it does not exist, then opens and checks
    /// it as [`Strict::Private`]: one that someone else made first is refused.
    pub fn create(path: &Path, hint: &'static str) -> Result<Self, TrustError> {
        match nix::unistd::mkdir(path, Mode::from_bits_truncate(0o700)) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => {
                return Err(TrustError::Io {
                    path: path.to_path_buf(),
                    source: io::Error::new(io::Error::from(e).kind(), format!("creating it: {e}")),
                });
            }
        }
        Self::open(path, Strict::Private, hint)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the entry `name` (one path component) of this directory with
    /// `flags | O_NOFOLLOW | O_CLOEXEC`, and checks it is a regular file owned
    /// by torn's uid: a symlink, FIFO or someone else's file is refused.
    pub fn open_file(&self, name: &str, flags: OFlag, mode: u32) -> io::Result<File> {
        let path = self.path.join(name);
        let bad = |why: String| {
            io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{}: {why}", path.display()),
            )
        };
        if !is_one_component(Path::new(name)) {
            return Err(bad("not a plain file name".into()));
        }
        let fd = openat(
            self.fd.as_fd(),
            name,
            flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
            Mode::from_bits_truncate(mode),
        )
        .map_err(|e| match e {
            nix::errno::Errno::ELOOP => {
                bad("a symbolic link; torn does not follow links in its own directories".into())
            }
            e => io::Error::new(io::Error::from(e).kind(), format!("{}: {e}", path.display())),
        })?;
        let file = File::from(fd);
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(bad("not a regular file".into()));
        }
        if meta.uid() != euid() {
            return Err(bad(format!("owned by uid {}, not by uid {}", meta.uid(), euid())));
        }
        Ok(file)
    }

    /// Reads the regular file `name` in this directory, at most `cap` bytes.
    pub fn read_file(&self, name: &str, cap: u64) -> io::Result<Vec<u8>> {
        let file = self.open_file(name, OFlag::O_RDONLY, 0)?;
        read_capped(file, cap, &self.path.join(name))
    }

    /// The names in this directory.
    pub fn names(&self) -> io::Result<Vec<String>> {
        Ok(std::fs::read_dir(&self.path)?
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect())
    }
}

/// Reads at most `cap` bytes of `file`; more is an error naming `path`.
pub fn read_capped(file: File, cap: u64, path: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is larger than {cap} bytes", path.display()),
        ));
    }
    Ok(bytes)
}

fn is_one_component(p: &Path) -> bool {
    let mut c = p.components();
    matches!(c.next(), Some(Component::Normal(_))) && c.next().is_none()
}

/// `path` relative to `root`, only if every component of it is a plain name
/// (no `..`, no `.`, not absolute). Lexical: see [`walk`] for symlinks.
pub fn relative_under(path: &Path, root: &Path) -> Option<PathBuf> {
    let rel = path.strip_prefix(root).ok()?;
    rel.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| rel.to_path_buf())
}

/// Whether every component of `rel` below `root` exists and is a real
/// directory or (the last) file, never a symlink: what an undo may act on.
/// A missing component is `Ok(false)` (nothing there to undo).
pub fn walk(root: &Path, rel: &Path) -> Result<bool, String> {
    let mut at = root.to_path_buf();
    let n = rel.components().count();
    for (i, c) in rel.components().enumerate() {
        let Component::Normal(name) = c else {
            return Err(format!(
                "{}: `{}` is not a plain name",
                rel.display(),
                c.as_os_str().to_string_lossy()
            ));
        };
        at.push(name);
        match std::fs::symlink_metadata(&at) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(format!("{}: {e}", at.display())),
            Ok(m) if m.file_type().is_symlink() => {
                return Err(format!("{} is a symbolic link", at.display()));
            }
            Ok(m) if i + 1 < n && !m.is_dir() => return Err(format!("{} is not a directory", at.display())),
            Ok(_) => {}
        }
    }
    Ok(true)
}

/// The scratch root `path` lies in (or is), verified: the nearest ancestor
/// holding torn's scratch marker as a regular file, owned by torn's uid and
/// writable by no one else, with nothing but plain names and no symlink
/// between it and `path`. What an undo entry or a leftover may touch.
pub fn scratch_root_of(path: &Path) -> Result<PathBuf, String> {
    if !path.is_absolute()
        || path
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
    {
        return Err(format!(
            "{} is not an absolute path of plain names",
            path.display()
        ));
    }
    let root = path
        .ancestors()
        .find(|d| {
            std::fs::symlink_metadata(d.join(crate::scratch::MARKER)).is_ok_and(|m| m.file_type().is_file())
        })
        .ok_or_else(|| {
            format!(
                "{} is not inside a scratch directory of torn's (no {} above it)",
                path.display(),
                crate::scratch::MARKER
            )
        })?;
    TrustedDir::open(root, Strict::NoOtherWriters, "--dir").map_err(|e| e.to_string())?;
    let rel = relative_under(path, root)
        .ok_or_else(|| format!("{} is not below {}", path.display(), root.display()))?;
    walk(root, &rel)?;
    Ok(root.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_directory_made_by_someone_else_or_too_open_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let mine = d.path().join("mine");
        let t = TrustedDir::create(&mine, "TMPDIR").unwrap();
        assert_eq!(
            std::fs::metadata(&mine).unwrap().permissions().mode() & 0o7777,
            0o700
        );
        drop(t);
        std::fs::set_permissions(&mine, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = TrustedDir::create(&mine, "TMPDIR").unwrap_err().to_string();
        assert!(e.contains("mode 0777, not 0700"), "{e}");
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&mine, &link).unwrap();
        let e = TrustedDir::open(&link, Strict::NoOtherWriters, "--dir")
            .unwrap_err()
            .to_string();
        assert!(e.contains("a symbolic link"), "{e}");
    }

    #[test]
    fn files_are_opened_without_following_links() {
        let d = tempfile::tempdir().unwrap();
        let t = TrustedDir::create(&d.path().join("j"), "TMPDIR").unwrap();
        std::fs::write(d.path().join("outside"), b"secret").unwrap();
        std::os::unix::fs::symlink(d.path().join("outside"), t.path().join("1.jsonl")).unwrap();
        let e = t.read_file("1.jsonl", 100).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        assert!(t.open_file("../outside", OFlag::O_RDONLY, 0).is_err());
        std::fs::write(t.path().join("big"), vec![b'a'; 101]).unwrap();
        assert!(
            t.read_file("big", 100)
                .unwrap_err()
                .to_string()
                .contains("larger than 100")
        );
    }

    #[test]
    fn paths_outside_or_through_links_have_no_root() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir_all(root.join("case/home")).unwrap();
        std::fs::write(root.join(crate::scratch::MARKER), b"1").unwrap();
        assert_eq!(scratch_root_of(&root.join("case/home")).unwrap(), root);
        assert!(scratch_root_of(&root.join("case/../../x")).is_err());
        std::os::unix::fs::symlink("/etc", root.join("case/etc")).unwrap();
        let e = scratch_root_of(&root.join("case/etc/passwd")).unwrap_err();
        assert!(e.contains("symbolic link"), "{e}");
        assert!(scratch_root_of(Path::new("/etc")).is_err());
    }
}
