//! Tracing an external writer with `ptrace`: start a command, follow every
//! process and thread it creates, and record the file-system calls that
//! touch the watched directories into a [`Recording`].
//!
//! ```no_run
//! # use std::process::Command;
//! # use torn::trace::{Recording, TraceSpec, ptrace::Traced};
//! let rec = Recording::new(&TraceSpec::new(vec!["/tmp/scratch".into()]));
//! let mut cmd = Command::new("python3");
//! cmd.arg("rotate.py");
//! let writer = Traced::spawn(cmd, rec.clone())?; // or run untraced on NotPermitted
//! let status = writer.wait();
//! let events = rec.drain();
//! # Ok::<(), torn::trace::ptrace::TraceError>(())
//! ```
//!
//! # How
//!
//! A tracer thread forks the command (std's `Command`, so stdio pipes, the
//! environment, the working directory and the process group are set as
//! usual), attaches with `PTRACE_SEIZE` before it execs, and has it install
//! a seccomp filter that stops only on the file-system calls of interest
//! ([`seccomp`]); between those the command runs at full speed. Options:
//! follow forks, vforks, clones and execs, `PTRACE_O_EXITKILL` (if torn dies
//! the traced tree dies with it). See [`tracer`] for the stops handled and
//! [`decode`] for how calls become events. x86_64 Linux only: elsewhere
//! [`Traced::spawn`] returns [`TraceError::Unsupported`].
//!
//! # Contract
//!
//! - An event is a call that completed (`start_ns` at its entry stop,
//!   `end_ns` at its exit stop), naming a watched path directly or through
//!   a descriptor; `tid` is the thread that made it.
//! - Every process and thread started by the command is followed, including
//!   ones that outlive it; [`Traced::kill`] and drop kill all of them (by
//!   pidfd, so never an unrelated process), and reap them: nothing is left
//!   running or stopped.
//! - Memory stays flat: the ring bounds the events, per-process state lives
//!   only as long as the process, payloads are cut at `data_cap`.
//! - Where ptrace is refused, [`Traced::spawn`] returns
//!   [`TraceError::NotPermitted`] (nothing is left running) and the caller
//!   can run the command untraced, saying so.
//!
//! # What it cannot see
//!
//! - Writes through memory: a file mapped `PROT_WRITE|MAP_SHARED` (noted in
//!   the summary when the mapping is made).
//! - io_uring: requests submitted through a ring bypass system calls (noted
//!   when `io_uring_setup` is called).
//! - Writes made by another process the command did not start: a daemon, a
//!   service it asks over a socket or D-Bus, a process running in another
//!   container. Nothing in the trace says so.
//! - 32-bit and x32 system calls (noted; not decoded).
//! - `fallocate` and `splice` into a watched file, `utimensat`, extended
//!   attributes and locks: not in the event model (`fallocate` is noted).
//! - Set-user-ID programs exec'd by the command run without their
//!   privileges (`no_new_privs` is required for the filter; noted).
//! - A descriptor's path is the one it was opened as, updated by the renames
//!   the tracer sees; `unshare(CLONE_FILES)` is not followed (the descriptor
//!   table stays shared in the tracer's view).

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod child;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod decode;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod mem;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod seccomp;
#[cfg(all(test, target_os = "linux", target_arch = "x86_64"))]
mod tests;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod tracer;

use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::{ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Event, Recording, TraceSummary};

/// Why a command could not be started traced.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The kernel refused to let torn trace the command: it is already
    /// traced (torn itself runs under strace or a debugger), or ptrace is
    /// restricted (`kernel.yama.ptrace_scope` = 3, a container's seccomp
    /// policy). Run it untraced and say so.
    #[error("ptrace is not permitted here: {0}")]
    NotPermitted(String),
    /// Tracing is not available on this platform or kernel (not x86_64
    /// Linux, no seccomp filters). Run it untraced and say so.
    #[error("tracing is not supported here: {0}")]
    Unsupported(String),
    /// The command itself could not start (not found, not executable), as
    /// an untraced spawn would have failed.
    #[error("{0}")]
    Start(std::io::Error),
    /// The tracer failed for another reason.
    #[error("the tracer failed: {0}")]
    Tracer(String),
}

impl TraceError {
    /// Whether the command could run, just not traced: the caller should
    /// fall back to an untraced run (and record why).
    pub fn untraceable(&self) -> bool {
        matches!(self, TraceError::NotPermitted(_) | TraceError::Unsupported(_))
    }
}

/// Whether commands can be traced here: the first call traces `true` and
/// remembers the answer (an [`untraceable`](TraceError::untraceable) error,
/// as a sentence, if not).
pub fn available() -> Result<(), String> {
    static PROBE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    PROBE
        .get_or_init(|| {
            let rec = Recording::new(&super::TraceSpec::new(Vec::new()));
            let mut cmd = Command::new("true");
            cmd.stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null());
            match Traced::spawn(cmd, rec) {
                Ok(t) => {
                    t.wait();
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            }
        })
        .clone()
}

/// State shared between the tracer thread and the [`Traced`] handle.
pub(crate) struct Shared {
    state: Mutex<State>,
    cond: Condvar,
    /// Set by [`Traced::kill`]: the tracer kills every task it sees.
    killing: AtomicBool,
}

