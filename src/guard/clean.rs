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

/// The pid written in a scratch directory's marker (0 when it names none).
pub fn marker_pid(dir: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(dir.join(MARKER)).ok()?;
    Some(text.trim().parse().unwrap_or(0))
}

/// Everything dead runs left: journals first, then scratch directories no
/// journal mentions.
pub fn find() -> Vec<Leftover> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(journal::dir()) {
        for e in rd.flatten() {
            let path = e.path();
            let Some(pid) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if path.extension().is_some_and(|x| x == "jsonl") && !alive(pid) {
                let entries = journal::read(&path).unwrap_or_default();
                out.push(Leftover::Journal { path, pid, entries });
            }
        }
    }
    let in_journal = |p: &Path| {
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
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            if !named || !is_dir || in_journal(&path) {
                continue;
            }
            if let Some(pid) = marker_pid(&path)
                && !alive(pid)
            {
                scratch.push(Leftover::Scratch { path, pid });
            }
        }
    }
    out.extend(scratch);
    out
}

/// Undoes one leftover; returns what was done, line by line.
pub fn remove(l: &Leftover) -> io::Result<Vec<String>> {
    match l {
        Leftover::Journal { path, .. } => {
            let results = journal::replay(path)?;
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
