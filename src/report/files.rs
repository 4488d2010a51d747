//! Where report files go, and with what permissions.
//!
//! Every directory torn writes reports into carries a marker
//! ([`REPORT_MARKER`]); torn writes into a directory only if it is new,
//! empty or marked, so a report never overwrites a user's files. Reports of
//! a run whose target is private (a credentials file, mode 0600) are
//! private too: directories 0700, files 0600 — they hold evidence bytes.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use anyhow::Context;

/// The file that marks a directory as holding torn's reports.
pub const REPORT_MARKER: &str = ".torn-report";

/// Whether files about a target of `mode` must be private.
pub fn is_private(mode: u32) -> bool {
    mode & 0o077 == 0
}

/// Checks, before a run, that `dir` can be created and written (`flag`
/// names the option in the error).
pub fn check_writable_dir(dir: &Path, flag: &str) -> anyhow::Result<()> {
    if dir.exists() && !dir.is_dir() {
        anyhow::bail!("{flag} {}: not a directory", dir.display());
    }
    fs::create_dir_all(dir)
        .with_context(|| format!("{flag} {}: cannot create the directory", dir.display()))?;
    let probe = tempfile::Builder::new()
        .prefix(".torn-probe-")
        .tempfile_in(dir)
        .with_context(|| format!("{flag} {}: cannot write into the directory", dir.display()))?;
    drop(probe);
    Ok(())
}

/// Creates `dir` (and its parents) for torn's own reports: refused if it
/// exists, holds anything, and is not marked as torn's.
pub fn create_report_dir(dir: &Path, private: bool) -> anyhow::Result<()> {
    if dir.exists() {
        if !dir.is_dir() {
            anyhow::bail!("{}: not a directory", dir.display());
        }
        let mut entries = fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
        let empty = entries.next().is_none();
        if !empty && !dir.join(REPORT_MARKER).exists() {
            anyhow::bail!(
                "{} is not empty and holds no torn report (no {REPORT_MARKER} file); \
                 torn does not overwrite files of yours — pick a new or empty directory",
                dir.display()
            );
        }
    } else {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(if private { 0o700 } else { 0o755 })
            .create(dir)
            .with_context(|| format!("creating report directory {}", dir.display()))?;
    }
    write(&dir.join(REPORT_MARKER), b"", private)?;
    Ok(())
}

/// Writes one report file (replacing it), private or not.
pub fn write(path: &Path, bytes: &[u8], private: bool) -> anyhow::Result<()> {
    let go = || -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(if private { 0o600 } else { 0o644 })
            .open(path)?;
        if private {
            // An existing file keeps its old mode: narrow it.
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(fs::Permissions::from_mode(0o600))?;
        }
        f.write_all(bytes)
    };
    go().with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_directory_is_refused_and_ours_reused() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("notes.md"), b"mine").unwrap();
        let e = create_report_dir(d.path(), false).unwrap_err();
        assert!(e.to_string().contains("does not overwrite"), "{e}");
        let ours = d.path().join("r");
        create_report_dir(&ours, true).unwrap();
        write(&ours.join("report.md"), b"x", true).unwrap();
        create_report_dir(&ours, true).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(ours.join("report.md")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn an_unwritable_reports_dir_is_named() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("file");
        fs::write(&f, b"").unwrap();
        let e = check_writable_dir(&f, "--reports-dir").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("--reports-dir {}: not a directory", f.display())
        );
    }
}
