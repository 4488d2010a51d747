//! From a trace to logical operations (ALICE's first step).
//!
//! A trace names paths and file descriptors; what reaches a disk is changes to
//! inodes and directory entries. This pass replays the trace in program order
//! over a small model of the directory tree and resolves every descriptor to
//! the inode it was opened on and every write to the byte range it covered.
//! Failed calls (`result < 0`) change nothing and are skipped.
//!
//! What the trace does not show is assumed, and documented here:
//! - `lseek` is not traced: a write at the file position (`offset: None`)
//!   continues where the previous one on that descriptor ended, from 0 after
//!   `open` (from the end of the file with `O_APPEND`);
//! - descriptors belong to the thread id that opened them; a write on a
//!   descriptor the trace never opened is resolved by its path;
//! - the umask is not traced: a created file gets `mode & !0o022`;
//! - a file opened without `O_CREAT` that the initial state does not hold is
//!   taken to have existed, empty (and a note says so).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::libc;

use crate::trace::{Call, Event};

/// An inode number, local to one trace.
pub type Ino = usize;

/// The umask assumed for created files (it is not traced).
pub const UMASK: u32 = 0o022;

/// What an inode is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Kind {
    File,
    Dir,
    /// A symbolic link and what it points at.
    Symlink(PathBuf),
}

/// An inode as it was before the trace touched it, or as it was created.
#[derive(Debug, Clone)]
pub struct Inode {
    pub kind: Kind,
    pub mode: u32,
    /// Contents before the trace (empty for inodes the trace created).
    pub data: Vec<u8>,
}

/// A file that exists, durably, before the trace begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialFile {
    pub path: PathBuf,
    pub data: Vec<u8>,
    pub mode: u32,
}

/// A logical operation: one change to the file system, or a barrier.
#[derive(Debug, Clone)]
pub enum Op {
    /// A new file and its directory entry (`open(O_CREAT)` of a new name).
    Create {
        path: PathBuf,
        ino: Ino,
    },
    /// `len` bytes of `data` written at `offset`; the file was `size_before`
    /// bytes long just before (program order).
    Write {
        path: PathBuf,
        ino: Ino,
        offset: u64,
        data: Arc<[u8]>,
        len: usize,
        size_before: u64,
    },
    /// The file's size set to `size` (`truncate`, `ftruncate`, `O_TRUNC`).
    Truncate {
        path: PathBuf,
        ino: Ino,
        size: u64,
        size_before: u64,
    },
    /// `to` now names `ino`; `from` no longer does. `replaced` is the file
    /// `to` named before, if any (an atomic replace).
    Rename {
        from: PathBuf,
        to: PathBuf,
        ino: Ino,
        replaced: Option<Ino>,
        exchange: bool,
    },
    Link {
        from: PathBuf,
        to: PathBuf,
        ino: Ino,
    },
    Unlink {
        path: PathBuf,
        ino: Ino,
    },
    Mkdir {
        path: PathBuf,
        ino: Ino,
    },
    Rmdir {
        path: PathBuf,
        ino: Ino,
    },
    Symlink {
        path: PathBuf,
        ino: Ino,
    },
    Chmod {
        path: PathBuf,
        ino: Ino,
        mode: u32,
    },
    /// Recorded but not materialised (changing owners needs privileges).
    Chown {
        path: PathBuf,
        ino: Ino,
    },
    /// `fsync` / `fdatasync` of a file: a barrier for its inode.
    FsyncFile {
        path: PathBuf,
        ino: Ino,
        data_only: bool,
    },
    /// `fsync` of a directory: a barrier for its entries.
    FsyncDir {
        path: PathBuf,
    },
    /// The close of a descriptor on a file (ext4 acts on some closes).
    Close {
        path: PathBuf,
        ino: Ino,
    },
}

impl Op {
    /// Whether this operation changes a directory entry.
    pub fn is_namespace(&self) -> bool {
        matches!(
            self,
            Op::Create { .. }
                | Op::Rename { .. }
                | Op::Link { .. }
                | Op::Unlink { .. }
                | Op::Mkdir { .. }
                | Op::Rmdir { .. }
                | Op::Symlink { .. }
        )
    }

