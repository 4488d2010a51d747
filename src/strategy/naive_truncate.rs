use std::io::{self, Write};
use std::path::Path;

use super::{Expect, Setup, Strategy};

/// `open(path, "w"); write(new)`: truncate, then one `write`, then close.
///
/// Promises nothing. Between the truncate and the write a reader sees an
/// empty file; this is the Hermes rotator and torn's positive control.
pub struct NaiveTruncate;

impl Strategy for NaiveTruncate {
    fn name(&self) -> &'static str {
        "naive-truncate"
    }

    fn write(&self, target: &Path, bytes: &[u8]) -> io::Result<()> {
        std::fs::File::create(target)?.write_all(bytes)
    }

    fn expect(&self, _: &Setup) -> Expect {
        Expect::Anomalies
    }
}
