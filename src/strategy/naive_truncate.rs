use std::io;
use std::path::Path;

use super::ops::{CREATE_TRUNC, Ops};
use super::{Expect, Setup, Strategy};
use crate::trace::Recorder;

/// `open(path, "w"); write(new)`: truncate, then one `write`, then close.
///
/// Promises nothing. Between the truncate and the write a reader sees an
/// empty file; this is the Hermes rotator and torn's positive control.
///
/// Recipe: `open(target, O_WRONLY|O_CREAT|O_TRUNC, 0666) → write(target) → close(target)`.
pub struct NaiveTruncate;

impl Strategy for NaiveTruncate {
    fn name(&self) -> &'static str {
        "naive-truncate"
    }

    fn write_recorded(&self, target: &Path, bytes: &[u8], rec: &dyn Recorder) -> io::Result<()> {
        let mut f = Ops::new(rec).open(target, CREATE_TRUNC, 0o666)?;
        f.write_all(bytes)?;
        f.close()
    }

    fn expect(&self, _: &Setup) -> Expect {
        Expect::Anomalies
    }
}
