use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::{Expect, Setup, Strategy, parent_dir, unique_temp};

/// The full fix: unique temp file in the same directory, created 0600 and
/// given the target's mode, data `fsync`ed, `rename`d over the target, then
/// the directory `fsync`ed so the rename itself survives a power cut.
///
/// Promises atomic replacement (readers see old or new, whole), durability,
/// and that the target's mode never widens. With several writers the last
/// rename wins (see `rename-unique-tmp`): no claim then.
pub struct RenameDurable;

impl Strategy for RenameDurable {
    fn name(&self) -> &'static str {
        "rename-durable"
    }

    fn write(&self, target: &Path, bytes: &[u8]) -> io::Result<()> {
        let mode = match std::fs::metadata(target) {
            Ok(m) => Some(m.permissions().mode() & 0o7777),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let mut tmp = unique_temp(target)?;
        if let Some(mode) = mode {
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        tmp.write_all(bytes)?;
        tmp.as_file().sync_all()?;
        tmp.persist(target).map_err(|e| e.error)?;
        File::open(parent_dir(target))?.sync_all()
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
