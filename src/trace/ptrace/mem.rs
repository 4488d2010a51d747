//! Reading a stopped tracee: its memory (`process_vm_readv`, falling back to
//! `PTRACE_PEEKDATA`), and what `/proc/TID/` says about its descriptors and
//! working directory.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Longest path string read from a tracee (`PATH_MAX`).
const PATH_MAX: usize = 4096;
const PAGE: u64 = 4096;

/// Reads up to `buf.len()` bytes at `addr`; returns how many were read.
pub(super) fn read(tid: i32, addr: u64, buf: &mut [u8]) -> usize {
    if buf.is_empty() {
        return 0;
    }
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: `local` covers `buf`; the kernel checks `remote`.
    let n = unsafe { libc::process_vm_readv(tid, &local, 1, &remote, 1, 0) };
    if n >= 0 {
        return n as usize;
    }
    peek(tid, addr, buf)
}

/// `PTRACE_PEEKDATA`, a word at a time (where `process_vm_readv` is refused).
fn peek(tid: i32, addr: u64, buf: &mut [u8]) -> usize {
    let mut done = 0;
    while done < buf.len() {
        let at = addr + done as u64;
        let aligned = at & !7;
        // SAFETY: PEEKDATA on a stopped tracee; errors come back as errno.
        let word = unsafe {
            *libc::__errno_location() = 0;
            let w = libc::ptrace(libc::PTRACE_PEEKDATA, tid, aligned as *mut libc::c_void, 0usize);
            if w == -1 && *libc::__errno_location() != 0 {
                return done;
            }
            w
        };
        let bytes = word.to_ne_bytes();
        let skip = (at - aligned) as usize;
        let take = (8 - skip).min(buf.len() - done);
        buf[done..done + take].copy_from_slice(&bytes[skip..skip + take]);
        done += take;
    }
    done
}

/// `len` bytes at `addr`, or `None` if they cannot all be read.
pub(super) fn read_vec(tid: i32, addr: u64, len: usize) -> Option<Vec<u8>> {
    let mut v = vec![0u8; len];
    (read(tid, addr, &mut v) == len).then_some(v)
}

/// A little-endian u64 at `addr`.
pub(super) fn read_u64(tid: i32, addr: u64) -> Option<u64> {
    let mut b = [0u8; 8];
    (read(tid, addr, &mut b) == 8).then(|| u64::from_ne_bytes(b))
}

/// The NUL-terminated string at `addr` (without the NUL), read a page at a
/// time so that a string ending just before an unmapped page is still read.
pub(super) fn read_cstr(tid: i32, addr: u64) -> Option<Vec<u8>> {
    if addr == 0 {
        return None;
    }
    let mut out = Vec::new();
    let mut at = addr;
    let mut chunk = [0u8; PAGE as usize];
    while out.len() <= PATH_MAX {
        let len = (PAGE - at % PAGE) as usize;
        let n = read(tid, at, &mut chunk[..len]);
        if n == 0 {
            return None;
        }
        if let Some(end) = chunk[..n].iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..end]);
            return Some(out);
        }
        out.extend_from_slice(&chunk[..n]);
        at += n as u64;
    }
    None
}

/// What `/proc/TID/<what>` links to (`cwd`, `exe`, `fd/3`).
pub(super) fn proc_link(tid: i32, what: &str) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{tid}/{what}")).ok()
}

/// The path behind descriptor `fd`, if it names a file (not `pipe:[..]`,
/// `socket:[..]`, `anon_inode:..`). `Err` when the descriptor is not open.
pub(super) fn fd_link(tid: i32, fd: i32) -> Result<Option<PathBuf>, ()> {
    match proc_link(tid, &format!("fd/{fd}")) {
        Some(p) if p.as_os_str().as_bytes().first() == Some(&b'/') => Ok(Some(p)),
        Some(_) => Ok(None),
        None => Err(()),
    }
}

/// The device of the file behind descriptor `fd`.
pub(super) fn fd_dev(tid: i32, fd: i32) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{tid}/fd/{fd}"))
        .ok()
        .map(|m| m.dev())
}

/// The thread-group id of `tid` (`Tgid:` in `/proc/TID/status`).
pub(super) fn tgid(tid: i32) -> Option<i32> {
    let s = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
}

pub(super) fn os(bytes: &[u8]) -> &OsStr {
    OsStr::from_bytes(bytes)
}
