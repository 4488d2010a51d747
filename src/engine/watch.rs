//! What the writer does to the target's directory, besides the bytes:
//! the target's mode and owner, group/other-readable files holding a token,
//! temp files left behind, and what became of a symlinked target.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::classify::{Classifier, Outcome};
use crate::token::{PREFIX, TOKEN_LEN, TokenCodec};

/// At most this many distinct exposures are kept as evidence.
const MAX_EXPOSURES: usize = 5;
/// At most this many names of left-behind files are kept (all are counted).
const MAX_LITTER_NAMES: usize = 20;

/// The target's state before the run.
#[derive(Debug, Clone)]
pub struct Before {
    target: PathBuf,
    mode: u32,
    uid: u32,
    gid: u32,
    /// Entries of the target's directory before the run (never litter).
    entries: Vec<std::ffi::OsString>,
    /// Where the target's symlink points, if it is one.
    link: Option<PathBuf>,
}

/// What the watch found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Findings {
    /// Target mode before and after the run (octal digits as a number, e.g. 0o600).
    pub mode_before: u32,
    pub mode_after: u32,
    /// The target ended readable or writable by more users than before.
    pub mode_widened: bool,
    /// The target's owner or group changed.
    pub owner_changed: bool,
    /// Directory scans made during the run (0 unless `watch_modes` is on).
    pub samples: u64,
    /// Scans that saw the target with wider permissions than it started with.
    pub widened_samples: u64,
    /// Scans that found a token of this run in a file readable by group/other.
    pub exposures: u64,
    /// The first few such files: `name (mode 0644)`.
    pub exposed_files: Vec<String>,
    /// How many files were left in the target's directory after the run that
    /// were not there before.
    #[serde(default)]
    pub litter_count: u64,
    /// The first few of them, by name.
    pub litter: Vec<String>,
    /// For a symlinked target: what the writes did to the link.
    pub symlink: Option<SymlinkFinding>,
}

impl Findings {
    /// How many of these count against a strategy that claims safety (the
    /// symlink outcome is reported, not judged).
    pub fn count(&self) -> u64 {
        u64::from(self.mode_widened)
            + u64::from(self.owner_changed)
            + self.widened_samples
            + self.exposures
            + self.litter_count
    }
}

/// What became of a symlinked target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SymlinkFinding {
    /// The path is still a symlink to the same file.
    pub link_survived: bool,
    /// The linked file (the dotfiles checkout) holds the newest committed version.
    pub linked_file_current: bool,
    /// The linked file, judged against the newest committed version.
    pub linked_file: Outcome,
}

fn lstat_entries(dir: &Path) -> Vec<std::ffi::OsString> {
    fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default()
}

fn dir_of(target: &Path) -> &Path {
    target.parent().unwrap_or(Path::new("."))
}

/// The target and its directory before any write: what the writer's
/// warm-up (which already writes) is judged against too.
#[derive(Debug, Clone, Default)]
pub struct Earlier {
    entries: Vec<std::ffi::OsString>,
    /// Mode, owner and group, when the target existed.
    meta: Option<(u32, u32, u32)>,
    link: Option<PathBuf>,
}

/// Notes the target and its directory now.
pub fn earlier(target: &Path) -> Earlier {
    Earlier {
        entries: lstat_entries(dir_of(target)),
        meta: fs::metadata(target)
            .ok()
            .map(|m| (m.mode() & 0o7777, m.uid(), m.gid())),
        link: fs::read_link(target).ok(),
    }
}

/// Records the target's state before the writers start.
pub fn before(target: &Path) -> std::io::Result<Before> {
    before_since(target, earlier(target))
}

/// The target's state before the run, as noted `earlier` (before a
/// writer's warm-up, which may already widen the mode, replace a link or
/// leave litter); where the target did not exist then, as it is now. The
/// target itself is never litter, even when a writer created it.
pub fn before_since(target: &Path, earlier: Earlier) -> std::io::Result<Before> {
    let Earlier {
        mut entries,
        meta,
        link,
    } = earlier;
    if let Some(name) = target.file_name().filter(|n| !entries.iter().any(|e| e == n)) {
        entries.push(name.to_os_string());
    }
    let (mode, uid, gid) = match meta {
        Some(m) => m,
        None => {
            let m = fs::metadata(target)?;
            (m.mode() & 0o7777, m.uid(), m.gid())
        }
    };
    Ok(Before {
        target: target.to_path_buf(),
        mode,
        uid,
        gid,
        entries,
        link,
    })
}

