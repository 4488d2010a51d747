//! The limits torn enforces on what users give it, in one place.
//!
//! Each is checked where the user sets the value (scenario field or flag)
//! with an error naming it, never clamped silently; files torn reads on a
//! user's word are read only if they are regular files below a size cap, so
//! `template: /dev/zero` or `torn merge /dev/zero` is an error, not an
//! exhausted memory.

use std::io::{self, Read};
use std::path::Path;

/// Readers per case: the shared board has a slot per reader.
pub const MAX_READERS: usize = crate::engine::board::MAX_READERS;
/// Writers per case.
pub const MAX_WRITERS: usize = 64;
/// Anomalous reads kept as evidence, per outcome and case.
pub const MAX_EVIDENCE: usize = 100;
/// Largest template file (realistic config files are a few KiB).
pub const MAX_TEMPLATE_BYTES: u64 = 1 << 20;
/// Largest scenario file.
pub const MAX_SCENARIO_BYTES: u64 = 1 << 20;
/// Largest report.json / matrix.json `torn merge` reads.
pub const MAX_REPORT_BYTES: u64 = 64 << 20;
/// Longest time a case may be given.
pub const MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Reads a regular file of at most `cap` bytes as UTF-8 text. `what` names
/// the file in errors ("template", "report").
pub fn read_text(path: &Path, cap: u64, what: &str) -> io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} {} is not a regular file", path.display()),
        ));
    }
    if meta.len() > cap {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{what} {} is {} bytes; torn reads {what}s of at most {cap} bytes",
                path.display(),
                meta.len()
            ),
        ));
    }
    let mut text = String::new();
    // The size may change under us: never read more than the cap.
    f.by_ref().take(cap + 1).read_to_string(&mut text)?;
    if text.len() as u64 > cap {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} {} grew past {cap} bytes while being read", path.display()),
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_big_files_are_refused() {
        let e = read_text(Path::new("/dev/zero"), 100, "template").unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let d = tempfile::tempdir().unwrap();
        let big = d.path().join("big");
        std::fs::write(&big, vec![b'a'; 101]).unwrap();
        let e = read_text(&big, 100, "template").unwrap_err();
        assert!(e.to_string().contains("at most 100 bytes"), "{e}");
        std::fs::write(&big, b"ok").unwrap();
        assert_eq!(read_text(&big, 100, "template").unwrap(), "ok");
    }
}
