//! Turning a stopped system call into an [`Event`]: arguments decoded at the
//! seccomp stop (syscall entry), the result and payload read at the
//! syscall-exit stop.
//!
//! Paths are resolved at entry: relative ones against `/proc/TID/cwd` or the
//! directory descriptor, descriptors through the process's [`FdTable`]. The
//! table records the path each descriptor was opened as (updated by renames
//! the tracer sees); a descriptor it does not know (inherited, received over
//! a socket, opened by a call that is not traced) is looked up once in
//! `/proc/TID/fd/N`. Forgetting an entry is always safe — it is looked up
//! again — so the table drops entries on `close`, `dup2` over them, and
//! `exec` (which closes close-on-exec descriptors).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use super::mem;
use crate::trace::record::normalize;
use crate::trace::{Call, Event, FileState, LockKind, LockOp, Recording};

/// Descriptor → the path it names (`None`: not a file, e.g. a pipe), and
/// the inode behind each watched one (read at its open's exit, or when the
/// descriptor is first looked up): a rename changes the name, never the
/// inode, so a write through a temp file's descriptor after the temp was
/// renamed over the target is seen as a write to the target's inode.
#[derive(Debug, Clone, Default)]
pub(super) struct FdTable(HashMap<i32, Option<PathBuf>>, HashMap<i32, FileState>);

/// A process's descriptor table, shared by the threads (and `CLONE_FILES`
/// children) that share it in the kernel.
pub(super) type Files = Rc<RefCell<FdTable>>;

impl FdTable {
    /// `from` was renamed to `to` (swapped with it for `RENAME_EXCHANGE`):
    /// descriptors opened under the old name now name the new one.
    pub fn renamed(&mut self, from: &Path, to: &Path, exchange: bool) {
        for p in self.0.values_mut().flatten() {
            if let Ok(rest) = p.strip_prefix(from) {
                *p = to.join(rest);
            } else if exchange && let Ok(rest) = p.strip_prefix(to) {
                *p = from.join(rest);
            }
        }
    }
}

/// A system call's number and six arguments (x86_64: `orig_rax`, `rdi`,
/// `rsi`, `rdx`, `r10`, `r8`, `r9`).
pub(super) struct Args {
    pub nr: i64,
    pub a: [u64; 6],
}

/// Where a write's payload is in the tracee.
pub(super) enum Bufs {
    One(u64),
    Iov(Vec<(u64, u64)>),
    None,
}

/// A watched call between its entry and its exit.
pub(super) enum Pending {
    Open {
        path: PathBuf,
        flags: i32,
        mode: u32,
    },
    Write {
        path: PathBuf,
        fd: i32,
        offset: Option<u64>,
        len: u64,
        bufs: Bufs,
    },
    /// Fully decoded at entry; only the result is missing.
    Call(Call),
    /// A call through a descriptor: decoded at entry with the file it acts
    /// on (its inode, from the descriptor table).
    OnFd(Call, Option<FileState>),
    /// `sync`, `syncfs`: one `Fsync` per watched directory concerned.
    Calls(Vec<Call>),
    Close {
        fd: i32,
        path: PathBuf,
        file: Option<FileState>,
    },
    CloseRange(Vec<(i32, PathBuf)>),
    /// `dup*`, `fcntl(F_DUPFD*)`: the new descriptor gets `path`; a watched
    /// descriptor `dup2` replaced is closed by it.
    Dup {
        path: Option<PathBuf>,
        file: Option<FileState>,
        replaced: Option<(i32, PathBuf)>,
    },
    /// The started command's own `execve` (to say why it could not start).
    Exec,
}

impl Pending {
    /// The call as known at entry (an `Open`'s fd is -1, a `Write` has no
    /// payload), for observers that act before the kernel does; `None` for
    /// calls no observer needs to see before they return.
    pub(super) fn preview(&self) -> Option<Call> {
        match self {
            Pending::Open { path, flags, mode } => Some(Call::Open {
                path: path.clone(),
                flags: *flags,
                mode: *mode,
                fd: -1,
            }),
            Pending::Write {
                path,
                fd,
                offset,
                len,
                ..
            } => Some(Call::Write {
                path: path.clone(),
                fd: *fd,
                offset: *offset,
                len: *len,
                data: None,
            }),
            Pending::Call(c) | Pending::OnFd(c, _) => Some(c.clone()),
            Pending::Close { fd, path, .. } => Some(Call::Close {
                path: path.clone(),
                fd: *fd,
            }),
            _ => None,
        }
    }
}