    /// The directory entries this operation changes.
    pub fn entries(&self) -> Vec<&Path> {
        match self {
            Op::Create { path, .. }
            | Op::Unlink { path, .. }
            | Op::Mkdir { path, .. }
            | Op::Rmdir { path, .. }
            | Op::Symlink { path, .. } => vec![path],
            Op::Rename { from, to, .. } | Op::Link { from, to, .. } => vec![from, to],
            _ => vec![],
        }
    }

    /// The inode whose contents or attributes this operation changes.
    pub fn inode(&self) -> Option<Ino> {
        match *self {
            Op::Write { ino, .. }
            | Op::Truncate { ino, .. }
            | Op::Chmod { ino, .. }
            | Op::Chown { ino, .. } => Some(ino),
            _ => None,
        }
    }
}

/// Why a trace cannot be turned into crash states.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error(
        "event #{event}: write of {len} bytes to {path} kept only {kept} bytes of payload; \
         crash states need the bytes written (record with a larger payload cap)"
    )]
    NoPayload {
        event: usize,
        path: PathBuf,
        len: u64,
        kept: usize,
    },
    #[error("target {0} has no parent directory")]
    NoParent(PathBuf),
    #[error(
        "event #{event}: path {path} is not an absolute path of plain names (`..`, `.` and \
         relative paths are refused: every path is resolved under the state directory)"
    )]
    Path { event: usize, path: PathBuf },
    #[error(
        "event #{event}: {what} would make {path} {size} bytes; crash states hold files of at \
         most {max} bytes (they are built for real on disk)",
        max = crate::limits::MAX_CRASH_FILE_BYTES
    )]
    TooLarge {
        event: usize,
        path: PathBuf,
        what: &'static str,
        size: u128,
    },
    #[error(
        "the trace has {0} events; torn crash explores at most {max} (each is a crash point)",
        max = crate::limits::MAX_TRACE_EVENTS
    )]
    TooManyEvents(usize),
}

