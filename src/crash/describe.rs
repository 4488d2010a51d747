//! Pieces and calls as recipe steps, with paths shown relative to the
//! target's directory: `rename(.config.yaml.000001.tmp → config.yaml)`.

use std::path::{Path, PathBuf};

use nix::libc;

use super::model::{Micro, Part};
use super::ops::{Logical, Op};
use crate::trace::Call;

/// A micro-operation as a recipe step: `write(.config.yaml.k3J, 0..1196)`,
/// `size(.config.yaml.k3J, 0→1196)`, `rename(.config.yaml.k3J → config.yaml)`.
pub fn piece(l: &Logical, m: &Micro) -> String {
    let p = |x: &PathBuf| l.show(x).into_owned();
    let (_, op) = &l.ops[m.op];
    match (op, m.part) {
        (Op::Write { path, .. }, Part::Block { offset, len, .. }) => {
            format!("write({}, {offset}..{})", p(path), offset + len as u64)
        }
        (
            Op::Write {
                path, size_before, ..
            },
            Part::Size(s),
        ) => {
            format!("size({}, {size_before}→{s})", p(path))
        }
        (Op::Close { path, .. }, _) => format!("close({}): auto_da_alloc allocates its data", p(path)),
        (Op::Create { path, ino }, _) => format!("creat({}, {:04o})", p(path), l.inodes[*ino].mode),
        (Op::Truncate { path, size, .. }, _) => format!("truncate({}, {size})", p(path)),
        (
            Op::Rename {
                from, to, exchange, ..
            },
            _,
        ) => {
            format!(
                "rename({} {} {})",
                p(from),
                if *exchange { "⇄" } else { "→" },
                p(to)
            )
        }
        (Op::Link { from, to, .. }, _) => format!("link({} → {})", p(from), p(to)),
        (Op::Unlink { path, .. }, _) => format!("unlink({})", p(path)),
        (Op::Mkdir { path, .. }, _) => format!("mkdir({})", p(path)),
        (Op::Rmdir { path, .. }, _) => format!("rmdir({})", p(path)),
        (Op::Symlink { path, .. }, _) => format!("symlink({})", p(path)),
        (Op::Chmod { path, mode, .. }, _) => format!("chmod({}, {mode:04o})", p(path)),
        (Op::Chown { path, .. }, _) => format!("chown({})", p(path)),
        (Op::Write { path, .. }, _) => format!("write({})", p(path)),
        (Op::FsyncFile { path, .. } | Op::FsyncDir { path }, _) => format!("fsync({})", p(path)),
    }
}

/// One traced call as a recipe step, with paths shown relative to `l.root`.
pub fn describe_call(l: &Logical, call: &Call) -> String {
    let p = |x: &Path| l.show(x).into_owned();
    match call {
        Call::Open { path, flags, .. } => format!("open({}, {})", p(path), open_flags(*flags)),
        Call::Write {
            path, offset, len, ..
        } => match offset {
            Some(o) => format!("pwrite({}, {len} bytes at {o})", p(path)),
            None => format!("write({}, {len} bytes)", p(path)),
        },
        Call::Truncate { path, len } => format!("truncate({}, {len})", p(path)),
        Call::Fsync { path, data_only } => {
            format!("{}({})", if *data_only { "fdatasync" } else { "fsync" }, p(path))
        }
        Call::Rename { from, to, .. } => format!("rename({} → {})", p(from), p(to)),
        Call::Link { from, to } => format!("link({} → {})", p(from), p(to)),
        Call::Symlink { target, to } => format!("symlink({} → {})", p(to), target.display()),
        Call::Unlink { path } => format!("unlink({})", p(path)),
        Call::Mkdir { path, mode } => format!("mkdir({}, {mode:04o})", p(path)),
        Call::Rmdir { path } => format!("rmdir({})", p(path)),
        Call::Chmod { path, mode } => format!("chmod({}, {mode:04o})", p(path)),
        Call::Chown { path, uid, gid } => format!("chown({}, {uid}:{gid})", p(path)),
        Call::Close { path, .. } => format!("close({})", p(path)),
        Call::Umask { mask } => format!("umask({mask:04o})"),
        Call::Lock { path, op, .. } => format!("{}({}, {op:?})", call.name(), p(path)),
        Call::Mmap { path } => format!("mmap({}, PROT_WRITE, MAP_SHARED)", p(path)),
    }
}

/// `O_*` flags as `O_WRONLY|O_CREAT|O_TRUNC`.
pub fn open_flags(flags: i32) -> String {
    let mut out = vec![match flags & libc::O_ACCMODE {
        libc::O_RDONLY => "O_RDONLY",
        libc::O_WRONLY => "O_WRONLY",
        _ => "O_RDWR",
    }];
    for (bit, name) in [
        (libc::O_CREAT, "O_CREAT"),
        (libc::O_EXCL, "O_EXCL"),
        (libc::O_TRUNC, "O_TRUNC"),
        (libc::O_APPEND, "O_APPEND"),
        (libc::O_DIRECTORY, "O_DIRECTORY"),
    ] {
        if flags & bit != 0 {
            out.push(name);
        }
    }
    out.join("|")
}
