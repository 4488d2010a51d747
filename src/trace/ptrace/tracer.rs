//! The tracer thread: starts the command, attaches, and handles every stop
//! of every task in the traced tree until none is left.
//!
//! The thread that forks the command must be the one that traces it and
//! waits for it: ptrace requests are accepted only from the tracing thread,
//! and `waitpid(-1, __WALL | __WNOTHREAD)` here sees exactly this thread's
//! child and tracees — never a process another thread of torn started.
//!
//! Stops handled (with `PTRACE_SEIZE` semantics):
//! - seccomp stop: decode the call; resume with `PTRACE_SYSCALL` to stop at
//!   its exit if it is to be recorded, else `PTRACE_CONT`;
//! - syscall-exit stop (`SIGTRAP | 0x80`): record, `PTRACE_CONT`;
//! - fork / vfork / clone events: adopt the new task (its descriptor table
//!   shared or copied after the clone flags); a new task's own first stop
//!   may arrive before its parent's event and is adopted from `/proc`;
//! - exec event: a fresh descriptor table; a non-leader thread that execs
//!   takes the leader's id (`PTRACE_GETEVENTMSG` gives the old one);
//! - group-stop (`PTRACE_EVENT_STOP` with a stop signal): `PTRACE_LISTEN`,
//!   so the task stays stopped until `SIGCONT`, as it would untraced;
//! - signal-delivery stop: re-inject the signal;
//! - exit: forget the task; the command's own exit is its status.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;

use super::decode::{self, Args, Cx, Files, Pending};
use super::{Shared, TraceError, child, mem, seccomp};
use crate::trace::{Recording, now_ns};

/// What the caller of `spawn` gets once the command has exec'd.
pub(super) struct Started {
    pub pid: u32,
    pub stdin: Option<ChildStdin>,
    pub stdout: Option<ChildStdout>,
    pub stderr: Option<ChildStderr>,
}

type Reply = SyncSender<Result<Started, TraceError>>;

const OPTIONS: i32 = libc::PTRACE_O_TRACESYSGOOD
    | libc::PTRACE_O_TRACEFORK
    | libc::PTRACE_O_TRACEVFORK
    | libc::PTRACE_O_TRACECLONE
    | libc::PTRACE_O_TRACEEXEC
    | libc::PTRACE_O_TRACESECCOMP
    | libc::PTRACE_O_EXITKILL;

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// A ptrace request; `Err(errno)` on failure.
fn pt(req: libc::c_uint, tid: i32, addr: usize, data: usize) -> Result<libc::c_long, i32> {
    // SAFETY: requests on our own tracees; `addr`/`data` are integers or
    // pointers to live locals, as each request expects.
    unsafe {
        *libc::__errno_location() = 0;
        let r = libc::ptrace(req, tid, addr as *mut libc::c_void, data as *mut libc::c_void);
        if r == -1 && *libc::__errno_location() != 0 {
            Err(errno())
        } else {
            Ok(r)
        }
    }
}

fn event_msg(tid: i32) -> Option<u64> {
    let mut msg: libc::c_ulong = 0;
    pt(libc::PTRACE_GETEVENTMSG, tid, 0, &mut msg as *mut _ as usize)
        .ok()
        .map(|_| msg)
}

fn regs(tid: i32) -> Option<libc::user_regs_struct> {
    // SAFETY: user_regs_struct is plain data; zeroed is a valid value.
    let mut r: libc::user_regs_struct = unsafe { std::mem::zeroed() };
    pt(libc::PTRACE_GETREGS, tid, 0, &mut r as *mut _ as usize)
        .ok()
        .map(|_| r)
}

fn kill(tid: i32) {
    // SAFETY: signalling a task we trace (not yet reaped by us).
    unsafe { libc::kill(tid, libc::SIGKILL) };
}

