use std::io;
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};

use super::ops::{CREATE_KEEP, Ops};
use super::{Expect, Setup, Strategy};
use crate::trace::Recorder;

/// Take `flock(LOCK_EX)` on the target, truncate it, write, unlock.
///
/// Promises safety only to readers that take `flock(LOCK_SH)` before reading
/// (advisory locking). Readers that do not lock see the same empty and torn
/// files as `naive-truncate`.
///
/// Recipe: `open(target, O_WRONLY|O_CREAT, 0666) → truncate(target) → write(target)
/// → close(target)`, the `flock(LOCK_EX)` taken after the open and released
/// by the close.
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

    fn write_recorded(&self, target: &Path, bytes: &[u8], rec: &dyn Recorder) -> io::Result<()> {
        let mut f = Ops::new(rec).open(target, CREATE_KEEP, 0o666)?;
        f.lock_exclusive()?;
        f.set_len(0)?;
        f.write_all(bytes)?;
        f.close()
    }

    fn expect(&self, setup: &Setup) -> Expect {
        if setup.readers_lock {
            Expect::Clean
        } else {
            Expect::Anomalies
        }
    }
}
