use std::io;
use std::path::Path;

use nix::fcntl::FlockArg;

use super::flock_guarded::lock;
use super::rename_durable::RenameDurable;
use super::{Expect, Setup, Strategy, UpdateLock, parent_dir};
use crate::trace::Recorder;

/// `rename-durable`, with every read-modify-write done under an exclusive
/// `flock` on the target's directory (a lock on the directory leaves no lock
/// file behind, and survives the rename that replaces the target).
///
/// Promises what `rename-durable` does, and in read-modify-write runs that no
/// committed change is lost: each writer reads the file only after the
/// previous writer's rename, so it keeps every other field as committed.
///
/// Recipe: that of `rename-durable` (the lock is not a file-system call).
pub struct RenameDurableLocked;

impl Strategy for RenameDurableLocked {
    fn name(&self) -> &'static str {
        "rename-durable-locked"
    }

    fn write_recorded(&self, target: &Path, bytes: &[u8], rec: &dyn Recorder) -> io::Result<()> {
        RenameDurable.write_recorded(target, bytes, rec)
    }

    fn expect(&self, setup: &Setup) -> Expect {
        // Without read-modify-write, versions are drawn before the lock is
        // taken, so several writers can still land out of order.
        if setup.writers > 1 && !setup.rmw {
            Expect::Any
        } else {
            Expect::Clean
        }
    }

    fn update_lock(&self, target: &Path) -> io::Result<Option<UpdateLock>> {
        let dir = std::fs::File::open(parent_dir(target))?;
        lock(dir, FlockArg::LockExclusive).map(Some)
    }
}
