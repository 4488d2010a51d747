//! The trace's event model, shared by the ptrace tracer, in-process
//! recording of built-in strategies, mutation windows, recipes and crash
//! states.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Nanoseconds of `CLOCK_MONOTONIC` (the clock of `std::time::Instant`).
pub fn now_ns() -> u64 {
    let ts = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .expect("CLOCK_MONOTONIC is always available");
    ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64
}

/// One completed system call (or its in-process equivalent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When the call was entered ([`now_ns`]).
    pub start_ns: u64,
    /// When it returned.
    pub end_ns: u64,
    /// Thread that made it (the process id for single-threaded writers; 0
    /// for in-process recording).
    pub tid: u32,
    /// What was called, with its arguments resolved to absolute paths.
    pub call: Call,
    /// The return value, or `-errno` on failure.
    pub result: i64,
    /// What the file the call acted on really was, read from the kernel at
    /// the call's exit (see [`FileState`]); `None` where it was not read
    /// (a failed call, a path-only call, a trace written by hand).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileState>,
}

/// A file's real state at a traced call's exit stop: which inode it is and,
/// where the call could change or reveal it, its permission bits — read from
/// the kernel (`fstat` of the descriptor, `stat` of the path) rather than
/// taken from the call's arguments, which say what was *asked*: `O_CREAT`
/// with mode 0666 on a file that exists creates nothing and keeps its 0600;
/// the writer's own `umask` (not torn's) narrows what a create asked for.
/// Recipes rest their findings on this state ([`crate::trace::recipe`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileState {
    pub dev: u64,
    pub ino: u64,
    /// Permission bits (`0o7777`) as read at this call's exit: set for an
    /// open, a chmod and a rename (the renamed file); `None` for calls that
    /// only identify the file through a descriptor (a write, a close), whose
    /// mode is the one last read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    /// For an open: the call created the file (`O_EXCL` or `O_TMPFILE`
    /// succeeded, or the path did not exist at the call's entry).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub created: bool,
}

impl FileState {
    /// The inode, as one key: two names (a temp file and, after the rename,
    /// the target) of one file have the same id.
    pub fn id(&self) -> (u64, u64) {
        (self.dev, self.ino)
    }
}

/// How a lock call changed the locks a process holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LockOp {
    Shared,
    Exclusive,
    Unlock,
}

/// Which kind of lock: they differ in who owns them and when they go away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LockKind {
    /// `flock`: owned by the open file description.
    Flock,
    /// `fcntl(F_SETLK/F_SETLKW)`, `lockf`: owned by the process, dropped by
    /// any close of the file in it.
    Posix,
    /// `fcntl(F_OFD_SETLK/F_OFD_SETLKW)`: owned by the open file description.
    Ofd,
}

impl Event {
    /// Whether the call succeeded.
    pub fn ok(&self) -> bool {
        self.result >= 0
    }
}

/// A file-system call, with every file descriptor resolved to the path it
/// named when the call was made. Paths are absolute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "kebab-case")]
pub enum Call {
    /// `open`, `openat`, `openat2`, `creat`: `flags` are the raw `O_*` bits,
    /// `mode` the creation mode as passed (before the umask); `fd` the
    /// descriptor returned (-1 on failure).
    Open {
        path: PathBuf,
        flags: i32,
        mode: u32,
        fd: i32,
    },
    /// `write`, `pwrite64`, `writev`, `pwritev*`: `offset` is `None` for
    /// writes at the file position. `data` holds the bytes written when the
    /// recorder kept them (bounded; see the recorder's cap), else `None`;
    /// in JSON it is a lowercase hex string, left out when `None`.
    Write {
        path: PathBuf,
        fd: i32,
        offset: Option<u64>,
        len: u64,
        #[serde(default, with = "hex_data", skip_serializing_if = "Option::is_none")]
        data: Option<Arc<[u8]>>,
    },
    /// `truncate`, `ftruncate`.
    Truncate { path: PathBuf, len: u64 },
    /// `fsync`, `fdatasync` (`data_only`), `sync_file_range`, and `fsync` of
    /// a directory (`path` is then the directory).
    Fsync { path: PathBuf, data_only: bool },
    /// `rename`, `renameat`, `renameat2` (`flags`: `RENAME_*`).
    Rename { from: PathBuf, to: PathBuf, flags: u32 },
    /// `link`, `linkat`.
    Link { from: PathBuf, to: PathBuf },
    /// `symlink`, `symlinkat`: `to` is the new link, `target` what it points at.
    Symlink { target: PathBuf, to: PathBuf },
    /// `unlink`, `unlinkat` (without `AT_REMOVEDIR`).
    Unlink { path: PathBuf },
    /// `mkdir`, `mkdirat`.
    Mkdir { path: PathBuf, mode: u32 },
    /// `rmdir`, `unlinkat(AT_REMOVEDIR)`.
    Rmdir { path: PathBuf },
    /// `chmod`, `fchmod`, `fchmodat`.
    Chmod { path: PathBuf, mode: u32 },
    /// `chown` and its variants.
    Chown { path: PathBuf, uid: u32, gid: u32 },
    /// `close` of a descriptor that named a traced path.
    Close { path: PathBuf, fd: i32 },
    /// `umask`: the writer's own mask (torn's is not the writer's);
    /// the result is the previous mask. Recorded for every traced process.
    Umask { mask: u32 },
    /// `flock`, `fcntl` record locks (`lockf` is one), on a watched file.
    Lock {
        path: PathBuf,
        kind: LockKind,
        op: LockOp,
    },
    /// `mmap` of a watched file with `PROT_WRITE` and `MAP_SHARED`: every
    /// store into that memory writes the file, and no call shows it.
    Mmap { path: PathBuf },
}