/// What a syscall exit changed beyond its own event.
pub(super) struct Renamed {
    pub from: PathBuf,
    pub to: PathBuf,
    pub exchange: bool,
}

/// The thread a call is decoded for.
pub(super) struct Cx<'a> {
    pub tid: i32,
    pub files: &'a Files,
    pub rec: &'a Arc<Recording>,
}

const AT_FDCWD: i32 = libc::AT_FDCWD;
/// `iovcnt` beyond this is refused by the kernel (`UIO_MAXIOV`).
const IOV_MAX: u64 = 1024;

impl Cx<'_> {
    /// The path behind `fd`, from the table or `/proc`.
    pub fn fd_path(&self, fd: i32) -> Option<PathBuf> {
        if fd < 0 {
            return None;
        }
        if let Some(known) = self.files.borrow().0.get(&fd) {
            return known.clone();
        }
        let found = mem::fd_link(self.tid, fd).ok()?;
        let mut files = self.files.borrow_mut();
        files.0.insert(fd, found.clone());
        if found.as_deref().is_some_and(|p| self.watched(p))
            && let Some(st) = crate::trace::state::of_fd(self.tid as u32, fd)
        {
            files.1.insert(fd, FileState { mode: None, ..st });
        }
        found
    }

    /// The inode behind `fd`, as the table knows it (no system call).
    fn fd_file(&self, fd: i32) -> Option<FileState> {
        self.files.borrow().1.get(&fd).copied()
    }

    /// A call through descriptor `fd`, if the file behind it is watched.
    fn on_fd(&self, fd: i32, call: impl FnOnce(PathBuf) -> Call) -> Option<Pending> {
        let path = self.watched_fd(fd)?;
        Some(Pending::OnFd(call(path), self.fd_file(fd)))
    }

    /// `fcntl`: a duplicate descriptor, or a record lock (`struct flock`
    /// starts with `short l_type`).
    fn fcntl(&self, fd: i32, cmd: i32, arg: u64) -> Option<Pending> {
        let kind = match cmd {
            libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => return self.dup(fd, None),
            libc::F_SETLK | libc::F_SETLKW => LockKind::Posix,
            libc::F_OFD_SETLK | libc::F_OFD_SETLKW => LockKind::Ofd,
            _ => return None,
        };
        let raw = mem::read_vec(self.tid, arg, 2)?;
        let op = match i16::from_ne_bytes([raw[0], raw[1]]) as i32 {
            libc::F_RDLCK => LockOp::Shared,
            libc::F_WRLCK => LockOp::Exclusive,
            _ => LockOp::Unlock,
        };
        self.on_fd(fd, |path| Call::Lock { path, kind, op })
    }

    fn dir_path(&self, dirfd: i32) -> Option<PathBuf> {
        if dirfd == AT_FDCWD {
            mem::proc_link(self.tid, "cwd")
        } else {
            self.fd_path(dirfd)
        }
    }

    fn resolve(&self, dirfd: i32, raw: &[u8]) -> Option<PathBuf> {
        let p = Path::new(mem::os(raw));
        if p.is_absolute() {
            return Some(normalize(p));
        }
        Some(normalize(&self.dir_path(dirfd)?.join(p)))
    }

    /// The path string at `addr`, relative to `dirfd`.
    fn at(&self, dirfd: i32, addr: u64) -> Option<PathBuf> {
        let raw = mem::read_cstr(self.tid, addr)?;
        if raw.is_empty() {
            return None;
        }
        self.resolve(dirfd, &raw)
    }

    /// [`at`](Self::at), where an empty string with `AT_EMPTY_PATH` names
    /// `dirfd` itself.
    fn at_empty(&self, dirfd: i32, addr: u64, flags: u64) -> Option<PathBuf> {
        let raw = mem::read_cstr(self.tid, addr)?;
        if raw.is_empty() {
            return (flags & libc::AT_EMPTY_PATH as u64 != 0)
                .then(|| self.fd_path(dirfd))
                .flatten();
        }
        self.resolve(dirfd, &raw)
    }

    fn watched(&self, p: &Path) -> bool {
        self.rec.watched(p)
    }

    fn note(&self, note: String) {
        self.rec.lock().note(note);
    }

    /// The watched path behind `fd`, if it is watched.
    fn watched_fd(&self, fd: i32) -> Option<PathBuf> {
        self.fd_path(fd).filter(|p| self.watched(p))
    }

    fn open(&self, dirfd: i32, addr: u64, flags: i32, mode: u64) -> Option<Pending> {
        let path = self.at(dirfd, addr)?;
        if !self.watched(&path) {
            return None;
        }
        let creating = flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE;
        Some(Pending::Open {
            path,
            flags,
            mode: if creating { mode as u32 & 0o7777 } else { 0 },
        })
    }

    fn write(&self, fd: i32, offset: Option<u64>, len: u64, bufs: Bufs) -> Option<Pending> {
        let path = self.watched_fd(fd)?;
        Some(Pending::Write {
            path,
            fd,
            offset,
            len,
            bufs,
        })
    }

    fn writev(&self, fd: i32, iov: u64, cnt: u64, offset: Option<u64>) -> Option<Pending> {
        let path = self.watched_fd(fd)?;
        let cnt = cnt.min(IOV_MAX) as usize;
        let raw = mem::read_vec(self.tid, iov, cnt * 16).unwrap_or_default();
        let iovs: Vec<(u64, u64)> = raw
            .chunks_exact(16)
            .map(|c| {
                let w = |i: usize| u64::from_ne_bytes(c[i..i + 8].try_into().expect("8 bytes"));
                (w(0), w(8))
            })
            .collect();
        Some(Pending::Write {
            path,
            fd,
            offset,
            len: iovs.iter().map(|(_, l)| l).sum(),
            bufs: Bufs::Iov(iovs),
        })
    }

    fn call(&self, call: Option<Call>) -> Option<Pending> {
        call.filter(|c| self.rec.watches(c)).map(Pending::Call)
    }

    fn dup(&self, old: i32, new: Option<i32>) -> Option<Pending> {
        let path = self.fd_path(old);
        let file = self.fd_file(old);
        let replaced = new.and_then(|new| {
            self.files.borrow_mut().1.remove(&new);
            let known = self.files.borrow_mut().0.remove(&new);
            let p = match known {
                Some(p) => p,
                None => mem::fd_link(self.tid, new).ok().flatten(),
            };
            p.filter(|p| self.watched(p)).map(|p| (new, p))
        });
        let watched = path.as_deref().is_some_and(|p| self.watched(p));
        (watched || replaced.is_some()).then_some(Pending::Dup { path, file, replaced })
    }
}

