//! The supervisor: a small parent that outlives the worker.
//!
//! [`split`] is called first thing in `main`, before any thread exists, by
//! commands that start processes or change the file system. It forks: the
//! child (the *worker*) returns and runs the command; the parent (the
//! *supervisor*) never returns. The supervisor
//! - is a child subreaper, so every orphan of the run (a writer's daemon)
//!   becomes its child and is reaped by it;
//! - forwards SIGINT, SIGTERM and SIGHUP sent to it with `kill` (not those a
//!   terminal sends to the whole foreground group, which the worker gets
//!   anyway), so `timeout`, `docker stop` and CI cancellation reach the worker;
//!   forwarded once, saying who sent it, so the worker can tell one group
//!   kill received by both routes from two signals ([`super::signals`]);
//! - when the worker ends, however it ends, replays the worker's journal
//!   ([`super::journal`]) — killing the processes of its runs, undoing
//!   faults, removing scratch directories — and exits with the worker's exit
//!   code (128 + signal when it was killed).
//!
//! If the supervisor itself is killed, the worker gets SIGTERM (its
//! parent-death signal) and cleans up as on Ctrl-C.

use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

static WORKER: AtomicI32 = AtomicI32::new(0);
/// In the worker: its supervisor's pid (0 when there is none).
static SUPERVISOR: AtomicI32 = AtomicI32::new(0);

/// The supervisor's pid, in the worker (0 when running without one).
pub fn supervisor_pid() -> i32 {
    SUPERVISOR.load(Ordering::Relaxed)
}

/// Environment variable that turns the supervisor off (`TORN_SUPERVISOR=0`),
/// for debugging torn itself under a debugger.
pub const DISABLE: &str = "TORN_SUPERVISOR";

/// The last signal forwarded: `sig << 32 | sender`, and when (ms, monotonic).
static LAST_FORWARD: AtomicU64 = AtomicU64::new(0);
static LAST_FORWARD_MS: AtomicU64 = AtomicU64::new(0);

/// A repeat of the signal just forwarded, from the same sender, within this
/// long, is the same signal delivered twice (`timeout` signals its child and
/// then its whole process group), not a second one.
const SAME_SIGNAL_MS: u64 = 100;

extern "C" fn forward(sig: nix::libc::c_int, info: *mut nix::libc::siginfo_t, _: *mut nix::libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let (code, sender) = unsafe { ((*info).si_code, (*info).si_pid()) };
    // A terminal's Ctrl-C reaches the whole foreground group (the worker
    // too): forward only signals sent by a process.
    if code == nix::libc::SI_USER || code == nix::libc::SI_QUEUE || code == nix::libc::SI_TKILL {
        let pid = WORKER.load(Ordering::Relaxed);
        if pid <= 0 {
            return;
        }
        let key = (sig as u64) << 32 | u64::from(sender as u32);
        let mut ts = nix::libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime is async-signal-safe; `ts` is valid.
        unsafe { nix::libc::clock_gettime(nix::libc::CLOCK_MONOTONIC, &mut ts) };
        let now = ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000;
        let repeat = LAST_FORWARD.swap(key, Ordering::AcqRel) == key
            && now.saturating_sub(LAST_FORWARD_MS.load(Ordering::Acquire)) < SAME_SIGNAL_MS;
        LAST_FORWARD_MS.store(now, Ordering::Release);
        if !repeat {
            // The worker counts a forwarded signal and the same one received
            // directly (a group kill) as one: see `super::signals`.
            super::signals::forward(pid, sig, sender);
        }
    }
}

/// Forks the supervisor (see the module doc). Returns in the worker only;
/// returns at once, without forking, when disabled or when fork fails.
pub fn split() {
    if std::env::var(DISABLE).is_ok_and(|v| v == "0") {
        return;
    }
    let parent = nix::unistd::getpid();
    // SAFETY: called before any thread is started (checked by the caller's
    // contract: first thing in main), so the child may run arbitrary code.
    match unsafe { fork() } {
        Err(_) => {}
        Ok(ForkResult::Child) => {
            SUPERVISOR.store(parent.as_raw(), Ordering::Relaxed);
            let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGTERM);
            // The supervisor may have died between fork and prctl.
            if nix::unistd::getppid() != parent {
                let _ = nix::sys::signal::raise(Signal::SIGTERM);
            }
        }
        Ok(ForkResult::Parent { child }) => supervise(child),
    }
}

fn supervise(worker: Pid) -> ! {
    WORKER.store(worker.as_raw(), Ordering::Relaxed);
    let _ = nix::sys::prctl::set_child_subreaper(true);
    // The three are blocked while one is handled: the handler's
    // last-forwarded record is not interleaved.
    let mut mask = SigSet::empty();
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        mask.add(sig);
    }
    let action = SigAction::new(SigHandler::SigAction(forward), SaFlags::SA_RESTART, mask);
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only calls kill().
        let _ = unsafe { sigaction(sig, &action) };
    }
    // Writing to a closed pipe must not kill the supervisor.
    // SAFETY: ignoring a signal is always safe.
    let _ = unsafe { nix::sys::signal::signal(Signal::SIGPIPE, SigHandler::SigIgn) };
    let code = loop {
        // Reap every child: the worker, and orphans handed to us.
        match waitpid(None, None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == worker => break code,
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == worker => break 128 + sig as i32,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => break crate::exit::IO_ERROR,
        }
    };
    match super::journal::replay_pid(worker.as_raw() as u32) {
        Ok(results) => {
            for (entry, r) in results {
                match r {
                    Ok(()) => eprintln!("torn: cleaned up after the run: {}", entry.describe()),
                    Err(e) => eprintln!(
                        "torn: could not clean up {}: {e}; `torn clean` retries it",
                        entry.describe()
                    ),
                }
            }
        }
        Err(e) => eprintln!("torn: replaying the run's journal: {e}"),
    }
    // Every child left is an orphan of the run (the worker was the only
    // child this process started), tagged or not: kill and reap them all.
    for _ in 0..100 {
        let orphans = children_of(nix::unistd::getpid());
        if orphans.is_empty() {
            break;
        }
        for pid in &orphans {
            let _ = nix::sys::signal::kill(*pid, Signal::SIGKILL);
        }
        for pid in orphans {
            let _ = waitpid(pid, None);
        }
    }
    std::process::exit(code)
}

/// Processes whose parent is `parent` (from /proc/PID/stat).
fn children_of(parent: Pid) -> Vec<Pid> {
    super::procs::pids()
        .filter(|&pid| super::procs::stat(pid).is_some_and(|(_, ppid)| ppid == parent.as_raw()))
        .map(Pid::from_raw)
        .collect()
}