impl Call {
    /// The paths this call touches (both ends of a rename or link; none for
    /// `umask`).
    pub fn paths(&self) -> impl Iterator<Item = &PathBuf> {
        let (a, b) = match self {
            Call::Umask { .. } => return None.into_iter().chain(None),
            Call::Open { path, .. }
            | Call::Write { path, .. }
            | Call::Truncate { path, .. }
            | Call::Fsync { path, .. }
            | Call::Unlink { path }
            | Call::Mkdir { path, .. }
            | Call::Rmdir { path }
            | Call::Chmod { path, .. }
            | Call::Chown { path, .. }
            | Call::Close { path, .. }
            | Call::Lock { path, .. }
            | Call::Mmap { path } => (path, None),
            Call::Rename { from, to, .. } | Call::Link { from, to } => (from, Some(to)),
            Call::Symlink { to, .. } => (to, None),
        };
        Some(a).into_iter().chain(b)
    }

    /// The short name used in recipes (`open`, `write`, `rename`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Call::Open { .. } => "open",
            Call::Write { .. } => "write",
            Call::Truncate { .. } => "truncate",
            Call::Fsync { data_only: true, .. } => "fdatasync",
            Call::Fsync { .. } => "fsync",
            Call::Rename { .. } => "rename",
            Call::Link { .. } => "link",
            Call::Symlink { .. } => "symlink",
            Call::Unlink { .. } => "unlink",
            Call::Mkdir { .. } => "mkdir",
            Call::Rmdir { .. } => "rmdir",
            Call::Chmod { .. } => "chmod",
            Call::Chown { .. } => "chown",
            Call::Close { .. } => "close",
            Call::Umask { .. } => "umask",
            Call::Lock {
                kind: LockKind::Flock,
                ..
            } => "flock",
            Call::Lock { .. } => "fcntl",
            Call::Mmap { .. } => "mmap",
        }
    }
}

/// `Write::data` in JSON: a lowercase hex string (a trace file written by
/// hand or by another tool can carry the payload crash states are built from).
mod hex_data {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(data: &Option<Arc<[u8]>>, s: S) -> Result<S::Ok, S::Error> {
        match data {
            None => s.serialize_none(),
            Some(bytes) => {
                let mut hex = String::with_capacity(bytes.len() * 2);
                for b in bytes.iter() {
                    hex.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
                    hex.push(char::from(b"0123456789abcdef"[usize::from(b & 0xF)]));
                }
                s.serialize_str(&hex)
            }
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Arc<[u8]>>, D::Error> {
        let Some(hex) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        if hex.len() % 2 != 0 {
            return Err(D::Error::custom("write data: odd number of hex digits"));
        }
        hex.as_bytes()
            .chunks(2)
            .map(|pair| {
                std::str::from_utf8(pair)
                    .ok()
                    .and_then(|p| u8::from_str_radix(p, 16).ok())
                    .ok_or_else(|| {
                        D::Error::custom(format!(
                            "write data: `{}` is not hex",
                            String::from_utf8_lossy(pair)
                        ))
                    })
            })
            .collect::<Result<Vec<u8>, _>>()
            .map(|v| Some(Arc::from(v)))
    }
}

/// A fixed-size ring of events: memory stays flat however long a writer
/// runs; `dropped` says how many of the oldest were overwritten.
#[derive(Debug, Clone)]
pub struct Ring {
    events: VecDeque<Event>,
    cap: usize,
    /// Events pushed in all.
    pub total: u64,
    /// Events overwritten because the ring was full.
    pub dropped: u64,
}

impl Ring {
    pub fn new(cap: usize) -> Self {
        let cap = cap.max(1);
        Self {
            events: VecDeque::with_capacity(cap.min(4096)),
            cap,
            total: 0,
            dropped: 0,
        }
    }

    pub fn push(&mut self, e: Event) {
        if self.events.len() == self.cap {
            self.events.pop_front();
            self.dropped += 1;
        }
        self.total += 1;
        self.events.push_back(e);
    }

    /// The kept events, oldest first.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.events.iter()
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Takes the kept events, leaving the ring empty (counters kept).
    pub fn drain(&mut self) -> Vec<Event> {
        self.events.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(i: u64) -> Event {
        Event {
            start_ns: i,
            end_ns: i + 1,
            tid: 0,
            call: Call::Unlink {
                path: PathBuf::from(format!("/x/{i}")),
            },
            result: 0,
            file: None,
        }
    }

    #[test]
    fn write_data_round_trips_through_json_as_hex() {
        let e = Event {
            start_ns: 1,
            end_ns: 2,
            tid: 7,
            call: Call::Write {
                path: PathBuf::from("/x/f"),
                fd: 3,
                offset: None,
                len: 3,
                data: Some(Arc::from(&b"a\x00\xff"[..])),
            },
            result: 3,
            file: None,
        };
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.contains("\"data\":\"6100ff\""), "{json}");
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), e);
        let without = json.replace(",\"data\":\"6100ff\"", "");
        let back: Event = serde_json::from_str(&without).unwrap();
        assert!(matches!(back.call, Call::Write { data: None, .. }));
        assert!(serde_json::from_str::<Event>(&json.replace("6100ff", "6100f")).is_err());
    }

    #[test]
    fn ring_keeps_the_newest_and_counts_the_rest() {
        let mut r = Ring::new(3);
        (0..10).for_each(|i| r.push(ev(i)));
        assert_eq!(r.len(), 3);
        assert_eq!((r.total, r.dropped), (10, 7));
        let kept: Vec<u64> = r.events().map(|e| e.start_ns).collect();
        assert_eq!(kept, vec![7, 8, 9]);
    }
}