/// Decodes a call at its seccomp stop. `None`: nothing to record, resume
/// without stopping at its exit.
pub(super) fn entry(cx: &Cx<'_>, r: &Args) -> Option<Pending> {
    use libc::{AT_REMOVEDIR, CLOSE_RANGE_CLOEXEC, O_CREAT, O_TRUNC, O_WRONLY};
    let a = r.a;
    let fd = |i: usize| a[i] as i32;
    match r.nr {
        libc::SYS_open => cx.open(AT_FDCWD, a[0], a[1] as i32, a[2]),
        libc::SYS_creat => cx.open(AT_FDCWD, a[0], O_CREAT | O_WRONLY | O_TRUNC, a[1]),
        libc::SYS_openat => cx.open(fd(0), a[1], a[2] as i32, a[3]),
        libc::SYS_openat2 => {
            // struct open_how { u64 flags; u64 mode; u64 resolve; }
            let how = mem::read_vec(cx.tid, a[2], 16)?;
            let w = |i: usize| u64::from_ne_bytes(how[i..i + 8].try_into().expect("8 bytes"));
            cx.open(fd(0), a[1], w(0) as i32, w(8))
        }
        libc::SYS_write => cx.write(fd(0), None, a[2], Bufs::One(a[1])),
        libc::SYS_pwrite64 => cx.write(fd(0), Some(a[3]), a[2], Bufs::One(a[1])),
        libc::SYS_writev => cx.writev(fd(0), a[1], a[2], None),
        libc::SYS_pwritev => cx.writev(fd(0), a[1], a[2], Some(a[3])),
        libc::SYS_pwritev2 => cx.writev(fd(0), a[1], a[2], (a[3] as i64 != -1).then_some(a[3])),
        libc::SYS_sendfile => cx.write(fd(0), None, a[3], Bufs::None),
        libc::SYS_copy_file_range => {
            let offset = (a[3] != 0).then(|| mem::read_u64(cx.tid, a[3])).flatten();
            cx.write(fd(2), offset, a[4], Bufs::None)
        }
        libc::SYS_truncate => cx.call(
            cx.at(AT_FDCWD, a[0])
                .map(|path| Call::Truncate { path, len: a[1] }),
        ),
        libc::SYS_ftruncate => cx.on_fd(fd(0), |path| Call::Truncate { path, len: a[1] }),
        libc::SYS_fsync | libc::SYS_fdatasync | libc::SYS_sync_file_range => {
            let data_only = r.nr != libc::SYS_fsync;
            cx.on_fd(fd(0), |path| Call::Fsync { path, data_only })
        }
        libc::SYS_syncfs | libc::SYS_sync => {
            let dirs: Vec<Call> = if r.nr == libc::SYS_sync {
                cx.rec.dirs_given().cloned().map(fsync_call).collect()
            } else {
                let dev = mem::fd_dev(cx.tid, fd(0))?;
                cx.rec.dirs_on(dev).cloned().map(fsync_call).collect()
            };
            (!dirs.is_empty()).then_some(Pending::Calls(dirs))
        }
        libc::SYS_rename => cx.call(rename_call(cx.at(AT_FDCWD, a[0]), cx.at(AT_FDCWD, a[1]), 0)),
        libc::SYS_renameat => cx.call(rename_call(cx.at(fd(0), a[1]), cx.at(fd(2), a[3]), 0)),
        libc::SYS_renameat2 => cx.call(rename_call(cx.at(fd(0), a[1]), cx.at(fd(2), a[3]), a[4] as u32)),
        libc::SYS_link => cx.call(link_call(cx.at(AT_FDCWD, a[0]), cx.at(AT_FDCWD, a[1]))),
        libc::SYS_linkat => cx.call(link_call(cx.at_empty(fd(0), a[1], a[4]), cx.at(fd(2), a[3]))),
        libc::SYS_symlink | libc::SYS_symlinkat => {
            let target = PathBuf::from(mem::os(&mem::read_cstr(cx.tid, a[0])?));
            let to = if r.nr == libc::SYS_symlink {
                cx.at(AT_FDCWD, a[1])
            } else {
                cx.at(fd(1), a[2])
            };
            cx.call(to.map(|to| Call::Symlink { target, to }))
        }
        libc::SYS_unlink => cx.call(cx.at(AT_FDCWD, a[0]).map(|path| Call::Unlink { path })),
        libc::SYS_unlinkat => cx.call(cx.at(fd(0), a[1]).map(|path| {
            if a[2] & AT_REMOVEDIR as u64 != 0 {
                Call::Rmdir { path }
            } else {
                Call::Unlink { path }
            }
        })),
        libc::SYS_mkdir => cx.call(cx.at(AT_FDCWD, a[0]).map(|path| Call::Mkdir {
            path,
            mode: a[1] as u32,
        })),
        libc::SYS_mkdirat => cx.call(cx.at(fd(0), a[1]).map(|path| Call::Mkdir {
            path,
            mode: a[2] as u32,
        })),
        libc::SYS_rmdir => cx.call(cx.at(AT_FDCWD, a[0]).map(|path| Call::Rmdir { path })),
        libc::SYS_chmod => cx.call(chmod_call(cx.at(AT_FDCWD, a[0]), a[1])),
        libc::SYS_fchmod => cx.call(chmod_call(cx.fd_path(fd(0)), a[1])),
        libc::SYS_fchmodat => cx.call(chmod_call(cx.at(fd(0), a[1]), a[2])),
        libc::SYS_fchmodat2 => cx.call(chmod_call(cx.at_empty(fd(0), a[1], a[3]), a[2])),
        libc::SYS_chown | libc::SYS_lchown => cx.call(chown_call(cx.at(AT_FDCWD, a[0]), a[1], a[2])),
        libc::SYS_fchown => cx.call(chown_call(cx.fd_path(fd(0)), a[1], a[2])),
        libc::SYS_fchownat => cx.call(chown_call(cx.at_empty(fd(0), a[1], a[4]), a[2], a[3])),
        libc::SYS_close => {
            let file = cx.files.borrow_mut().1.remove(&fd(0));
            let known = cx.files.borrow_mut().0.remove(&fd(0));
            let path = match known {
                Some(p) => p,
                None => mem::fd_link(cx.tid, fd(0)).ok().flatten(),
            };
            let path = path.filter(|p| cx.watched(p))?;
            Some(Pending::Close {
                fd: fd(0),
                path,
                file,
            })
        }
        libc::SYS_close_range => {
            if a[2] & CLOSE_RANGE_CLOEXEC as u64 != 0 {
                return None;
            }
            let (first, last) = (a[0].min(i32::MAX as u64) as i32, a[1].min(i32::MAX as u64) as i32);
            let mut files = cx.files.borrow_mut();
            let gone: Vec<i32> = files
                .0
                .keys()
                .copied()
                .filter(|f| (first..=last).contains(f))
                .collect();
            let mut closed: Vec<(i32, PathBuf)> = gone
                .into_iter()
                .filter_map(|f| {
                    files.1.remove(&f);
                    files.0.remove(&f).flatten().map(|p| (f, p))
                })
                .filter(|(_, p)| cx.watched(p))
                .collect();
            closed.sort_by_key(|(f, _)| *f);
            (!closed.is_empty()).then_some(Pending::CloseRange(closed))
        }
        libc::SYS_dup => cx.dup(fd(0), None),
        libc::SYS_dup2 | libc::SYS_dup3 if a[0] == a[1] => None,
        libc::SYS_dup2 | libc::SYS_dup3 => cx.dup(fd(0), Some(fd(1))),
        libc::SYS_fcntl => cx.fcntl(fd(0), a[1] as i32, a[2]),
        libc::SYS_flock => {
            let op = match a[1] as i32 & !libc::LOCK_NB {
                libc::LOCK_SH => LockOp::Shared,
                libc::LOCK_EX => LockOp::Exclusive,
                _ => LockOp::Unlock,
            };
            cx.on_fd(fd(0), |path| Call::Lock {
                path,
                kind: LockKind::Flock,
                op,
            })
        }
        // Every process's, watched or not: the mask applies to every file it
        // creates afterwards (the result is the mask before).
        libc::SYS_umask => Some(Pending::Call(Call::Umask {
            mask: a[0] as u32 & 0o777,
        })),
        libc::SYS_io_uring_setup => {
            cx.note(
                "io_uring_setup was called: writes submitted through io_uring are invisible to the tracer"
                    .into(),
            );
            None
        }
        libc::SYS_mmap => {
            let p = cx.watched_fd(fd(4))?;
            cx.note(format!(
                "mmap of {} with PROT_WRITE|MAP_SHARED: writes through that memory are invisible to the tracer",
                p.display()
            ));
            cx.on_fd(fd(4), |path| Call::Mmap { path })
        }
        libc::SYS_fallocate => {
            if let Some(p) = cx.watched_fd(fd(0)) {
                cx.note(format!(
                    "fallocate on {} (mode {:#x}): not in the event model",
                    p.display(),
                    a[1]
                ));
            }
            None
        }
        _ => None,
    }
}