/// Whether `p` is absolute and made of plain names only (no `..`, no `.`):
/// the only paths a crash state is built from, so that a name in a trace
/// can never lead out of the state directory.
pub fn plain_absolute(p: &Path) -> bool {
    let mut c = p.components();
    matches!(c.next(), Some(std::path::Component::RootDir))
        && c.all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// Checks what every trace must satisfy before it is replayed: at most
/// [`crate::limits::MAX_TRACE_EVENTS`] events, and plain absolute paths.
pub fn check_trace(trace: &[Event], target: &Path) -> Result<(), TraceError> {
    if trace.len() > crate::limits::MAX_TRACE_EVENTS {
        return Err(TraceError::TooManyEvents(trace.len()));
    }
    if !plain_absolute(target) {
        return Err(TraceError::Path {
            event: 0,
            path: target.to_path_buf(),
        });
    }
    for (i, e) in trace.iter().enumerate() {
        if let Some(p) = e.call.paths().find(|p| !plain_absolute(p)) {
            return Err(TraceError::Path {
                event: i,
                path: p.clone(),
            });
        }
    }
    Ok(())
}

/// The end of a write or a new size, if a crash state may hold it.
fn within_cap(event: usize, path: &Path, what: &'static str, size: u128) -> Result<u64, TraceError> {
    if size > u128::from(crate::limits::MAX_CRASH_FILE_BYTES) {
        return Err(TraceError::TooLarge {
            event,
            path: path.to_path_buf(),
            what,
            size,
        });
    }
    Ok(size as u64)
}

/// A trace as logical operations, with the state they start from.
#[derive(Debug, Clone)]
pub struct Logical {
    /// The target's directory: states are built and hashed below it.
    pub root: PathBuf,
    pub target: PathBuf,
    /// Directory entries before the trace (all durable).
    pub names: BTreeMap<PathBuf, Ino>,
    /// Every inode the trace or the initial state knows.
    pub inodes: Vec<Inode>,
    /// The operations, each with the index of the event it came from.
    pub ops: Vec<(usize, Op)>,
    /// Whether the target existed before the trace.
    pub target_initially: bool,
    /// Assumptions the trace forced (unknown files, unresolved paths).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
struct Fd {
    ino: Option<Ino>,
    pos: u64,
    append: bool,
    seq: u64,
}

/// Program-order state while replaying a trace.
struct Live {
    names: BTreeMap<PathBuf, Ino>,
    sizes: Vec<u64>,
    fds: HashMap<(u32, i32), Fd>,
    seq: u64,
}

impl Logical {
    /// Replays `trace` over `initial` (files that exist, durably, before it).
    pub fn from_trace(trace: &[Event], target: &Path, initial: &[InitialFile]) -> Result<Self, TraceError> {
        check_trace(trace, target)?;
        let root = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .ok_or_else(|| TraceError::NoParent(target.to_path_buf()))?
            .to_path_buf();
        let mut l = Logical {
            root,
            target: target.to_path_buf(),
            names: BTreeMap::new(),
            inodes: Vec::new(),
            ops: Vec::new(),
            target_initially: initial.iter().any(|f| f.path == target),
            notes: Vec::new(),
        };
        let mut live = Live {
            names: BTreeMap::new(),
            sizes: Vec::new(),
            fds: HashMap::new(),
            seq: 0,
        };
        for f in initial {
            let ino = l.new_inode(&mut live, Kind::File, f.mode, f.data.clone());
            l.names.insert(f.path.clone(), ino);
            live.names.insert(f.path.clone(), ino);
        }
        for (i, e) in trace.iter().enumerate() {
            if e.ok() {
                l.replay(i, e, &mut live)?;
            }
        }
        Ok(l)
    }

    fn new_inode(&mut self, live: &mut Live, kind: Kind, mode: u32, data: Vec<u8>) -> Ino {
        live.sizes.push(data.len() as u64);
        self.inodes.push(Inode { kind, mode, data });
        self.inodes.len() - 1
    }

    fn push(&mut self, event: usize, op: Op) {
        self.ops.push((event, op));
    }

    fn replay(&mut self, i: usize, e: &Event, live: &mut Live) -> Result<(), TraceError> {
        match &e.call {
            Call::Open {
                path,
                flags,
                mode,
                fd,
            } => {
                let writable = flags & libc::O_ACCMODE != libc::O_RDONLY;
                let ino = match live.names.get(path).copied() {
                    Some(ino) => {
                        let size = live.sizes[ino];
                        if flags & libc::O_TRUNC != 0
                            && writable
                            && self.inodes[ino].kind == Kind::File
                            && size > 0
                        {
                            self.push(
                                i,
                                Op::Truncate {
                                    path: path.clone(),
                                    ino,
                                    size: 0,
                                    size_before: size,
                                },
                            );
                            live.sizes[ino] = 0;
                        }
                        Some(ino)
                    }
                    None if flags & libc::O_CREAT != 0 => {
                        let ino = self.new_inode(live, Kind::File, mode & 0o7777 & !UMASK, Vec::new());
                        live.names.insert(path.clone(), ino);
                        self.push(
                            i,
                            Op::Create {
                                path: path.clone(),
                                ino,
                            },
                        );
                        Some(ino)
                    }
                    None if flags & libc::O_DIRECTORY != 0 || self.is_dir_path(path, live) => None,
                    None => {
                        self.notes.push(format!(
                            "event #{i}: {} was opened without O_CREAT but is not in the initial state; taken to have existed, empty",
                            path.display()
                        ));
                        let ino = self.new_inode(live, Kind::File, 0o644, Vec::new());
                        self.names.insert(path.clone(), ino);
                        live.names.insert(path.clone(), ino);
                        Some(ino)
                    }
                };
                live.seq += 1;
                live.fds.insert(
                    (e.tid, *fd),
                    Fd {
                        ino,
                        pos: 0,
                        append: flags & libc::O_APPEND != 0,
                        seq: live.seq,
                    },
                );
            }
            Call::Write {
                path,
                fd,
                offset,
                len,
                data,
            } => {
                let n = (e.result as u64).min(*len);
                if n == 0 {
                    return Ok(());
                }
                let kept = data.as_ref().map_or(0, |d| d.len());
                let Some(data) = data.clone().filter(|d| d.len() as u64 >= n) else {
                    return Err(TraceError::NoPayload {
                        event: i,
                        path: path.clone(),
                        len: n,
                        kept,
                    });
                };
                let key = fd_key(live, e.tid, *fd);
                let ino = match key.and_then(|k| live.fds[&k].ino) {
                    Some(ino) => ino,
                    None => match live.names.get(path) {
                        Some(&ino) => ino,
                        None => {
                            self.notes.push(format!(
                                "event #{i}: write to {} on fd {fd}, which names no known file; ignored",
                                path.display()
                            ));
                            return Ok(());
                        }
                    },
                };
                let size_before = live.sizes[ino];
                let at = match (offset, key) {
                    (Some(o), _) => *o,
                    (None, Some(k)) => {
                        let f = live.fds.get_mut(&k).expect("resolved above");
                        let at = if f.append { size_before } else { f.pos };
                        f.pos = at.saturating_add(n);
                        at
                    }
                    (None, None) => size_before,
                };
                let end = within_cap(i, path, "a write", u128::from(at) + u128::from(n))?;
                live.sizes[ino] = size_before.max(end);
                self.push(
                    i,
                    Op::Write {
                        path: path.clone(),
                        ino,
                        offset: at,
                        data,
                        len: n as usize,
                        size_before,
                    },
                );
            }
            Call::Truncate { path, len } => {
                within_cap(i, path, "a truncate", u128::from(*len))?;
                if let Some(ino) = self.file(i, path, live, "truncate") {
                    let size_before = live.sizes[ino];
                    live.sizes[ino] = *len;
                    self.push(
                        i,
                        Op::Truncate {
                            path: path.clone(),
                            ino,
                            size: *len,
                            size_before,
                        },
                    );
                }
            }
            Call::Fsync { path, data_only } => match live.names.get(path) {
                Some(&ino) if self.inodes[ino].kind == Kind::File => self.push(
                    i,
                    Op::FsyncFile {
                        path: path.clone(),
                        ino,
                        data_only: *data_only,
                    },
                ),
                _ => self.push(i, Op::FsyncDir { path: path.clone() }),
            },
            Call::Rename { from, to, flags } => {
                let Some(&ino) = live.names.get(from) else {
                    self.notes.push(format!(
                        "event #{i}: rename of {}, which the trace never created; ignored",
                        from.display()
                    ));
                    return Ok(());
                };
                let exchange = flags & libc::RENAME_EXCHANGE != 0;
                let replaced = live.names.get(to).copied().filter(|&r| r != ino);
                rename_entry(&mut live.names, from, to, ino, exchange);
                self.push(
                    i,
                    Op::Rename {
                        from: from.clone(),
                        to: to.clone(),
                        ino,
                        replaced: replaced.filter(|&r| self.inodes[r].kind == Kind::File),
                        exchange,
                    },
                );
            }
            Call::Link { from, to } => {
                if let Some(ino) = self.file(i, from, live, "link") {
                    live.names.insert(to.clone(), ino);
                    self.push(
                        i,
                        Op::Link {
                            from: from.clone(),
                            to: to.clone(),
                            ino,
                        },
                    );
                }
            }
            Call::Symlink { target, to } => {
                let ino = self.new_inode(live, Kind::Symlink(target.clone()), 0o777, Vec::new());
                live.names.insert(to.clone(), ino);
                self.push(
                    i,
                    Op::Symlink {
                        path: to.clone(),
                        ino,
                    },
                );
            }
            Call::Unlink { path } => {
                if let Some(ino) = live.names.remove(path) {
                    self.push(
                        i,
                        Op::Unlink {
                            path: path.clone(),
                            ino,
                        },
                    );
                }
            }
            Call::Mkdir { path, mode } => {
                let ino = self.new_inode(live, Kind::Dir, mode & 0o7777 & !UMASK, Vec::new());
                live.names.insert(path.clone(), ino);
                self.push(
                    i,
                    Op::Mkdir {
                        path: path.clone(),
                        ino,
                    },
                );
            }
            Call::Rmdir { path } => {
                if let Some(ino) = live.names.remove(path) {
                    self.push(
                        i,
                        Op::Rmdir {
                            path: path.clone(),
                            ino,
                        },
                    );
                }
            }
            Call::Chmod { path, mode } => {
                if let Some(&ino) = live.names.get(path) {
                    self.push(
                        i,
                        Op::Chmod {
                            path: path.clone(),
                            ino,
                            mode: mode & 0o7777,
                        },
                    );
                }
            }
            Call::Chown { path, .. } => {
                if let Some(&ino) = live.names.get(path) {
                    self.push(
                        i,
                        Op::Chown {
                            path: path.clone(),
                            ino,
                        },
                    );
                }
            }
            Call::Close { path, fd } => {
                if let Some(k) = fd_key(live, e.tid, *fd)
                    && let Some(Fd { ino: Some(ino), .. }) = live.fds.remove(&k)
                {
                    self.push(
                        i,
                        Op::Close {
                            path: path.clone(),
                            ino,
                        },
                    );
                }
            }
            // Neither puts anything on disk: a mask and a lock change no
            // file, and a shared mapping's stores are not in the trace.
            Call::Umask { .. } | Call::Lock { .. } | Call::Mmap { .. } => {}
        }
        Ok(())
    }

    /// The file `path` names now, or `None` (with a note).
    fn file(&mut self, i: usize, path: &Path, live: &Live, what: &str) -> Option<Ino> {
        let ino = live.names.get(path).copied();
        if ino.is_none() {
            self.notes.push(format!(
                "event #{i}: {what} of {}, which names no known file; ignored",
                path.display()
            ));
        }
        ino
    }

    /// Whether `path` is a directory: the target's, an ancestor of a known
    /// name, or one the trace made.
    fn is_dir_path(&self, path: &Path, live: &Live) -> bool {
        path == self.root
            || self.target.starts_with(path)
            || live.names.keys().any(|n| n != path && n.starts_with(path))
    }

    /// `path` relative to the target's directory when it is below it.
    pub fn show<'a>(&self, path: &'a Path) -> std::borrow::Cow<'a, str> {
        match path.strip_prefix(&self.root) {
            Ok(rel) if !rel.as_os_str().is_empty() => rel.to_string_lossy(),
            _ => path.to_string_lossy(),
        }
    }
}

