//! The undo journal: one JSON-lines file per torn process, in
//! `<temp>/torn-runs-<uid>/<pid>.jsonl`, holding every change torn made that
//! must be undone. An entry is written (and flushed) before the change is
//! made, and a release line after it is undone; the file is removed when
//! nothing is outstanding. Replaying a journal undoes what is outstanding,
//! newest first.
//!
//! The journal directory is trusted only if torn made it: owned by the
//! running uid, mode 0700, not a symlink ([`super::trust`]); a directory of
//! that name made by anyone else is refused, and nothing in it is read or
//! undone. Journal files are opened relative to the checked directory with
//! `O_NOFOLLOW`, so a symlink named `<pid>.jsonl` is never appended to.
//! Every entry is undone only inside a scratch root torn verified
//! ([`super::trust::scratch_root_of`]), so even a journal line naming
//! `/etc` changes nothing outside one.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::fcntl::OFlag;
use serde::{Deserialize, Serialize};

use super::trust::{TrustedDir, scratch_root_of};

/// One undoable change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Entry {
    /// A directory torn created and removes (a run's scratch root, or a case
    /// directory under a user's `--dir`). Processes tagged with a path under
    /// it are killed before it is removed.
    Dir { path: PathBuf },
    /// `chattr +i` on a directory (the read-only fault as root).
    Immutable { path: PathBuf },
    /// A directory's mode changed from `mode` (the read-only fault).
    Mode { path: PathBuf, mode: u32 },
}

impl Entry {
    /// The path the change was made at.
    pub fn path(&self) -> &Path {
        match self {
            Entry::Dir { path } | Entry::Immutable { path } | Entry::Mode { path, .. } => path,
        }
    }

    /// Whether this entry may be undone: its path exists, and lies in a
    /// scratch root torn verified with no symlink on the way
    /// (`Ok(false)`: it is gone, nothing to undo). An entry outside one is
    /// refused, and never undone.
    pub fn verify(&self) -> Result<bool, String> {
        let path = self.path();
        if fs::symlink_metadata(path).is_err_and(|e| e.kind() == io::ErrorKind::NotFound) {
            return Ok(false);
        }
        scratch_root_of(path)
            .map(|_| true)
            .map_err(|why| format!("refused to undo {}: {why}", self.describe()))
    }

