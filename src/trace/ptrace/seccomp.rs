//! The seccomp BPF filter installed in the traced command before it execs.
//!
//! It returns `SECCOMP_RET_TRACE` — a stop the tracer sees as
//! `PTRACE_EVENT_SECCOMP` — only for the file-system calls the tracer
//! decodes, and `SECCOMP_RET_ALLOW` for everything else, so the tracee runs
//! at full speed between them (strace's `--seccomp-bpf`). The filter is
//! inherited by every child and survives exec; it cannot be removed, which
//! is fine: the tracee is ours until it dies.
//!
//! Hand-built rather than with libseccomp: the program is an x86_64
//! allow-list of a few dozen instructions:
//!
//! 1. `arch != AUDIT_ARCH_X86_64` (an i386 binary, `int 0x80`): trace, with
//!    `SECCOMP_RET_DATA` = [`DATA_FOREIGN`], so the tracer can say it cannot
//!    decode them (numbers differ per ABI);
//! 2. x32 calls (`nr >= __X32_SYSCALL_BIT`): trace with [`DATA_X32`];
//! 3. a traced number: trace;
//! 4. `mmap` with `PROT_WRITE` and `MAP_SHARED` of a file (not anonymous):
//!    trace, only to note that writes through that memory are invisible;
//! 5. `fcntl(F_DUPFD | F_DUPFD_CLOEXEC)`: trace (descriptor tracking);
//!    `fcntl(F_SETLK | F_SETLKW | F_OFD_SETLK | F_OFD_SETLKW)`: trace (the
//!    locks a writer holds: a fixed temp name under a lock is not shared);
//! 6. anything else: allow.

use libc::{
    BPF_ABS, BPF_JEQ, BPF_JGE, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_RET, BPF_W, SECCOMP_RET_ALLOW,
    SECCOMP_RET_TRACE, sock_filter,
};

/// `AUDIT_ARCH_X86_64` (`EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE`);
/// not exported by the libc crate.
pub(super) const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;
/// `__X32_SYSCALL_BIT`.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
/// `SECCOMP_RET_DATA` of a stop for a call of another architecture.
pub(super) const DATA_FOREIGN: u16 = 0xFFFF;
/// `SECCOMP_RET_DATA` of a stop for an x32 call.
pub(super) const DATA_X32: u16 = 0xFFFE;

/// The calls the filter stops on (x86_64 numbers), besides the
/// argument-checked `mmap` and `fcntl`.
pub(super) const TRACED: &[i64] = &[
    libc::SYS_open,
    libc::SYS_openat,
    libc::SYS_openat2,
    libc::SYS_creat,
    libc::SYS_write,
    libc::SYS_pwrite64,
    libc::SYS_writev,
    libc::SYS_pwritev,
    libc::SYS_pwritev2,
    libc::SYS_sendfile,
    libc::SYS_copy_file_range,
    libc::SYS_truncate,
    libc::SYS_ftruncate,
    libc::SYS_fallocate,
    libc::SYS_fsync,
    libc::SYS_fdatasync,
    libc::SYS_sync_file_range,
    libc::SYS_syncfs,
    libc::SYS_sync,
    libc::SYS_rename,
    libc::SYS_renameat,
    libc::SYS_renameat2,
    libc::SYS_link,
    libc::SYS_linkat,
    libc::SYS_symlink,
    libc::SYS_symlinkat,
    libc::SYS_unlink,
    libc::SYS_unlinkat,
    libc::SYS_mkdir,
    libc::SYS_mkdirat,
    libc::SYS_rmdir,
    libc::SYS_chmod,
    libc::SYS_fchmod,
    libc::SYS_fchmodat,
    libc::SYS_fchmodat2,
    libc::SYS_chown,
    libc::SYS_fchown,
    libc::SYS_fchownat,
    libc::SYS_lchown,
    libc::SYS_close,
    libc::SYS_close_range,
    libc::SYS_dup,
    libc::SYS_dup2,
    libc::SYS_dup3,
    libc::SYS_execve,
    libc::SYS_execveat,
    libc::SYS_io_uring_setup,
    // The writer's own mask and locks: real file state (see `trace::state`).
    libc::SYS_umask,
    libc::SYS_flock,
];

