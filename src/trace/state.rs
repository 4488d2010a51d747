//! Reading a file's real state ([`FileState`]) at a call's exit: what the
//! kernel says the file is, not what the call asked for.
//!
//! Used by both kinds of recording: the ptrace tracer (a tracee's
//! descriptor, through `/proc/TID/fd/N`, while the tracee is stopped at the
//! call's exit) and in-process recording (`tid` 0: this process's own
//! descriptor). Each read is one `stat`, made only at the exit of the calls
//! whose state a recipe needs: an open, a chmod, a rename of a watched file.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::event::FileState;

fn from_meta(m: &std::fs::Metadata) -> FileState {
    FileState {
        dev: m.dev(),
        ino: m.ino(),
        mode: Some(m.mode() & 0o7777),
        created: false,
    }
}

/// `/proc/TID/fd/FD` (`/proc/self/fd/FD` for `tid` 0, in-process).
fn fd_link(tid: u32, fd: i32) -> PathBuf {
    if tid == 0 {
        PathBuf::from(format!("/proc/self/fd/{fd}"))
    } else {
        PathBuf::from(format!("/proc/{tid}/fd/{fd}"))
    }
}

/// The file behind thread `tid`'s descriptor `fd` (`stat` through the
/// `/proc` link reaches the open file itself, whatever its name now).
pub fn of_fd(tid: u32, fd: i32) -> Option<FileState> {
    if fd < 0 {
        return None;
    }
    std::fs::metadata(fd_link(tid, fd)).ok().map(|m| from_meta(&m))
}

/// The file at `path`, following a final symlink as `chmod` does.
pub fn of_path(path: &Path) -> Option<FileState> {
    std::fs::metadata(path).ok().map(|m| from_meta(&m))
}

/// The entry at `path` itself (a renamed symlink stays a symlink).
pub fn of_entry(path: &Path) -> Option<FileState> {
    std::fs::symlink_metadata(path).ok().map(|m| from_meta(&m))
}

/// Whether anything is at `path` now (at an open's entry: whether an
/// `O_CREAT` without `O_EXCL` will create the file or open one that exists).
pub fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_descriptor_and_its_path_are_one_inode_with_the_real_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let f = std::fs::File::create(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        let by_fd = of_fd(0, f.as_raw_fd()).unwrap();
        let by_path = of_path(&p).unwrap();
        assert_eq!(by_fd.id(), by_path.id());
        assert_eq!(by_fd.mode, Some(0o640));
        std::fs::rename(&p, dir.path().join("g")).unwrap();
        assert_eq!(
            of_fd(0, f.as_raw_fd()).unwrap().id(),
            by_path.id(),
            "renamed, same file"
        );
        assert!(!exists(&p) && of_path(&p).is_none());
    }
}