    /// Undoes the change, if [`Entry::verify`] allows it. Best effort, and
    /// idempotent: undoing twice, or undoing what is already gone, is not
    /// an error.
    pub fn undo(&self) -> io::Result<()> {
        match self.verify() {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(why) => return Err(io::Error::new(io::ErrorKind::PermissionDenied, why)),
        }
        match self {
            Entry::Dir { path } => {
                super::procs::sweep(path);
                remove_tree(path)
            }
            Entry::Immutable { path } => set_immutable(path, false),
            Entry::Mode { path, mode } => {
                // Through a descriptor opened without following a link.
                use std::os::unix::fs::OpenOptionsExt;
                let dir = match fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_DIRECTORY)
                    .open(path)
                {
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                    r => r?,
                };
                dir.set_permissions(fs::Permissions::from_mode(*mode))
            }
        }
    }

    /// One line for `torn clean` and the leftovers report.
    pub fn describe(&self) -> String {
        match self {
            Entry::Dir { path } => format!("directory {}", path.display()),
            Entry::Immutable { path } => format!("immutable attribute on {}", path.display()),
            Entry::Mode { path, mode } => {
                format!("mode {:04o} of {} (changed by a fault)", mode, path.display())
            }
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Line {
    Add { id: u64, entry: Entry },
    Release { release: u64 },
}

/// A handle on an outstanding entry; undo it with [`undo`] or drop the
/// record with [`release`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Ticket(u64);

struct Open {
    file: File,
    path: PathBuf,
    next: u64,
    outstanding: BTreeMap<u64, Entry>,
}

static JOURNAL: Mutex<Option<Open>> = Mutex::new(None);

/// The directory holding the journals of this user's runs.
pub fn dir() -> PathBuf {
    std::env::temp_dir().join(format!("torn-runs-{}", nix::unistd::Uid::effective()))
}

/// The journal file name of process `pid`.
pub fn name_of(pid: u32) -> String {
    format!("{pid}.jsonl")
}

/// The journal file of process `pid`.
pub fn path_of(pid: u32) -> PathBuf {
    dir().join(name_of(pid))
}

/// The journal directory, created mode 0700 if absent, and checked (see
/// the module doc): one made by someone else is an error naming it.
pub fn open_dir() -> io::Result<TrustedDir> {
    Ok(TrustedDir::create(&dir(), "TMPDIR")?)
}

/// The journal directory if it exists and is torn's own; `Ok(None)` when
/// there is none, an error saying why when it is not trusted.
pub fn existing_dir() -> io::Result<Option<TrustedDir>> {
    match TrustedDir::open(&dir(), super::trust::Strict::Private, "TMPDIR") {
        Ok(d) => Ok(Some(d)),
        Err(super::trust::TrustError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Records `entry` before the change is made. The journal is flushed to the
/// kernel before this returns, so a SIGKILL right after leaves it readable.
pub fn record(entry: Entry) -> io::Result<Ticket> {
    let mut guard = JOURNAL.lock().unwrap_or_else(|p| p.into_inner());
    if guard.is_none() {
        let dir = open_dir()?;
        let name = name_of(std::process::id());
        let path = dir.path().join(&name);
        let file = dir
            .open_file(&name, OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_APPEND, 0o600)
            .map_err(|e| io::Error::new(e.kind(), format!("opening the journal: {e}")))?;
        *guard = Some(Open {
            file,
            path,
            next: 1,
            outstanding: BTreeMap::new(),
        });
    }
    let j = guard.as_mut().expect("opened above");
    let id = j.next;
    j.next += 1;
    let line = serde_json::to_string(&Line::Add {
        id,
        entry: entry.clone(),
    })?;
    writeln!(j.file, "{line}")?;
    j.outstanding.insert(id, entry);
    Ok(Ticket(id))
}

/// Forgets an entry whose change was undone (or is to be kept).
pub fn release(ticket: Ticket) {
    let mut guard = JOURNAL.lock().unwrap_or_else(|p| p.into_inner());
    let Some(j) = guard.as_mut() else { return };
    if j.outstanding.remove(&ticket.0).is_none() {
        return;
    }
    if j.outstanding.is_empty() {
        // Nothing outstanding: the file would only say so.
        let _ = fs::remove_file(&j.path);
        *guard = None;
        return;
    }
    if let Ok(line) = serde_json::to_string(&Line::Release { release: ticket.0 }) {
        let _ = writeln!(j.file, "{line}");
    }
}

/// Undoes an entry's change and releases it.
pub fn undo(ticket: Ticket) -> io::Result<()> {
    let entry = {
        let guard = JOURNAL.lock().unwrap_or_else(|p| p.into_inner());
        guard.as_ref().and_then(|j| j.outstanding.get(&ticket.0).cloned())
    };
    let res = entry.map_or(Ok(()), |e| e.undo());
    // A change that could not be undone stays in the journal: the
    // supervisor retries it when this process ends, and `torn clean` after.
    if res.is_ok() {
        release(ticket);
    }
    res
}

/// Undoes everything this process still has outstanding, newest first (the
/// second Ctrl-C, a fatal signal).
pub fn undo_all() -> Vec<(Entry, io::Result<()>)> {
    let entries: Vec<(u64, Entry)> = {
        let guard = JOURNAL.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .as_ref()
            .map(|j| j.outstanding.iter().rev().map(|(k, v)| (*k, v.clone())).collect())
            .unwrap_or_default()
    };
    entries
        .into_iter()
        .map(|(id, e)| {
            let r = e.undo();
            if r.is_ok() {
                release(Ticket(id));
            }
            (e, r)
        })
        .collect()
}

/// The outstanding entries of journal `name` in `dir`, oldest first.
pub fn read(dir: &TrustedDir, name: &str) -> io::Result<Vec<Entry>> {
    let bytes = dir.read_file(name, crate::limits::MAX_JOURNAL_BYTES)?;
    Ok(parse(&bytes))
}

/// The outstanding entries of a journal's text, oldest first.
fn parse(bytes: &[u8]) -> Vec<Entry> {
    let mut outstanding = BTreeMap::new();
    for line in bytes.split(|&b| b == b'\n') {
        // A line cut short by a kill mid-write is ignored.
        match serde_json::from_slice::<Line>(line) {
            Ok(Line::Add { id, entry }) => {
                outstanding.insert(id, entry);
            }
            Ok(Line::Release { release }) => {
                outstanding.remove(&release);
            }
            Err(_) => {}
        }
    }
    outstanding.into_values().collect()
}

/// Replays journal `name` in `dir` (of a process that is gone): undoes its
/// outstanding entries newest first (each only if [`Entry::verify`] allows
/// it), then removes the file if all succeeded.
pub fn replay(dir: &TrustedDir, name: &str) -> io::Result<Vec<(Entry, io::Result<()>)>> {
    let entries = read(dir, name)?;
    let path = dir.path().join(name);
    let results: Vec<_> = entries
        .into_iter()
        .rev()
        .map(|e| {
            let r = e.undo();
            (e, r)
        })
        .collect();
    if results.iter().all(|(_, r)| r.is_ok()) {
        fs::remove_file(&path)?;
    }
    Ok(results)
}

/// Replays the journal of process `pid`, if it left one (the supervisor,
/// after its worker ended).
pub fn replay_pid(pid: u32) -> io::Result<Vec<(Entry, io::Result<()>)>> {
    let Some(dir) = existing_dir()? else {
        return Ok(Vec::new());
    };
    match replay(&dir, &name_of(pid)) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        r => r,
    }
}

/// Sets or clears the immutable attribute of `path` with `chattr`.
pub fn set_immutable(path: &Path, on: bool) -> io::Result<()> {
    if !on && !path.exists() {
        return Ok(());
    }
    let status = std::process::Command::new("chattr")
        .arg(if on { "+i" } else { "-i" })
        .arg(path)
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|e| io::Error::new(e.kind(), format!("running chattr on {}: {e}", path.display())))?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "chattr {} {} failed",
            if on { "+i" } else { "-i" },
            path.display()
        )))
    }
}