/// The descriptor `fd` of thread `tid`, or else the latest one opened with
/// that number by any thread (threads share descriptors).
fn fd_key(live: &Live, tid: u32, fd: i32) -> Option<(u32, i32)> {
    if live.fds.contains_key(&(tid, fd)) {
        return Some((tid, fd));
    }
    live.fds
        .iter()
        .filter(|((_, f), _)| *f == fd)
        .max_by_key(|(_, d)| d.seq)
        .map(|(k, _)| *k)
}

/// Applies a rename to a name table: `to` names `ino` (the entries below a
/// renamed directory move with it); with `exchange`, the two swap.
pub fn rename_entry(names: &mut BTreeMap<PathBuf, Ino>, from: &Path, to: &Path, ino: Ino, exchange: bool) {
    if exchange {
        let a = names.remove(from);
        let b = names.remove(to);
        if let Some(b) = b {
            names.insert(from.to_path_buf(), b);
        }
        if let Some(a) = a {
            names.insert(to.to_path_buf(), a);
        }
        return;
    }
    if names.get(from) == Some(&ino) {
        names.remove(from);
        let below: Vec<PathBuf> = names
            .range(from.to_path_buf()..)
            .take_while(|(p, _)| p.starts_with(from))
            .map(|(p, _)| p.clone())
            .collect();
        for p in below {
            let child = names.remove(&p).expect("listed above");
            let rel = p.strip_prefix(from).expect("below from");
            names.insert(to.join(rel), child);
        }
    }
    names.insert(to.to_path_buf(), ino);
}
