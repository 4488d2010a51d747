use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::{Expect, Setup, Strategy};

/// Overwrite in place: `pwrite` the new bytes at offset 0 without
/// truncating, then `ftruncate` to the new length (mmap-style updaters and
/// "avoid the empty window" fixes do this).
///
/// Promises nothing. There is no empty window, but a reader can see the
/// start of the new version followed by the end of the old one: a torn read
/// that the parser usually accepts (`torn-parseable`), the worst kind.
pub struct InPlace;

impl Strategy for InPlace {
    fn name(&self) -> &'static str {
        "in-place"
    }

    fn write(&self, target: &Path, bytes: &[u8]) -> io::Result<()> {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(target)?;
        f.write_all_at(bytes, 0)?;
        f.set_len(bytes.len() as u64)
    }

    fn expect(&self, _: &Setup) -> Expect {
        Expect::Anomalies
    }
}