/// Removes a directory tree; where removal is refused (an immutable
/// directory left by a killed run, or a directory without write
/// permission), clears that and retries once.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(_) => {
            unlock_tree(path);
            match fs::remove_dir_all(path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(io::Error::new(
                    e.kind(),
                    format!("removing {}: {e}", path.display()),
                )),
                ok => ok,
            }
        }
    }
}

/// Makes every directory under `path` writable again (and not immutable, as root).
fn unlock_tree(path: &Path) {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    if nix::unistd::Uid::effective().is_root() {
        let _ = set_immutable(path, false);
    }
    let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o700));
    if let Ok(rd) = fs::read_dir(path) {
        for e in rd.flatten() {
            unlock_tree(&e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_replays_what_is_outstanding_only() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join(crate::scratch::MARKER), b"1").unwrap();
        let keep = d.path().join("kept");
        let gone = d.path().join("scratch");
        fs::create_dir_all(gone.join("a/b")).unwrap();
        fs::create_dir_all(&keep).unwrap();
        let jdir = TrustedDir::create(&d.path().join("journals"), "TMPDIR").unwrap();
        let path = jdir.path().join("1.jsonl");
        let lines = [
            serde_json::to_string(&Line::Add {
                id: 1,
                entry: Entry::Dir { path: keep.clone() },
            })
            .unwrap(),
            serde_json::to_string(&Line::Add {
                id: 2,
                entry: Entry::Dir { path: gone.clone() },
            })
            .unwrap(),
            serde_json::to_string(&Line::Release { release: 1 }).unwrap(),
            "{\"id\":3,\"ent".to_string(),
        ];
        fs::write(&path, lines.join("\n")).unwrap();
        assert_eq!(
            read(&jdir, "1.jsonl").unwrap(),
            vec![Entry::Dir { path: gone.clone() }]
        );
        let results = replay(&jdir, "1.jsonl").unwrap();
        assert_eq!(results.len(), 1);
        assert!(!gone.exists());
        assert!(keep.exists(), "a released entry is not undone");
        assert!(!path.exists(), "a replayed journal is removed");
    }

    #[test]
    fn an_entry_outside_a_verified_scratch_root_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        fs::create_dir_all(&victim).unwrap();
        fs::set_permissions(&victim, fs::Permissions::from_mode(0o755)).unwrap();
        let e = Entry::Dir { path: victim.clone() }.undo().unwrap_err();
        assert!(e.to_string().contains("not inside a scratch directory"), "{e}");
        let e = Entry::Mode {
            path: victim.clone(),
            mode: 0o777,
        }
        .undo()
        .unwrap_err();
        assert!(e.to_string().starts_with("refused to undo"), "{e}");
        assert!(victim.exists());
        assert_eq!(fs::metadata(&victim).unwrap().permissions().mode() & 0o777, 0o755);
    }

    #[test]
    fn remove_tree_clears_a_read_only_directory() {
        let d = tempfile::tempdir().unwrap();
        let inner = d.path().join("x/home");
        fs::create_dir_all(&inner).unwrap();
        fs::write(inner.join("f"), b"1").unwrap();
        fs::set_permissions(&inner, fs::Permissions::from_mode(0o555)).unwrap();
        remove_tree(&d.path().join("x")).unwrap();
        assert!(!d.path().join("x").exists());
    }
}
