use std::io;
use std::path::Path;

use super::ops::{CREATE_KEEP, Ops};
use super::{Expect, Setup, Strategy};
use crate::trace::Recorder;

/// Overwrite in place: `pwrite` the new bytes at offset 0 without
/// truncating, then `ftruncate` to the new length (mmap-style updaters and
/// "avoid the empty window" fixes do this).
///
/// Promises nothing. There is no empty window, but a reader can see the
/// start of the new version followed by the end of the old one: a torn read
/// that the parser usually accepts (`torn-parseable`), the worst kind.
///
/// Recipe: `open(target, O_WRONLY|O_CREAT, 0666) → write(target, @0) → truncate(target) → close(target)`.
pub struct InPlace;

impl Strategy for InPlace {
    fn name(&self) -> &'static str {
        "in-place"
    }

    fn write_recorded(&self, target: &Path, bytes: &[u8], rec: &dyn Recorder) -> io::Result<()> {
        let f = Ops::new(rec).open(target, CREATE_KEEP, 0o666)?;
        f.write_all_at(bytes, 0)?;
        f.set_len(bytes.len() as u64)?;
        f.close()
    }

    fn expect(&self, _: &Setup) -> Expect {
        Expect::Anomalies
    }
}
