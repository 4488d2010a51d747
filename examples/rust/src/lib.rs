//! Two ways to put a new token in a config file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Replaces every `api_key:` value with `token`.
fn replace(content: &str, token: &str) -> String {
    content
        .lines()
        .map(|l| match l.split_once("api_key: ") {
            Some((indent, _)) => format!("{indent}api_key: {token}\n"),
            None => format!("{l}\n"),
        })
        .collect()
}

/// Truncates the file and writes the new contents: a reader that opens it
/// in between reads an empty file.
pub fn unsafe_update(path: &Path, token: &str) -> io::Result<()> {
    let new = replace(&fs::read_to_string(path)?, token);
    let mut f = File::create(path)?; // O_TRUNC: the window opens here
    f.write_all(new.as_bytes())
}

/// A unique temp file in the same directory with the target's mode, fsync,
/// rename over the target, fsync the directory: readers see the old file or
/// the new one, whole, and a power cut keeps one of them.
pub fn safe_update(path: &Path, token: &str) -> io::Result<()> {
    let new = replace(&fs::read_to_string(path)?, token);
    let dir = path.parent().unwrap_or(Path::new("."));
    let mode = fs::metadata(path)?.permissions().mode() & 0o7777;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp)?;
        f.write_all(new.as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written?;
    File::open(dir)?.sync_all()
}