fn fsync_call(path: PathBuf) -> Call {
    Call::Fsync {
        path,
        data_only: false,
    }
}

fn rename_call(from: Option<PathBuf>, to: Option<PathBuf>, flags: u32) -> Option<Call> {
    Some(Call::Rename {
        from: from?,
        to: to?,
        flags,
    })
}

fn link_call(from: Option<PathBuf>, to: Option<PathBuf>) -> Option<Call> {
    Some(Call::Link { from: from?, to: to? })
}

fn chmod_call(path: Option<PathBuf>, mode: u64) -> Option<Call> {
    Some(Call::Chmod {
        path: path?,
        // The permission bits: the kernel ignores the file-type bits some
        // programs pass along (`st_mode` as read).
        mode: mode as u32 & 0o7777,
    })
}

fn chown_call(path: Option<PathBuf>, uid: u64, gid: u64) -> Option<Call> {
    Some(Call::Chown {
        path: path?,
        uid: uid as u32,
        gid: gid as u32,
    })
}

/// Up to `cap` bytes of the `n` bytes a write took from `bufs`.
fn payload(tid: i32, bufs: &Bufs, n: i64, cap: usize) -> Option<Arc<[u8]>> {
    if cap == 0 || n <= 0 {
        return None;
    }
    let want = cap.min(n as usize);
    let mut out = vec![0u8; want];
    let got = match bufs {
        Bufs::One(addr) => mem::read(tid, *addr, &mut out),
        Bufs::Iov(iovs) => {
            let mut got = 0;
            for &(base, len) in iovs {
                if got == want {
                    break;
                }
                let take = (want - got).min(len as usize);
                let n = mem::read(tid, base, &mut out[got..got + take]);
                got += n;
                if n < take {
                    break;
                }
            }
            got
        }
        Bufs::None => return None,
    };
    out.truncate(got);
    Some(Arc::from(out))
}

