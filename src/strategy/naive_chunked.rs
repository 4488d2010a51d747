use std::io::{self, Write};
use std::path::Path;

use super::{Expect, Setup, Strategy};

/// Truncate, then the new bytes in `chunks` separate `write` calls, as
/// buffered I/O does for a file larger than its buffer.
///
/// Promises nothing. Readers see the empty file and every prefix at a chunk
/// boundary: torn reads, many of which a YAML or dotenv parser accepts.
pub struct NaiveChunked {
    pub chunks: usize,
}

impl Strategy for NaiveChunked {
    fn name(&self) -> &'static str {
        "naive-chunked"
    }

    fn write(&self, target: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut f = std::fs::File::create(target)?;
        let size = bytes.len().div_ceil(self.chunks.max(1)).max(1);
        for chunk in bytes.chunks(size) {
            f.write_all(chunk)?;
        }
        Ok(())
    }

    fn expect(&self, _: &Setup) -> Expect {
        Expect::Anomalies
    }
}
