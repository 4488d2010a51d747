//! What the traced command does between fork and exec (std's `pre_exec`,
//! which runs after std has set up stdio, the working directory and the
//! process group). Only async-signal-safe calls, no allocation.
//!
//! The handshake:
//! 1. close every close-on-exec descriptor now rather than at exec. One of
//!    them is the pipe std's `spawn` blocks on until the exec; closing it
//!    lets `spawn` return in the tracer's thread, which can then attach;
//! 2. wait for one byte on the `go` pipe: the tracer writes it once
//!    `PTRACE_SEIZE` succeeded (EOF instead: the tracer gave up; exit);
//! 3. install the seccomp filter, so every traced call from here on —
//!    starting with the `execve` itself — stops for the tracer.
//!
//! A failure in step 3 is written (its errno, 4 bytes) to the `report` pipe,
//! which the exec would otherwise close, and the child exits with
//! [`SETUP_FAILED`].

use std::os::fd::RawFd;

use libc::sock_filter;

/// Exit code of a child whose filter could not be installed.
pub(super) const SETUP_FAILED: i32 = 126;
/// Exit code of a child the tracer never attached to.
pub(super) const NOT_TRACED: i32 = 127;

/// The `pre_exec` body.
pub(super) fn setup(go: RawFd, report: RawFd, prog: &[sock_filter]) -> std::io::Result<()> {
    // SAFETY: only async-signal-safe system calls on descriptors this
    // process owns; buffers are on the stack.
    unsafe {
        close_cloexec_except(&[go, report]);
        let mut byte = 0u8;
        loop {
            let n = libc::read(go, (&mut byte as *mut u8).cast(), 1);
            if n == 1 {
                break;
            }
            if n < 0 && *libc::__errno_location() == libc::EINTR {
                continue;
            }
            libc::_exit(NOT_TRACED);
        }
        libc::close(go);
        if let Err(errno) = super::seccomp::install(prog) {
            let bytes = errno.to_ne_bytes();
            libc::write(report, bytes.as_ptr().cast(), bytes.len());
            libc::_exit(SETUP_FAILED);
        }
    }
    Ok(())
}

/// Closes every descriptor above 2 that has `FD_CLOEXEC`, except `keep`.
///
/// # Safety
/// Call only in a forked child before exec.
unsafe fn close_cloexec_except(keep: &[RawFd]) {
    let close_if_cloexec = |fd: RawFd| {
        // SAFETY: querying and closing descriptors of this process.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 && flags & libc::FD_CLOEXEC != 0 {
                libc::close(fd);
            }
        }
    };
    // SAFETY: a plain open of a NUL-terminated path.
    let dir = unsafe {
        libc::open(
            c"/proc/self/fd".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if dir < 0 {
        // No /proc: the low descriptors are where std's pipes are.
        (3..4096)
            .filter(|fd| !keep.contains(fd))
            .for_each(close_if_cloexec);
        return;
    }
    let mut buf = [0u8; 2048];
    loop {
        // SAFETY: getdents64 into a stack buffer of the given length.
        let n = unsafe { libc::syscall(libc::SYS_getdents64, dir, buf.as_mut_ptr(), buf.len()) };
        if n <= 0 {
            break;
        }
        let mut batch = [0 as RawFd; 128];
        let mut count = 0;
        let mut off = 0usize;
        while off + 19 < n as usize {
            // struct linux_dirent64 { u64 d_ino; i64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
            let reclen = u16::from_ne_bytes([buf[off + 16], buf[off + 17]]) as usize;
            if reclen == 0 {
                break;
            }
            let mut fd: i64 = 0;
            let mut digits = 0;
            for &b in &buf[off + 19..(off + reclen).min(n as usize)] {
                if !b.is_ascii_digit() {
                    break;
                }
                fd = fd * 10 + (b - b'0') as i64;
                digits += 1;
            }
            let fd = fd as RawFd;
            if digits > 0 && fd > 2 && fd != dir && !keep.contains(&fd) && count < batch.len() {
                batch[count] = fd;
                count += 1;
            }
            off += reclen;
        }
        batch[..count].iter().copied().for_each(close_if_cloexec);
    }
    // SAFETY: closing our own descriptor.
    unsafe { libc::close(dir) };
}
