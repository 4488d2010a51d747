use std::io;
use std::path::{Path, PathBuf};

use super::ops::{CREATE_TRUNC, Ops};
use super::{Expect, Setup, Strategy};
use crate::trace::Recorder;

/// Write `<path>.tmp`, then `rename` it over the target: the common first fix.
///
/// Promises atomic replacement with one writer. With several writers they
/// share the temp name: one truncates the file another is about to rename,
/// so readers see torn files and `rename` fails with ENOENT.
///
/// Recipe: `open(target.tmp, O_WRONLY|O_CREAT|O_TRUNC, 0666) → write(target.tmp) →
/// close(target.tmp) → rename(target.tmp, target)`.
pub struct RenameFixedTmp;

fn tmp_path(target: &Path) -> PathBuf {
    let mut p = target.as_os_str().to_owned();
    p.push(".tmp");
    PathBuf::from(p)
}

impl Strategy for RenameFixedTmp {
    fn name(&self) -> &'static str {
        "rename-fixed-tmp"
    }

    fn write_recorded(&self, target: &Path, bytes: &[u8], rec: &dyn Recorder) -> io::Result<()> {
        let ops = Ops::new(rec);
        let tmp = tmp_path(target);
        let mut f = ops.open(&tmp, CREATE_TRUNC, 0o666)?;
        f.write_all(bytes)?;
        f.close()?;
        ops.rename(&tmp, target)
    }

    fn expect(&self, setup: &Setup) -> Expect {
        if setup.writers > 1 || setup.rmw {
            Expect::Anomalies
        } else {
            Expect::Clean
        }
    }
}
