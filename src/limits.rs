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
pub const MAX_READERS: usize = 256;
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
/// Longest single hold of `--perturb` (`perturb:`): holds are meant to
/// widen a window by microseconds; a longer one would only outlast the
/// budget (a hold is not interruptible mid-sleep).
pub const MAX_PERTURB: std::time::Duration = std::time::Duration::from_millis(100);
/// Most killed-writer trials (`--kill-trials`, `kill_trials:`) per case:
/// each starts a writer, so more would run for hours.
pub const MAX_KILL_TRIALS: u64 = 1000;
/// Largest trace file `torn crash --trace` reads.
pub const MAX_TRACE_BYTES: u64 = 64 << 20;
/// Most events of one trace `torn crash` explores (each is a crash point).
pub const MAX_TRACE_EVENTS: usize = 100_000;
/// Largest file a traced write or truncate may leave in a crash state
/// (offset + length, or the new size): states are built for real on disk.
pub const MAX_CRASH_FILE_BYTES: u64 = 16 << 20;
/// Largest undo journal torn replays (a run writes a few lines per case).
pub const MAX_JOURNAL_BYTES: u64 = 16 << 20;
/// Largest scratch marker torn reads (it holds a pid).
pub const MAX_MARKER_BYTES: u64 = 64;
/// Bytes of one file the mode watcher reads per scan: a whole version of
/// the largest template, so a token in a file of the writer's is seen, and
/// a huge (or sparse) file left next to the target costs no more than that.
pub const MAX_SAMPLE_BYTES: u64 = MAX_TEMPLATE_BYTES;
/// Directory entries the mode watcher looks at per scan.
pub const MAX_SAMPLE_ENTRIES: usize = 1024;

/// Opens `path` for reading without blocking (a FIFO or a device cannot
/// hang torn) and checks, on the open descriptor, that it is a regular
/// file. `what` names the file in errors ("template", "--seed-file").
pub fn open_regular(path: &Path, what: &str) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{what} {}: {e}", path.display())))?;
    if !f.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} {} is not a regular file", path.display()),
        ));
    }
    Ok(f)
}

/// Reads a regular file of at most `cap` bytes (see [`read_text`]).
pub fn read_bytes(path: &Path, cap: u64, what: &str) -> io::Result<Vec<u8>> {
    let mut f = open_regular(path, what)?;
    let len = f.metadata()?.len();
    if len > cap {
        return Err(too_big(path, len, cap, what));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    // The size may change under us: never read more than the cap.
    f.by_ref().take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} {} grew past {cap} bytes while being read", path.display()),
        ));
    }
    Ok(bytes)
}

fn too_big(path: &Path, len: u64, cap: u64, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{what} {} is {len} bytes; torn reads {what}s of at most {cap} bytes",
            path.display()
        ),
    )
}

/// Reads a regular file of at most `cap` bytes as UTF-8 text. `what` names
/// the file in errors ("template", "report").
pub fn read_text(path: &Path, cap: u64, what: &str) -> io::Result<String> {
    let bytes = read_bytes(path, cap, what)?;
    String::from_utf8(bytes).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{what} {}: not UTF-8 text ({e})", path.display()),
        )
    })
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

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let e = read_text(&fifo, 100, "scenario").unwrap_err();
        assert!(e.to_string().contains("is not a regular file"), "{e}");
    }
}