fn pipe(flags: i32) -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), flags) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fresh descriptors owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The tracer thread's body: spawn, attach, trace until nothing is left.
pub(super) fn run(mut cmd: Command, rec: Arc<Recording>, shared: Arc<Shared>, reply: Reply) {
    let pipes = pipe(libc::O_CLOEXEC).and_then(|go| Ok((go, pipe(libc::O_CLOEXEC | libc::O_NONBLOCK)?)));
    let ((go_r, go_w), (report_r, report_w)) = match pipes {
        Ok(p) => p,
        Err(e) => {
            let _ = reply.send(Err(TraceError::Tracer(format!("cannot create a pipe: {e}"))));
            return;
        }
    };
    let prog = seccomp::program();
    let (go_fd, report_fd) = (go_r.as_raw_fd(), report_w.as_raw_fd());
    // SAFETY: `child::setup` is async-signal-safe and allocates nothing.
    unsafe {
        cmd.pre_exec(move || child::setup(go_fd, report_fd, &prog));
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let _ = reply.send(Err(TraceError::Start(e)));
            return;
        }
    };
    drop((go_r, report_w));
    let pid = child.id() as i32;
    let started = Started {
        pid: child.id(),
        stdin: child.stdin.take(),
        stdout: child.stdout.take(),
        stderr: child.stderr.take(),
    };
    // std's Child neither waits nor kills on drop: this thread reaps.
    drop(child);
    if let Err(e) = pt(libc::PTRACE_SEIZE, pid, 0, OPTIONS as usize) {
        kill(pid);
        // SAFETY: reaping our own child.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        let why = std::io::Error::from_raw_os_error(e);
        let err = if e == libc::EPERM {
            TraceError::NotPermitted(format!(
                "PTRACE_SEIZE: {why} (already traced, or ptrace restricted by kernel.yama.ptrace_scope or a seccomp policy)"
            ))
        } else {
            TraceError::Tracer(format!("PTRACE_SEIZE: {why}"))
        };
        let _ = reply.send(Err(err));
        return;
    }
    rec.lock().summary.ptrace = true;
    let mut t = Tracer {
        rec,
        shared,
        root: pid,
        root_execd: false,
        root_gone: false,
        exec_errno: None,
        tasks: HashMap::new(),
        start: Some((reply, started)),
        report: File::from(report_r),
        finished: false,
    };
    t.adopt(pid, None);
    // SAFETY: one byte to our own pipe.
    let sent = unsafe { libc::write(go_w.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
    drop(go_w);
    if sent != 1 {
        kill(pid);
    }
    t.run();
}

struct Task {
    tgid: i32,
    files: Files,
    /// A watched call between its seccomp stop and its exit: what it is,
    /// when it was entered, its number.
    pending: Option<(Pending, u64, i64)>,
}

struct Tracer {
    rec: Arc<Recording>,
    shared: Arc<Shared>,
    root: i32,
    root_execd: bool,
    root_gone: bool,
    /// Why the command's last `execve` failed, before it ever exec'd.
    exec_errno: Option<i32>,
    tasks: HashMap<i32, Task>,
    /// Until the command has exec'd: where to say so, and its stdio.
    start: Option<(Reply, Started)>,
    /// The child's report of a failed filter install.
    report: File,
    /// Every traced task has been reaped.
    finished: bool,
}

impl Tracer {
    fn run(&mut self) {
        loop {
            let mut status = 0;
            // SAFETY: waiting for our own child and tracees only (__WNOTHREAD).
            let tid = unsafe { libc::waitpid(-1, &mut status, libc::__WALL | libc::__WNOTHREAD) };
            if tid < 0 {
                match errno() {
                    libc::EINTR => continue,
                    libc::ECHILD => {
                        // No child and no tracee left.
                        self.finished = true;
                        break;
                    }
                    _ => break,
                }
            }
            self.event(tid, status);
            self.report_start();
        }
    }

    fn killing(&self) -> bool {
        self.shared.killing.load(Ordering::Acquire)
    }

    fn event(&mut self, tid: i32, status: i32) {
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            return self.gone(tid, status);
        }
        if !libc::WIFSTOPPED(status) {
            return;
        }
        if !self.tasks.contains_key(&tid) {
            self.adopt(tid, None);
        }
        if self.killing() {
            return kill(tid);
        }
        let sig = libc::WSTOPSIG(status);
        match status >> 16 {
            0 if sig == libc::SIGTRAP | 0x80 => self.syscall_exit(tid),
            // Signal-delivery stop: deliver it.
            0 => self.resume(tid, sig),
            libc::PTRACE_EVENT_SECCOMP => self.seccomp_stop(tid),
            libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK | libc::PTRACE_EVENT_CLONE => self.forked(tid),
            libc::PTRACE_EVENT_EXEC => self.exec(tid),
            libc::PTRACE_EVENT_STOP
                if matches!(sig, libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU) =>
            {
                // Group-stop: stay stopped until SIGCONT, but report it.
                let _ = pt(libc::PTRACE_LISTEN, tid, 0, 0);
            }
            _ => self.resume(tid, 0),
        }
    }

    /// Restarts `tid`, stopping at its syscall exit if a call is pending.
    fn resume(&self, tid: i32, sig: i32) {
        let pending = self.tasks.get(&tid).is_some_and(|t| t.pending.is_some());
        let req = if pending {
            libc::PTRACE_SYSCALL
        } else {
            libc::PTRACE_CONT
        };
        let _ = pt(req, tid, 0, sig as usize);
    }

    /// Starts following `tid`: from its parent's clone `(parent, flags)`, or
    /// from what `/proc` says when its first stop came first.
    fn adopt(&mut self, tid: i32, from: Option<(i32, u64)>) {
        let parent = from.and_then(|(p, flags)| self.tasks.get(&p).map(|t| (t, flags)));
        let (tgid, files) = match parent {
            Some((p, flags)) => {
                let tgid = if flags & libc::CLONE_THREAD as u64 != 0 {
                    p.tgid
                } else {
                    tid
                };
                let files = if flags & libc::CLONE_FILES as u64 != 0 {
                    p.files.clone()
                } else {
                    Rc::new(p.files.borrow().clone().into())
                };
                (tgid, files)
            }
            None => {
                let tgid = mem::tgid(tid).unwrap_or(tid);
                let files = match self.tasks.get(&tgid) {
                    Some(leader) if tgid != tid => leader.files.clone(),
                    _ => Files::default(),
                };
                (tgid, files)
            }
        };
        self.tasks.insert(
            tid,
            Task {
                tgid,
                files,
                pending: None,
            },
        );
        {
            let mut r = self.rec.lock();
            r.summary.threads += 1;
            if tgid == tid {
                r.summary.processes += 1;
            }
        }
        if tgid == tid {
            // A pidfd lets `Traced::kill` signal the process from another
            // thread without racing our reaping (the pid cannot be reused
            // under it).
            // SAFETY: pidfd_open returns a new descriptor we own, or -1.
            let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, tid, 0) } as i32;
            let mut st = self.shared.lock();
            if fd >= 0 {
                // SAFETY: fresh descriptor owned by nobody else.
                st.pidfds.insert(tid, unsafe { OwnedFd::from_raw_fd(fd) });
            }
            if self.killing() {
                kill(tid);
            }
        }
    }

    fn forked(&mut self, parent: i32) {
        if let Some(new) = event_msg(parent).map(|m| m as i32)
            && !self.tasks.contains_key(&new)
        {
            let flags = regs(parent).map_or(0, |r| clone_flags(parent, &r));
            self.adopt(new, Some((parent, flags)));
        }
        self.resume(parent, 0);
    }

    fn exec(&mut self, tid: i32) {
        let former = event_msg(tid).map_or(tid, |m| m as i32);
        let mut task = self
            .tasks
            .remove(&former)
            .or_else(|| self.tasks.remove(&tid))
            .expect("the exec'ing task was adopted");
        if former != tid {
            // The old leader vanished without an exit report.
            self.tasks.remove(&tid);
        }
        task.pending = None;
        task.tgid = tid;
        task.files = Files::default();
        self.tasks.insert(tid, task);
        if tid == self.root {
            self.root_execd = true;
        }
        if let Some(exe) = mem::proc_link(tid, "exe") {
            let mut r = self.rec.lock();
            r.exec(exe.display().to_string());
            if let Some(note) = set_id_note(&exe) {
                r.note(note);
            }
        }
        self.resume(tid, 0);
    }

    fn seccomp_stop(&mut self, tid: i32) {
        self.rec.lock().summary.calls_seen += 1;
        let data = event_msg(tid).unwrap_or(0) as u16;
        if data == seccomp::DATA_FOREIGN || data == seccomp::DATA_X32 {
            self.rec.lock().note(format!(
                "{} system calls were made: they are not decoded, the trace may miss calls",
                if data == seccomp::DATA_X32 {
                    "x32"
                } else {
                    "32-bit (i386)"
                }
            ));
            return self.resume(tid, 0);
        }
        let Some(r) = regs(tid) else { return };
        let args = Args {
            nr: r.orig_rax as i64,
            a: [r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9],
        };
        let before_exec = tid == self.root && !self.root_execd;
        if before_exec && args.nr == libc::SYS_write {
            // Only std's report of a failed exec writes before the exec
            // (to a pipe already closed): the command could not start.
            return kill(tid);
        }
        let start = now_ns();
        let pending = if before_exec && matches!(args.nr, libc::SYS_execve | libc::SYS_execveat) {
            Some(Pending::Exec)
        } else {
            let task = &self.tasks[&tid];
            let cx = Cx {
                tid,
                files: &task.files,
                rec: &self.rec,
            };
            decode::entry(&cx, &args)
        };
        // Observers (mutation windows, perturbation) act while the thread is
        // still stopped before the call: a window opens before the kernel acts.
        if let Some(call) = pending.as_ref().and_then(decode::Pending::preview) {
            self.rec.entry(tid as u32, &call);
        }
        if let Some(task) = self.tasks.get_mut(&tid) {
            task.pending = pending.map(|p| (p, start, args.nr));
        }
        self.resume(tid, 0);
    }

    fn syscall_exit(&mut self, tid: i32) {
        let Some((p, start, nr)) = self.tasks.get_mut(&tid).and_then(|t| t.pending.take()) else {
            return self.resume(tid, 0);
        };
        let Some(r) = regs(tid) else { return };
        let end = now_ns();
        if r.orig_rax as i64 != nr {
            return self.resume(tid, 0);
        }
        let result = r.rax as i64;
        if let Pending::Exec = p {
            if result < 0 {
                self.exec_errno = Some(-result as i32);
            }
            return self.resume(tid, 0);
        }
        // ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND, ERESTART_RESTARTBLOCK:
        // a signal interrupted the call; it is restarted (and recorded then)
        // or fails with EINTR.
        if (-516..=-512).contains(&result) || result == -(libc::EINTR as i64) {
            self.rec.lock().summary.interrupted += 1;
            if result != -(libc::EINTR as i64) {
                return self.resume(tid, 0);
            }
        }
        let renamed = {
            let task = &self.tasks[&tid];
            let cx = Cx {
                tid,
                files: &task.files,
                rec: &self.rec,
            };
            decode::exit(&cx, p, result, start, end)
        };
        if let Some(rn) = renamed {
            let mut seen: Vec<*const ()> = Vec::new();
            for t in self.tasks.values() {
                let ptr = Rc::as_ptr(&t.files) as *const ();
                if !seen.contains(&ptr) {
                    seen.push(ptr);
                    t.files.borrow_mut().renamed(&rn.from, &rn.to, rn.exchange);
                }
            }
        }
        self.resume(tid, 0);
    }

    fn gone(&mut self, tid: i32, status: i32) {
        let task = self.tasks.remove(&tid);
        if task
            .as_ref()
            .and_then(|t| t.pending.as_ref())
            .is_some_and(|(p, ..)| !matches!(p, Pending::Exec))
        {
            self.rec.lock().summary.unfinished += 1;
        }
        let mut st = self.shared.lock();
        st.pidfds.remove(&tid);
        if tid == self.root {
            self.root_gone = true;
            st.root_status = Some(ExitStatus::from_raw(status));
            self.shared.cond.notify_all();
        }
    }

    /// Tells `spawn` how the start went, once it is known.
    fn report_start(&mut self) {
        if !(self.root_execd || self.root_gone) {
            return;
        }
        let Some((reply, started)) = self.start.take() else {
            return;
        };
        if self.root_execd {
            let _ = reply.send(Ok(started));
            return;
        }
        let mut b = [0u8; 4];
        let err = if self.report.read(&mut b).ok() == Some(4) {
            let e = i32::from_ne_bytes(b);
            let why = std::io::Error::from_raw_os_error(e);
            if matches!(e, libc::EINVAL | libc::ENOSYS | libc::EACCES | libc::EPERM) {
                TraceError::Unsupported(format!("cannot install the seccomp filter: {why}"))
            } else {
                TraceError::Tracer(format!("cannot install the seccomp filter: {why}"))
            }
        } else if let Some(e) = self.exec_errno {
            TraceError::Start(std::io::Error::from_raw_os_error(e))
        } else {
            TraceError::Start(std::io::Error::other("the command exited before it could run"))
        };
        let _ = reply.send(Err(err));
    }
}

