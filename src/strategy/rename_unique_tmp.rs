use std::io;
use std::path::Path;

use super::ops::Ops;
use super::{Expect, Setup, Strategy};
use crate::trace::Recorder;

/// Write a uniquely named temp file in the target's directory, then `rename`
/// it over the target (no fsync).
///
/// Promises atomic replacement: a reader sees the old or the new version
/// whole. Not durable (a power cut can leave an empty target), and the
/// target takes the temp file's mode (0600). With several writers the last
/// rename wins even if it carries an older version, so `stale` reads are
/// possible: no claim is made then.
///
/// Recipe: `open(tmp, O_RDWR|O_CREAT|O_EXCL, 0600) → write(tmp) → close(tmp) →
/// rename(tmp, target)`; on a failure after the open, `unlink(tmp)`.
pub struct RenameUniqueTmp;

impl Strategy for RenameUniqueTmp {
    fn name(&self) -> &'static str {
        "rename-unique-tmp"
    }

    fn write_recorded(&self, target: &Path, bytes: &[u8], rec: &dyn Recorder) -> io::Result<()> {
        Ops::new(rec).replace_via_unique_temp(target, bytes, None, false)
    }

    fn expect(&self, setup: &Setup) -> Expect {
        super::rename_promise(setup)
    }
}
