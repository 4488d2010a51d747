//! Waiting on a word of the board: the Linux futex, in its shared (not
//! `_PRIVATE`) form, because the board may be a file mapped by reader
//! processes as well as memory of reader threads. (`atomic-wait` and
//! `std`'s parking use private futexes, which do not reach across
//! processes.)

use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Sleeps while `word` holds `expected`, for at most `timeout` (or until a
/// [`wake_all`] on the same word, or a spurious wake-up: callers re-check).
pub fn wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    let ts = nix::libc::timespec {
        tv_sec: timeout.as_secs() as nix::libc::time_t,
        tv_nsec: timeout.subsec_nanos() as nix::libc::c_long,
    };
    // SAFETY: `word` is a valid, aligned u32 for the duration of the call;
    // FUTEX_WAIT only reads it, and the timespec outlives the call. Errors
    // (EAGAIN: the word changed; ETIMEDOUT; EINTR) all mean "re-check".
    unsafe {
        nix::libc::syscall(
            nix::libc::SYS_futex,
            word.as_ptr(),
            nix::libc::FUTEX_WAIT,
            expected,
            &ts as *const nix::libc::timespec,
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

/// Wakes every thread or process sleeping in [`wait`] on `word`.
pub fn wake_all(word: &AtomicU32) {
    // SAFETY: as for `wait`; FUTEX_WAKE does not access the word's value.
    unsafe {
        nix::libc::syscall(
            nix::libc::SYS_futex,
            word.as_ptr(),
            nix::libc::FUTEX_WAKE,
            i32::MAX,
            std::ptr::null::<nix::libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;
    use std::time::Instant;

    #[test]
    fn a_changed_word_does_not_sleep_and_a_wake_ends_a_sleep() {
        let w = AtomicU32::new(1);
        let t = Instant::now();
        wait(&w, 0, Duration::from_secs(5));
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the word was not 0: no sleep"
        );
        std::thread::scope(|s| {
            let sleeper = s.spawn(|| {
                while w.load(Ordering::SeqCst) == 1 {
                    wait(&w, 1, Duration::from_secs(30));
                }
            });
            std::thread::sleep(Duration::from_millis(20));
            w.store(2, Ordering::SeqCst);
            wake_all(&w);
            sleeper.join().unwrap();
        });
        assert!(t.elapsed() < Duration::from_secs(30), "woken, not timed out");
    }

    #[test]
    fn an_unchanged_word_sleeps_until_the_timeout() {
        let w = AtomicU32::new(0);
        let t = Instant::now();
        wait(&w, 0, Duration::from_millis(5));
        assert!(t.elapsed() >= Duration::from_millis(5), "{:?}", t.elapsed());
    }
}
