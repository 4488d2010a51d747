use std::io::{self, Write};
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};

use super::{Expect, Setup, Strategy};

/// Take `flock(LOCK_EX)` on the target, truncate it, write, unlock.
///
/// Promises safety only to readers that take `flock(LOCK_SH)` before reading
/// (advisory locking). Readers that do not lock see the same empty and torn
/// files as `naive-truncate`.
pub struct FlockGuarded;

/// Takes a `flock` on `file`, retrying on EINTR.
pub(crate) fn lock(file: std::fs::File, arg: FlockArg) -> io::Result<Flock<std::fs::File>> {
    let mut file = file;
    loop {
        match Flock::lock(file, arg) {
            Ok(guard) => return Ok(guard),
            Err((f, nix::errno::Errno::EINTR)) => file = f,
            Err((_, errno)) => return Err(io::Error::from(errno)),
        }
    }
}

impl Strategy for FlockGuarded {
    fn name(&self) -> &'static str {
        "flock-guarded"
    }

    fn write(&self, target: &Path, bytes: &[u8]) -> io::Result<()> {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(target)?;
        let mut guard = lock(f, FlockArg::LockExclusive)?;
        guard.set_len(0)?;
        guard.write_all(bytes)?;
        Ok(())
    }

    fn expect(&self, setup: &Setup) -> Expect {
        if setup.readers_lock {
            Expect::Clean
        } else {
            Expect::Anomalies
        }
    }
}