/// Offsets into `struct seccomp_data`.
const NR: u32 = 0;
const ARCH: u32 = 4;
/// Low 32 bits of argument `i` (little endian).
const fn arg(i: u32) -> u32 {
    16 + 8 * i
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Label {
    Allow,
    Trace,
    Foreign,
    X32,
    Fcntl,
}

#[derive(Clone, Copy)]
enum To {
    Next,
    L(Label),
}

enum Item {
    Insn { code: u32, k: u32, jt: To, jf: To },
    Here(Label),
}

fn ld(off: u32) -> Item {
    Item::Insn {
        code: BPF_LD | BPF_W | BPF_ABS,
        k: off,
        jt: To::Next,
        jf: To::Next,
    }
}

fn jump(op: u32, k: u32, jt: To, jf: To) -> Item {
    Item::Insn {
        code: BPF_JMP | op | BPF_K,
        k,
        jt,
        jf,
    }
}

fn ret(k: u32) -> Item {
    Item::Insn {
        code: BPF_RET | BPF_K,
        k,
        jt: To::Next,
        jf: To::Next,
    }
}

/// The filter program.
pub(super) fn program() -> Vec<sock_filter> {
    use Label::*;
    use To::{L, Next};
    let mut items = vec![
        ld(ARCH),
        jump(BPF_JEQ, AUDIT_ARCH_X86_64, Next, L(Foreign)),
        ld(NR),
        jump(BPF_JGE, X32_SYSCALL_BIT, L(X32), Next),
    ];
    items.extend(TRACED.iter().map(|&nr| jump(BPF_JEQ, nr as u32, L(Trace), Next)));
    items.extend([
        jump(BPF_JEQ, libc::SYS_mmap as u32, Next, L(Fcntl)),
        ld(arg(2)),
        jump(BPF_JSET, libc::PROT_WRITE as u32, Next, L(Allow)),
        ld(arg(3)),
        // MAP_SHARED and MAP_SHARED_VALIDATE both have bit 0; MAP_PRIVATE does not.
        jump(BPF_JSET, libc::MAP_SHARED as u32, Next, L(Allow)),
        jump(BPF_JSET, libc::MAP_ANONYMOUS as u32, L(Allow), L(Trace)),
        Item::Here(Fcntl),
        jump(BPF_JEQ, libc::SYS_fcntl as u32, Next, L(Allow)),
        ld(arg(1)),
        jump(BPF_JEQ, libc::F_DUPFD as u32, L(Trace), Next),
        jump(BPF_JEQ, libc::F_SETLK as u32, L(Trace), Next),
        jump(BPF_JEQ, libc::F_SETLKW as u32, L(Trace), Next),
        jump(BPF_JEQ, libc::F_OFD_SETLK as u32, L(Trace), Next),
        jump(BPF_JEQ, libc::F_OFD_SETLKW as u32, L(Trace), Next),
        jump(BPF_JEQ, libc::F_DUPFD_CLOEXEC as u32, L(Trace), L(Allow)),
        Item::Here(Allow),
        ret(SECCOMP_RET_ALLOW),
        Item::Here(Trace),
        ret(SECCOMP_RET_TRACE),
        Item::Here(Foreign),
        ret(SECCOMP_RET_TRACE | DATA_FOREIGN as u32),
        Item::Here(X32),
        ret(SECCOMP_RET_TRACE | DATA_X32 as u32),
    ]);
    assemble(&items)
}

/// Resolves labels into forward jump offsets.
fn assemble(items: &[Item]) -> Vec<sock_filter> {
    let mut at = Vec::new();
    let mut n = 0usize;
    for it in items {
        match it {
            Item::Here(l) => at.push((*l, n)),
            Item::Insn { .. } => n += 1,
        }
    }
    let target = |l: Label| at.iter().find(|(x, _)| *x == l).expect("label placed").1;
    let mut out = Vec::with_capacity(n);
    for it in items {
        if let Item::Insn { code, k, jt, jf } = *it {
            let i = out.len();
            let off = |t: To| -> u8 {
                match t {
                    To::Next => 0,
                    To::L(l) => u8::try_from(target(l) - (i + 1)).expect("BPF jumps are short and forward"),
                }
            };
            out.push(sock_filter {
                code: code as u16,
                jt: off(jt),
                jf: off(jf),
                k,
            });
        }
    }
    out
}

/// Installs `prog` in the calling process, after `PR_SET_NO_NEW_PRIVS`
/// (required to install a filter without `CAP_SYS_ADMIN`, and it means
/// set-user-ID bits are not honoured by execs in the traced tree).
/// Async-signal-safe: runs between fork and exec. Returns the errno.
pub(super) fn install(prog: &[sock_filter]) -> Result<(), i32> {
    let errno = || {
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EINVAL)
    };
    // SAFETY: plain prctl and seccomp calls with a valid program that
    // outlives them.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(errno());
        }
        let fprog = libc::sock_fprog {
            len: prog.len() as u16,
            filter: prog.as_ptr() as *mut sock_filter,
        };
        if libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &fprog as *const libc::sock_fprog,
        ) != 0
        {
            return Err(errno());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A classic-BPF interpreter for the instructions `program` uses.
    fn run(prog: &[sock_filter], nr: i64, arch: u32, args: [u64; 6]) -> u32 {
        let word = |off: u32| -> u32 {
            match off {
                NR => nr as u32,
                ARCH => arch,
                o => args[((o - 16) / 8) as usize] as u32,
            }
        };
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let i = prog[pc];
            let code = i.code as u32;
            pc += 1;
            if code == BPF_LD | BPF_W | BPF_ABS {
                acc = word(i.k);
            } else if code == BPF_RET | BPF_K {
                return i.k;
            } else {
                let taken = match code & 0xf0 {
                    BPF_JEQ => acc == i.k,
                    BPF_JGE => acc >= i.k,
                    BPF_JSET => acc & i.k != 0,
                    _ => panic!("unexpected opcode {code:#x}"),
                };
                pc += if taken { i.jt } else { i.jf } as usize;
            }
        }
    }

    #[test]
    fn traces_only_the_calls_of_interest() {
        let p = program();
        assert!(p.len() < 100);
        let x = |nr, args| run(&p, nr, AUDIT_ARCH_X86_64, args);
        let trace = SECCOMP_RET_TRACE;
        assert_eq!(x(libc::SYS_write, [1, 0, 5, 0, 0, 0]), trace);
        assert_eq!(x(libc::SYS_renameat2, [0; 6]), trace);
        assert_eq!(x(libc::SYS_io_uring_setup, [0; 6]), trace);
        assert_eq!(x(libc::SYS_getpid, [0; 6]), SECCOMP_RET_ALLOW);
        assert_eq!(x(libc::SYS_read, [0; 6]), SECCOMP_RET_ALLOW);
        let (w, r) = (libc::PROT_WRITE as u64, libc::PROT_READ as u64);
        let (sh, pr, anon) = (
            libc::MAP_SHARED as u64,
            libc::MAP_PRIVATE as u64,
            libc::MAP_ANONYMOUS as u64,
        );
        assert_eq!(x(libc::SYS_mmap, [0, 4096, r | w, sh, 3, 0]), trace);
        assert_eq!(
            x(libc::SYS_mmap, [0, 4096, r | w, sh | anon, u64::MAX, 0]),
            SECCOMP_RET_ALLOW
        );
        assert_eq!(x(libc::SYS_mmap, [0, 4096, r | w, pr, 3, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(x(libc::SYS_mmap, [0, 4096, r, sh, 3, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(x(libc::SYS_fcntl, [3, libc::F_DUPFD as u64, 10, 0, 0, 0]), trace);
        assert_eq!(
            x(libc::SYS_fcntl, [3, libc::F_DUPFD_CLOEXEC as u64, 0, 0, 0, 0]),
            trace
        );
        assert_eq!(
            x(libc::SYS_fcntl, [3, libc::F_SETFD as u64, 1, 0, 0, 0]),
            SECCOMP_RET_ALLOW
        );
        assert_eq!(x(libc::SYS_fcntl, [3, libc::F_SETLKW as u64, 0, 0, 0, 0]), trace);
        assert_eq!(
            x(libc::SYS_fcntl, [3, libc::F_OFD_SETLK as u64, 0, 0, 0, 0]),
            trace
        );
        assert_eq!(
            x(libc::SYS_fcntl, [3, libc::F_GETLK as u64, 0, 0, 0, 0]),
            SECCOMP_RET_ALLOW
        );
        assert_eq!(x(libc::SYS_flock, [3, libc::LOCK_EX as u64, 0, 0, 0, 0]), trace);
        assert_eq!(x(libc::SYS_umask, [0o77, 0, 0, 0, 0, 0]), trace);
        assert_eq!(x(0x4000_0001, [0; 6]), trace | DATA_X32 as u32);
        assert_eq!(run(&p, 4, 0x4000_0003, [0; 6]), trace | DATA_FOREIGN as u32);
    }
}
