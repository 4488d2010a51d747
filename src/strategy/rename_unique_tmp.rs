use std::io::{self, Write};
use std::path::Path;

use super::{Expect, Setup, Strategy, unique_temp};

/// Write a uniquely named temp file in the target's directory, then `rename`
/// it over the target (no fsync).
///
/// Promises atomic replacement: a reader sees the old or the new version
/// whole. Not durable (a power cut can leave an empty target), and the
/// target takes the temp file's mode (0600). With several writers the last
/// rename wins even if it carries an older version, so `stale` reads are
/// possible: no claim is made then.
pub struct RenameUniqueTmp;

impl Strategy for RenameUniqueTmp {
    fn name(&self) -> &'static str {
        "rename-unique-tmp"
    }

    fn write(&self, target: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut tmp = unique_temp(target)?;
        tmp.write_all(bytes)?;
        tmp.persist(target).map_err(|e| e.error)?;
        Ok(())
    }

    fn expect(&self, setup: &Setup) -> Expect {
        super::rename_promise(setup)
    }
}