/// Whether `bytes` contains a whole token of this run.
fn holds_token(bytes: &[u8], codec: &TokenCodec) -> bool {
    bytes
        .windows(TOKEN_LEN)
        .any(|w| w.starts_with(PREFIX) && codec.decode(w).is_some())
}

/// The versions of the whole tokens of this run `bytes` holds, in order.
pub fn token_versions(bytes: &[u8], codec: &TokenCodec) -> Vec<u64> {
    let mut out: Vec<u64> = bytes
        .windows(TOKEN_LEN)
        .filter(|w| w.starts_with(PREFIX))
        .filter_map(|w| codec.decode(w))
        .collect();
    out.dedup();
    out
}

/// The first [`crate::limits::MAX_SAMPLE_BYTES`] of the regular file at
/// `path`, into `buf` (reused: a scan allocates nothing). Opened without
/// following a link and without blocking, and checked on the descriptor:
/// a FIFO, a device or a link swapped in after the directory was listed is
/// skipped; a huge (or sparse) file costs one capped read, not its size.
fn sample_file<'a>(path: &Path, buf: &'a mut Vec<u8>) -> Option<&'a [u8]> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC)
        .open(path)
        .ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    buf.clear();
    f.take(crate::limits::MAX_SAMPLE_BYTES).read_to_end(buf).ok()?;
    Some(buf)
}

/// Scans the directory every millisecond until `stop`, for a target mode
/// wider than `before` and for files readable by group/other that hold a token.
pub fn sample(before: &Before, codec: &TokenCodec, stop: &AtomicBool) -> Findings {
    let mut f = Findings::default();
    let dir = dir_of(&before.target);
    let mut buf = Vec::with_capacity(crate::limits::MAX_SAMPLE_BYTES as usize);
    while !stop.load(Ordering::Relaxed) {
        f.samples += 1;
        if let Ok(m) = fs::metadata(&before.target)
            && m.mode() & 0o777 & !before.mode != 0
        {
            f.widened_samples += 1;
        }
        for entry in fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .take(crate::limits::MAX_SAMPLE_ENTRIES)
        {
            let Ok(m) = entry.metadata() else { continue };
            if !m.is_file() || m.mode() & 0o077 == 0 {
                continue;
            }
            let Some(bytes) = sample_file(&entry.path(), &mut buf) else {
                continue;
            };
            if holds_token(bytes, codec) {
                f.exposures += 1;
                let what = format!(
                    "{} (mode {:04o})",
                    entry.file_name().to_string_lossy(),
                    m.mode() & 0o7777
                );
                if f.exposed_files.len() < MAX_EXPOSURES && !f.exposed_files.contains(&what) {
                    f.exposed_files.push(what);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    f
}

/// Completes `f` after the run: final mode and owner, litter, the symlink.
///
/// Litter is what the writers left in the target's directory that was not
/// there before. With their traces (`recipes`), only what is tied to the
/// target counts: a file the writers only locked (a lock file) is not
/// litter, and a directory (a tool's cache or log tree under HOME) is
/// litter only if a file renamed onto or away from the target lived in it.
pub fn after(
    before: &Before,
    mut f: Findings,
    classifier: &Classifier,
    committed: u64,
    recipes: Option<&crate::trace::recipe::RecipeBook>,
) -> Findings {
    f.mode_before = before.mode;
    if let Ok(m) = fs::metadata(&before.target) {
        f.mode_after = m.mode() & 0o7777;
        f.mode_widened = f.mode_after & !before.mode & 0o777 != 0;
        f.owner_changed = m.uid() != before.uid || m.gid() != before.gid;
    }
    let mut litter: Vec<String> = lstat_entries(dir_of(&before.target))
        .into_iter()
        .filter(|e| !before.entries.contains(e))
        .filter(|e| {
            let Some(book) = recipes else { return true };
            let path = dir_of(&before.target).join(e);
            match fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() => book.holds_tied(&path),
                _ => !book.is_lock_file(&path),
            }
        })
        .map(|e| e.to_string_lossy().into_owned())
        .collect();
    litter.sort();
    f.litter_count = litter.len() as u64;
    litter.truncate(MAX_LITTER_NAMES);
    f.litter = litter;
    if let Some(link) = &before.link {
        let survived = fs::read_link(&before.target).is_ok_and(|l| &l == link);
        let linked = dir_of(&before.target).join(link);
        let committed = crate::format::Versions {
            token: committed,
            field: 0,
        };
        let linked_file = super::reader::classify_file(&linked, classifier, committed);
        f.symlink = Some(SymlinkFinding {
            link_survived: survived,
            linked_file_current: linked_file.version == Some(committed.token),
            linked_file: linked_file.outcome,
        });
    }
    f
}
