//! Hand-built traces in the shapes of the built-in strategies (and of one
//! writer torn has no strategy for), for tests: the events each would
//! record, with payloads and acknowledgements. Not a recorder: nothing is
//! written to disk.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::libc;

use crate::trace::{Call, Event};

/// A trace and when each version was acknowledged.
#[derive(Debug, Clone)]
pub struct Shape {
    pub events: Vec<Event>,
    pub acks: Vec<(u64, u64)>,
}

/// The shapes [`build`] knows.
pub const NAMES: [&str; 4] = [
    "naive-truncate",
    "rename-unique-tmp",
    "rename-durable",
    "fsync-file-only",
];

struct Clock {
    events: Vec<Event>,
    now: u64,
}

impl Clock {
    fn call(&mut self, call: Call, result: i64) {
        self.now += 10;
        self.events.push(Event {
            start_ns: self.now,
            end_ns: self.now + 5,
            tid: 1,
            call,
            result,
            file: None,
        });
    }
}

/// The trace of `name` writing `versions[i]` as version `i + 1` to `target`:
/// - `naive-truncate`: `open(O_TRUNC)`, `write`, `close`;
/// - `rename-unique-tmp`: `open(tmp, O_CREAT|O_EXCL)`, `write`, `rename`, `close`;
/// - `rename-durable`: the same with `fchmod`, `fsync(tmp)` before the
///   rename and `fsync(dir)` after;
/// - `fsync-file-only`: `fsync(tmp)` before the rename, the directory never.
pub fn build(name: &str, target: &Path, versions: &[Vec<u8>]) -> Option<Shape> {
    let dir = target.parent()?.to_path_buf();
    let file = target.file_name()?.to_string_lossy().into_owned();
    let mut c = Clock {
        events: Vec::new(),
        now: 1_000,
    };
    let mut acks = Vec::new();
    let (fsync_tmp, fsync_dir, chmod) = match name {
        "naive-truncate" => (false, false, false),
        "rename-unique-tmp" => (false, false, false),
        "rename-durable" => (true, true, true),
        "fsync-file-only" => (true, false, false),
        _ => return None,
    };
    for (i, bytes) in versions.iter().enumerate() {
        let write = |path: PathBuf| Call::Write {
            path,
            fd: 3,
            offset: None,
            len: bytes.len() as u64,
            data: Some(Arc::from(bytes.as_slice())),
        };
        let n = bytes.len() as i64;
        if name == "naive-truncate" {
            let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC;
            c.call(open(target, flags, 0o666, 3), 3);
            c.call(write(target.to_path_buf()), n);
            c.call(close(target, 3), 0);
        } else {
            let tmp = dir.join(format!(".{file}.{:06}.tmp", i + 1));
            c.call(
                open(&tmp, libc::O_RDWR | libc::O_CREAT | libc::O_EXCL, 0o600, 3),
                3,
            );
            if chmod {
                c.call(
                    Call::Chmod {
                        path: tmp.clone(),
                        mode: 0o600,
                    },
                    0,
                );
            }
            c.call(write(tmp.clone()), n);
            if fsync_tmp {
                c.call(fsync(&tmp), 0);
            }
            c.call(
                Call::Rename {
                    from: tmp.clone(),
                    to: target.to_path_buf(),
                    flags: 0,
                },
                0,
            );
            c.call(close(target, 3), 0);
            if fsync_dir {
                c.call(open(&dir, libc::O_RDONLY | libc::O_DIRECTORY, 0, 4), 4);
                c.call(fsync(&dir), 0);
                c.call(close(&dir, 4), 0);
            }
        }
        acks.push((i as u64 + 1, c.now + 6));
    }
    Some(Shape {
        events: c.events,
        acks,
    })
}

fn open(path: &Path, flags: i32, mode: u32, fd: i32) -> Call {
    Call::Open {
        path: path.to_path_buf(),
        flags,
        mode,
        fd,
    }
}

fn close(path: &Path, fd: i32) -> Call {
    Call::Close {
        path: path.to_path_buf(),
        fd,
    }
}

fn fsync(path: &Path) -> Call {
    Call::Fsync {
        path: path.to_path_buf(),
        data_only: false,
    }
}