#[derive(Default)]
struct State {
    /// How the started command ended.
    root_status: Option<ExitStatus>,
    /// The tracer thread has reaped everything and is ending.
    done: bool,
    /// A pidfd per live traced process (thread-group leader).
    pidfds: HashMap<i32, OwnedFd>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A command running under the tracer. Like [`std::process::Child`]: its
/// stdio handles, its id, waiting, killing. Dropping it kills whatever is
/// left of the traced tree.
pub struct Traced {
    pid: u32,
    rec: Arc<Recording>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    pub stdin: Option<ChildStdin>,
    pub stdout: Option<ChildStdout>,
    pub stderr: Option<ChildStderr>,
}

/// SIGKILL through a pidfd: reaches that process or nothing (ESRCH once it
/// is gone), never a process that reused its pid.
fn pidfd_kill(fd: &OwnedFd) {
    // SAFETY: a pidfd we own; no siginfo.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
}

/// What a process killed by SIGKILL reports (for a tree the tracer lost).
fn killed() -> ExitStatus {
    ExitStatus::from_raw(libc::SIGKILL)
}

impl Traced {
    /// Starts `cmd` traced — not on this platform.
    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    pub fn spawn(cmd: Command, rec: Arc<Recording>) -> Result<Traced, TraceError> {
        let _ = (cmd, rec);
        Err(TraceError::Unsupported(
            "the ptrace tracer decodes x86_64 Linux system calls only".into(),
        ))
    }

    /// Starts `cmd` traced, recording into `rec`; returns once the command
    /// has exec'd (or failed to). `cmd` is configured as for
    /// [`Command::spawn`] (stdio, env, cwd, process group); a `pre_exec`
    /// hook of the caller's runs before the tracer's.
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    pub fn spawn(cmd: Command, rec: Arc<Recording>) -> Result<Traced, TraceError> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            cond: Condvar::new(),
            killing: AtomicBool::new(false),
        });
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let (s, r) = (shared.clone(), rec.clone());
        let thread = std::thread::Builder::new()
            .name("torn-tracer".into())
            .spawn(move || tracer::run(cmd, r, s, tx))
            .map_err(|e| TraceError::Tracer(format!("cannot start the tracer thread: {e}")))?;
        match rx.recv() {
            Ok(Ok(started)) => Ok(Traced {
                pid: started.pid,
                rec,
                shared,
                thread: Some(thread),
                stdin: started.stdin,
                stdout: started.stdout,
                stderr: started.stderr,
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(TraceError::Tracer(
                    "the tracer thread ended before the command started".into(),
                ))
            }
        }
    }

    /// The started command's process id (its process group id too, if the
    /// command was given `process_group(0)`).
    pub fn id(&self) -> u32 {
        self.pid
    }

    /// Where the events go.
    pub fn recording(&self) -> &Arc<Recording> {
        &self.rec
    }

    /// The events kept so far, leaving them in place.
    pub fn snapshot(&self) -> Vec<Event> {
        self.rec.snapshot()
    }

    /// Takes the events kept so far.
    pub fn drain(&self) -> Vec<Event> {
        self.rec.drain()
    }

    /// Counters and notes so far.
    pub fn summary(&self) -> TraceSummary {
        self.rec.summary()
    }

    /// Whether any process of the traced tree is still alive (the command
    /// may have exited while a child it started runs on).
    pub fn is_running(&self) -> bool {
        !self.shared.lock().done
    }

    /// The command's exit status, if it has exited.
    pub fn try_wait(&self) -> Option<ExitStatus> {
        let st = self.shared.lock();
        st.root_status.or_else(|| st.done.then(killed))
    }

    /// Waits for the command to exit (processes it started may live on
    /// until [`kill`](Self::kill) or drop).
    pub fn wait(&self) -> ExitStatus {
        let st = self.shared.lock();
        let st = self
            .shared
            .cond
            .wait_while(st, |s| s.root_status.is_none() && !s.done)
            .unwrap_or_else(|e| e.into_inner());
        st.root_status.unwrap_or_else(killed)
    }

    /// [`wait`](Self::wait), for at most `timeout`.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<ExitStatus> {
        let st = self.shared.lock();
        let (st, _) = self
            .shared
            .cond
            .wait_timeout_while(st, timeout, |s| s.root_status.is_none() && !s.done)
            .unwrap_or_else(|e| e.into_inner());
        st.root_status.or_else(|| st.done.then(killed))
    }

    /// SIGKILLs every process of the traced tree (the command, its children,
    /// anything they started, however they detached from its process
    /// group), and waits — up to 10 s, for a process stuck in the kernel —
    /// until the tracer has reaped them all.
    pub fn kill(&self) {
        {
            let st = self.shared.lock();
            self.shared.killing.store(true, Ordering::Release);
            st.pidfds.values().for_each(pidfd_kill);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut st = self.shared.lock();
        while !st.done {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            st = self
                .shared
                .cond
                .wait_timeout(st, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl Drop for Traced {
    fn drop(&mut self) {
        self.kill();
        let done = self.shared.lock().done;
        if let Some(t) = self.thread.take()
            && done
        {
            // The tracer has reaped everything and is returning.
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for Traced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Traced")
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}