impl Drop for Tracer {
    /// However the loop ended (normally at ECHILD, or by a panic), nothing
    /// traced is left running or stopped, and waiters are woken. Processes
    /// are killed through their pidfds, never by a pid that may have been
    /// reused; their threads die with them.
    fn drop(&mut self) {
        if !self.finished {
            self.shared.killing.store(true, Ordering::Release);
            for fd in self.shared.lock().pidfds.values() {
                super::pidfd_kill(fd);
            }
            loop {
                let mut status = 0;
                // SAFETY: reaping our own child and tracees.
                let tid = unsafe { libc::waitpid(-1, &mut status, libc::__WALL | libc::__WNOTHREAD) };
                if tid < 0 {
                    if errno() == libc::EINTR {
                        continue;
                    }
                    break;
                }
                if libc::WIFSTOPPED(status) {
                    // Reported stopped, so alive and ours.
                    kill(tid);
                } else if tid == self.root {
                    self.shared.lock().root_status = Some(ExitStatus::from_raw(status));
                }
            }
        }
        self.root_gone = true;
        self.report_start();
        let mut st = self.shared.lock();
        st.pidfds.clear();
        st.done = true;
        self.shared.cond.notify_all();
    }
}

/// The clone flags of the fork/vfork/clone/clone3 call `tid` is stopped in.
fn clone_flags(tid: i32, r: &libc::user_regs_struct) -> u64 {
    match r.orig_rax as i64 {
        libc::SYS_clone => r.rdi,
        // struct clone_args starts with `u64 flags`.
        libc::SYS_clone3 => mem::read_u64(tid, r.rdi).unwrap_or(0),
        libc::SYS_vfork => (libc::CLONE_VM | libc::CLONE_VFORK) as u64,
        _ => 0,
    }
}

/// A note when `exe` has set-user-ID or set-group-ID bits that would have
/// changed its identity: under `no_new_privs` they are ignored.
fn set_id_note(exe: &std::path::Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(exe).ok()?;
    // SAFETY: plain getters.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let suid = m.mode() & libc::S_ISUID != 0 && m.uid() != uid;
    let sgid = m.mode() & libc::S_ISGID != 0 && m.gid() != gid;
    (suid || sgid).then(|| {
        format!(
            "exec of set-id program {}: ran without its privileges (no_new_privs under the tracer)",
            exe.display()
        )
    })
}