/// Completes a call at its syscall-exit stop: records its event(s) and
/// updates the descriptor table. Returns the rename to apply to every
/// process's table.
pub(super) fn exit(cx: &Cx<'_>, p: Pending, result: i64, start_ns: u64, end_ns: u64) -> Option<Renamed> {
    let push_file = |call: Call, result: i64, file: Option<FileState>| {
        cx.rec.push(Event {
            start_ns,
            end_ns,
            tid: cx.tid as u32,
            call,
            result,
            file,
        })
    };
    let push = |call: Call, result: i64| push_file(call, result, None);
    match p {
        Pending::Open { path, flags, mode } => {
            let fd = if result >= 0 { result as i32 } else { -1 };
            // Read while the tracee is stopped at the exit: the file it
            // really opened, whatever the flags and mode asked for.
            let file = (fd >= 0)
                .then(|| cx.rec.open_state(cx.tid as u32, flags, fd))
                .flatten();
            if fd >= 0 {
                let mut files = cx.files.borrow_mut();
                files.0.insert(fd, Some(path.clone()));
                match file {
                    Some(st) => files.1.insert(fd, FileState { mode: None, ..st }),
                    None => files.1.remove(&fd),
                };
            }
            push_file(
                Call::Open {
                    path,
                    flags,
                    mode,
                    fd,
                },
                result,
                file,
            );
        }
        Pending::Write {
            path,
            fd,
            offset,
            len,
            bufs,
        } => {
            let data = payload(cx.tid, &bufs, result, cx.rec.data_cap());
            let file = cx.fd_file(fd);
            push_file(
                Call::Write {
                    path,
                    fd,
                    offset,
                    // What reached the file: a short write writes less than
                    // asked, and a count the kernel refused is not a length.
                    len: if result >= 0 { result as u64 } else { len },
                    data,
                },
                result,
                file,
            );
        }
        Pending::Call(call) => {
            let renamed = match &call {
                Call::Rename { from, to, flags } if result == 0 => Some(Renamed {
                    from: from.clone(),
                    to: to.clone(),
                    exchange: flags & libc::RENAME_EXCHANGE != 0,
                }),
                _ => None,
            };
            push(call, result);
            return renamed;
        }
        Pending::OnFd(call, file) => push_file(call, result, file),
        Pending::Calls(calls) => calls.into_iter().for_each(|c| push(c, result)),
        Pending::Close { fd, path, file } => push_file(Call::Close { path, fd }, result, file),
        Pending::CloseRange(closed) => {
            if result == 0 {
                closed
                    .into_iter()
                    .for_each(|(fd, path)| push(Call::Close { path, fd }, 0));
            }
        }
        Pending::Dup { path, file, replaced } => {
            if result >= 0 {
                if let Some(path) = path {
                    cx.files.borrow_mut().0.insert(result as i32, Some(path));
                }
                if let Some(file) = file {
                    cx.files.borrow_mut().1.insert(result as i32, file);
                }
                if let Some((fd, path)) = replaced {
                    push(Call::Close { path, fd }, 0);
                }
            }
        }
        Pending::Exec => {}
    }
    None
}
