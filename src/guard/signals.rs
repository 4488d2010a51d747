//! SIGINT, SIGTERM and SIGHUP in the worker: the first stops the run (it
//! cleans up and reports what it measured), a second undoes everything now
//! and exits. What counts as *a second* matters: a signal sent to the
//! process group (`kill -TERM -PGID`, `timeout`) reaches the worker directly
//! *and* through the supervisor, which forwards what it receives
//! ([`super::supervisor`]). Counting both would turn one signal into two,
//! and the run would exit without its partial report.
//!
//! So the supervisor forwards with `sigqueue`, carrying the pid of whoever
//! sent the signal to it, and the worker counts, per sender and signal, the
//! larger of "received directly" and "received forwarded": one group kill
//! is one signal, two `kill`s of the supervisor (or two Ctrl-Cs) are two.
//!
//! [`stop_requested`] is what long loops outside the run's own cancel flag
//! (killed-writer trials, crash exploration) poll, so they end within a
//! trial or a crash state of the signal.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};

use nix::libc;

static STOP: AtomicBool = AtomicBool::new(false);

/// Whether a stop signal has arrived (or [`request_stop`] was called).
pub fn stop_requested() -> bool {
    STOP.load(Ordering::Relaxed)
}

/// Asks every loop that polls [`stop_requested`] to stop.
pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
}

/// Signals seen, packed: signal number, forwarded bit, sender pid.
const SLOTS: usize = 64;
static EVENTS: [AtomicU64; SLOTS] = [const { AtomicU64::new(0) }; SLOTS];
static NEXT: AtomicUsize = AtomicUsize::new(0);
static PIPE_W: AtomicI32 = AtomicI32::new(-1);
/// The supervisor's pid: a queued signal from it is a forwarded one.
static SUPERVISOR: AtomicI32 = AtomicI32::new(0);

fn pack(sig: i32, forwarded: bool, origin: i32) -> u64 {
    1 << 63 | (u64::from(forwarded) << 62) | ((sig as u64 & 0xff) << 32) | u64::from(origin as u32)
}

fn unpack(v: u64) -> (i32, bool, i32) {
    (((v >> 32) & 0xff) as i32, v & (1 << 62) != 0, v as u32 as i32)
}

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler;
    // only atomics and write(2), both async-signal-safe, are used.
    unsafe {
        let code = (*info).si_code;
        let pid = (*info).si_pid();
        let sup = SUPERVISOR.load(Ordering::Relaxed);
        let (forwarded, origin) = if code == libc::SI_QUEUE && sup > 0 && pid == sup {
            (true, (*info).si_value().sival_ptr as usize as i32)
        } else if code == libc::SI_USER || code == libc::SI_QUEUE || code == libc::SI_TKILL {
            (false, pid)
        } else {
            // From the kernel: a terminal's Ctrl-C (never forwarded).
            (false, 0)
        };
        let i = NEXT.fetch_add(1, Ordering::AcqRel);
        if i < SLOTS {
            EVENTS[i].store(pack(sig, forwarded, origin), Ordering::Release);
        }
        let fd = PIPE_W.load(Ordering::Relaxed);
        if fd >= 0 {
            let b = 1u8;
            libc::write(fd, (&b as *const u8).cast(), 1);
        }
    }
}

/// How many distinct stop signals have arrived (see the module doc).
fn distinct() -> usize {
    let n = NEXT.load(Ordering::Acquire);
    if n > SLOTS {
        return n; // far more than two either way
    }
    let mut seen: Vec<((i32, i32), [usize; 2])> = Vec::new();
    for e in EVENTS.iter().take(n) {
        let v = e.load(Ordering::Acquire);
        if v == 0 {
            continue;
        }
        let (sig, fwd, origin) = unpack(v);
        match seen.iter_mut().find(|(k, _)| *k == (sig, origin)) {
            Some((_, c)) => c[usize::from(fwd)] += 1,
            None => {
                let mut c = [0; 2];
                c[usize::from(fwd)] = 1;
                seen.push(((sig, origin), c));
            }
        }
    }
    seen.iter().map(|(_, c)| c[0].max(c[1])).sum()
}

/// Installs the handler for SIGINT, SIGTERM and SIGHUP: on the first
/// distinct signal [`request_stop`] and `first` run, on the second `second`
/// (which should not return). `supervisor` is the pid whose queued signals
/// are forwarded ones (0: none).
pub fn install(supervisor: i32, first: impl Fn() + Send + 'static, second: impl Fn() + Send + 'static) {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    SUPERVISOR.store(supervisor, Ordering::Relaxed);
    let Ok((r, w)) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) else {
        return;
    };
    PIPE_W.store(std::os::fd::IntoRawFd::into_raw_fd(w), Ordering::Relaxed);
    let spawned = std::thread::Builder::new()
        .name("torn-signals".into())
        .spawn(move || {
            let mut r = std::fs::File::from(r);
            let mut buf = [0u8; 16];
            let mut stopped = false;
            loop {
                match std::io::Read::read(&mut r, &mut buf) {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => return,
                }
                let n = distinct();
                if n >= 1 && !stopped {
                    stopped = true;
                    request_stop();
                    first();
                }
                if n >= 2 {
                    second();
                }
            }
        });
    if spawned.is_err() {
        return;
    }
    let action = SigAction::new(
        SigHandler::SigAction(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only uses atomics and write(2).
        let _ = unsafe { sigaction(sig, &action) };
    }
}

/// Forwards `sig` to `worker`, saying who sent it (`origin`): what the
/// supervisor's handler calls (async-signal-safe).
pub fn forward(worker: i32, sig: i32, origin: i32) {
    let value = libc::sigval {
        sival_ptr: origin as usize as *mut libc::c_void,
    };
    // SAFETY: sigqueue is async-signal-safe.
    unsafe { libc::sigqueue(worker, sig, value) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_received_twice_by_two_routes_is_one() {
        let record = |sig, fwd, origin| {
            let i = NEXT.fetch_add(1, Ordering::AcqRel);
            EVENTS[i].store(pack(sig, fwd, origin), Ordering::Release);
        };
        assert_eq!(unpack(pack(15, true, 4242)), (15, true, 4242));
        // A group kill by pid 77: directly, and forwarded by the supervisor.
        record(15, false, 77);
        record(15, true, 77);
        assert_eq!(distinct(), 1);
        // The same sender kills the supervisor again: a second signal.
        record(15, true, 77);
        assert_eq!(distinct(), 2);
    }
}
