use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::ops::Ops;
use super::{Expect, Setup, Strategy, parent_dir};
use crate::trace::Recorder;

/// The full fix: unique temp file in the same directory, created 0600 and
/// given the target's mode, data `fsync`ed, `rename`d over the target, then
/// the directory `fsync`ed so the rename itself survives a power cut.
///
/// Promises atomic replacement (readers see old or new, whole), durability,
/// and that the target's mode never widens. With several writers the last
/// rename wins (see `rename-unique-tmp`): no claim then.
///
/// Recipe: `open(tmp, O_RDWR|O_CREAT|O_EXCL, 0600) → chmod(tmp) → write(tmp) →
/// fsync(tmp) → close(tmp) → rename(tmp, target) → open(dir, O_RDONLY|O_DIRECTORY)
/// → fsync(dir) → close(dir)`; the `chmod` (an `fchmod` to the target's mode)
/// only when the target exists; on a failure before the rename, `unlink(tmp)`.
pub struct RenameDurable;

impl Strategy for RenameDurable {
    fn name(&self) -> &'static str {
        "rename-durable"
    }

    fn write_recorded(&self, target: &Path, bytes: &[u8], rec: &dyn Recorder) -> io::Result<()> {
        let mode = match std::fs::metadata(target) {
            Ok(m) => Some(m.permissions().mode() & 0o7777),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let ops = Ops::new(rec);
        ops.replace_via_unique_temp(target, bytes, mode, true)?;
        ops.fsync_dir(parent_dir(target))
    }

    fn expect(&self, setup: &Setup) -> Expect {
        super::rename_promise(setup)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_target_mode() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("creds");
        std::fs::write(&target, b"old").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
        RenameDurable.write(&target, b"new").unwrap();
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }
}
