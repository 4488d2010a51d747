use std::io;
use std::path::Path;

use super::ops::{CREATE_TRUNC, Ops};
use super::{Expect, Setup, Strategy};
use crate::trace::Recorder;

/// Truncate, then the new bytes in `chunks` separate `write` calls, as
/// buffered I/O does for a file larger than its buffer.
///
/// Promises nothing. Readers see the empty file and every prefix at a chunk
/// boundary: torn reads, many of which a YAML or dotenv parser accepts.
///
/// Recipe: `open(target, O_WRONLY|O_CREAT|O_TRUNC, 0666) → write(target) ×chunks → close(target)`.
pub struct NaiveChunked {
    pub chunks: usize,
}

impl Strategy for NaiveChunked {
    fn name(&self) -> &'static str {
        "naive-chunked"
    }

    fn write_recorded(&self, target: &Path, bytes: &[u8], rec: &dyn Recorder) -> io::Result<()> {
        let mut f = Ops::new(rec).open(target, CREATE_TRUNC, 0o666)?;
        let size = bytes.len().div_ceil(self.chunks.max(1)).max(1);
        for chunk in bytes.chunks(size) {
            f.write_all(chunk)?;
        }
        f.close()
    }

    fn expect(&self, _: &Setup) -> Expect {
        Expect::Anomalies
    }
}
