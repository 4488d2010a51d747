//! `torn clean`: what dead runs left behind, found and removed.
//!
//! A run leaves something behind only when both torn and its supervisor
//! died at once (`kill -9` of both, a machine reset mid-run). Two kinds of
//! leftovers are found: journals of processes that no longer exist (their
//! outstanding entries are undone: processes killed, immutable attributes
//! cleared, modes restored, directories removed), and scratch directories
//! under the temp dir whose marker names a run that no longer exists.

use std::io;
use std::path::{Path, PathBuf};

use super::journal;
use super::trust::{Strict, TrustedDir};
use crate::scratch::MARKER;

/// Something a dead run left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leftover {
    /// A journal with outstanding entries, of process `pid`.
    Journal {
        path: PathBuf,
        pid: u32,
        entries: Vec<journal::Entry>,
    },
    /// A scratch directory of run `pid` (0 when its marker names none).
    Scratch { path: PathBuf, pid: u32 },
}

impl Leftover {
    pub fn describe(&self) -> String {
        match self {
            Leftover::Journal { pid, entries, .. } => format!(
                "run {pid}: {}",
                entries
                    .iter()
                    .map(|e| e.describe())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Leftover::Scratch { path, pid } => format!("scratch directory {} (run {pid})", path.display()),
        }
    }
}

/// Whether process `pid` exists and is not a zombie (a reused pid counts as
/// alive: the safe side).
pub fn alive(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    match super::procs::stat(pid as i32) {
        Some((state, _)) => !matches!(state, 'Z' | 'X'),
        None => !matches!(
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None),
            Err(nix::errno::Errno::ESRCH)
        ),
    }
}

/// The pid written in a scratch directory's marker (0 when it names none),
/// read only from a directory torn trusts, without following a link.
pub fn marker_pid(dir: &Path) -> Option<u32> {
    let d = TrustedDir::open(dir, Strict::NoOtherWriters, "--dir").ok()?;
    let text = d.read_file(MARKER, crate::limits::MAX_MARKER_BYTES).ok()?;
    Some(String::from_utf8_lossy(&text).trim().parse().unwrap_or(0))
}

/// What [`scan`] found: leftovers to undo, and what it refused to touch
/// (an untrusted journal directory, entries outside a verified scratch root).
#[derive(Debug, Default)]
pub struct Found {
    pub leftovers: Vec<Leftover>,
    pub refused: Vec<String>,
}

/// Everything dead runs left: journals first, then scratch directories no
/// journal mentions.
pub fn find() -> Vec<Leftover> {
    scan().leftovers
}

/// Everything dead runs left, and what was refused. Only journals in a
/// journal directory torn made (see [`journal`]) are read; of their entries
/// only those inside a scratch root torn verified are listed; and only
/// scratch directories owned by torn's uid, writable by no one else, whose
/// marker is not locked by a live run and names a dead one, are listed.
/// Anything else was planted or belongs to someone else: it is not a
/// leftover, and is never touched.
pub fn scan() -> Found {
    let mut found = Found::default();
    match journal::existing_dir() {
        Ok(Some(dir)) => {
            for name in dir.names().unwrap_or_default() {
                let Some(pid) = name.strip_suffix(".jsonl").and_then(|s| s.parse::<u32>().ok()) else {
                    continue;
                };
                if alive(pid) {
                    continue;
                }
                let path = dir.path().join(&name);
                match journal::read(&dir, &name) {
                    Ok(all) => {
                        let mut entries = Vec::new();
                        for e in all {
                            match e.verify() {
                                Ok(_) => entries.push(e),
                                Err(why) => found.refused.push(format!("journal {}: {why}", path.display())),
                            }
                        }
                        if !entries.is_empty() {
                            found.leftovers.push(Leftover::Journal { path, pid, entries });
                        }
                    }
                    Err(e) => found.refused.push(format!("journal {e}")),
                }
            }
        }
        Ok(None) => {}
        Err(e) => found.refused.push(format!("journal directory {e}")),
    }
    let in_journal = |p: &Path, out: &[Leftover]| {
        out.iter().any(|l| match l {
            Leftover::Journal { entries, .. } => entries
                .iter()
                .any(|e| matches!(e, journal::Entry::Dir { path } if path == p)),
            Leftover::Scratch { .. } => false,
        })
    };
    let mut scratch = Vec::new();
    if let Ok(rd) = std::fs::read_dir(std::env::temp_dir()) {
        for e in rd.flatten() {
            let path = e.path();
            let named = e
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with("torn-") && !n.starts_with("torn-runs-"));
            // The entry's own type: a symlink named torn-* is not followed.
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            if !named || !is_dir || in_journal(&path, &found.leftovers) {
                continue;
            }
            if let Some(pid) = dead_scratch(&path) {
                scratch.push(Leftover::Scratch { path, pid });
            }
        }
    }
    found.leftovers.extend(scratch);
    found
}

/// The run that made scratch directory `path`, if the directory is torn's
/// own (owner, mode, not a link), its marker is a regular file no live run
/// holds locked, and the run it names is gone.
fn dead_scratch(path: &Path) -> Option<u32> {
    let dir = TrustedDir::open(path, Strict::NoOtherWriters, "--dir").ok()?;
    if crate::scratch::marker_locked(&dir) {
        return None;
    }
    let pid = marker_pid(path)?;
    (!alive(pid)).then_some(pid)
}

/// Undoes one leftover; returns what was done, line by line.
pub fn remove(l: &Leftover) -> io::Result<Vec<String>> {
    match l {
        Leftover::Journal { path, .. } => {
            let dir = journal::existing_dir()?.ok_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, format!("{}: gone", path.display()))
            })?;
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let results = journal::replay(&dir, name)?;
            let mut lines = Vec::new();
            let mut first_err = None;
            for (e, r) in results {
                match r {
                    Ok(()) => lines.push(format!("undone: {}", e.describe())),
                    Err(err) => {
                        lines.push(format!("failed: {}: {err}", e.describe()));
                        first_err.get_or_insert(err);
                    }
                }
            }
            match first_err {
                Some(e) => Err(io::Error::new(e.kind(), lines.join("\n"))),
                None => Ok(lines),
            }
        }
        Leftover::Scratch { path, .. } => {
            // Checked again: it may have changed since it was listed.
            if dead_scratch(path).is_none() {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!(
                        "{}: no longer a dead run's scratch directory of torn's; left alone",
                        path.display()
                    ),
                ));
            }
            super::procs::sweep(path);
            journal::remove_tree(path)?;
            Ok(vec![format!("removed: {}", path.display())])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_pid_is_dead_and_we_are_alive() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!alive(pid));
        assert!(alive(std::process::id()));
        assert!(!alive(0));
    }
}
