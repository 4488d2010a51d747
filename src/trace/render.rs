//! One-line forms of events, as recipes write them:
//! `open(target, O_WRONLY|O_CREAT|O_TRUNC, 0666)`, `write(tmp, @0)`,
//! `rename(tmp, target)`. For recipes, logs and test assertions.

use std::path::Path;

use super::{Call, Event};

/// `O_*` flags by name: the access mode, then the flags that change what
/// an open does to the file (`O_CLOEXEC` and the like are left out).
pub fn open_flags(flags: i32) -> String {
    let access = match flags & libc::O_ACCMODE {
        libc::O_WRONLY => "O_WRONLY",
        libc::O_RDWR => "O_RDWR",
        _ => "O_RDONLY",
    };
    let tmpfile = flags & libc::O_TMPFILE == libc::O_TMPFILE;
    let named = [
        (libc::O_CREAT, "O_CREAT"),
        (libc::O_EXCL, "O_EXCL"),
        (libc::O_TRUNC, "O_TRUNC"),
        (libc::O_APPEND, "O_APPEND"),
        (
            libc::O_DIRECTORY,
            if tmpfile { "O_TMPFILE" } else { "O_DIRECTORY" },
        ),
    ];
    std::iter::once(access)
        .chain(named.iter().filter(|(b, _)| flags & b != 0).map(|(_, n)| *n))
        .collect::<Vec<_>>()
        .join("|")
}

/// `e` in one line, each path shown as `name` says; a failed call ends in
/// ` = -errno`.
pub fn brief(e: &Event, name: impl Fn(&Path) -> String) -> String {
    let s = match &e.call {
        Call::Open {
            path, flags, mode, ..
        } if flags & libc::O_CREAT != 0 => {
            format!("open({}, {}, {mode:04o})", name(path), open_flags(*flags))
        }
        Call::Open { path, flags, .. } => format!("open({}, {})", name(path), open_flags(*flags)),
        Call::Write {
            path,
            offset: Some(o),
            ..
        } => format!("write({}, @{o})", name(path)),
        Call::Rename { from, to, .. } | Call::Link { from, to } => {
            format!("{}({}, {})", e.call.name(), name(from), name(to))
        }
        c => {
            let path = c.paths().next().expect("every call names a path");
            format!("{}({})", c.name(), name(path))
        }
    };
    if e.ok() { s } else { format!("{s} = {}", e.result) }
}
