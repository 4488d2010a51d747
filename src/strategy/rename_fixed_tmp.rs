use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{Expect, Setup, Strategy};

/// Write `<path>.tmp`, then `rename` it over the target: the common first fix.
///
/// Promises atomic replacement with one writer. With several writers they
/// share the temp name: one truncates the file another is about to rename,
/// so readers see torn files and `rename` fails with ENOENT.
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

    fn write(&self, target: &Path, bytes: &[u8]) -> io::Result<()> {
        let tmp = tmp_path(target);
        std::fs::File::create(&tmp)?.write_all(bytes)?;
        std::fs::rename(&tmp, target)
    }

    fn expect(&self, setup: &Setup) -> Expect {
        if setup.writers > 1 || setup.rmw {
            Expect::Anomalies
        } else {
            Expect::Clean
        }
    }
}
