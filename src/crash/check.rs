//! Judging one crash state: the target read and classified as a reader
//! would (the same [`Outcome`]s as a run), then held against what the
//! writer had acknowledged before the crash point, and the directory
//! searched for litter.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::CrashError;
use crate::classify::{Classified, Classifier, Outcome, ReadResult};
use crate::format::Versions;

/// What one crash state means for the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CrashOutcome {
    /// The target holds a whole version, at least as new as every version
    /// acknowledged before the crash (or is absent, and had not existed
    /// before the trace nor been acknowledged since).
    Ok,
    /// Not durable: the target holds a whole version older than one the
    /// writer had acknowledged.
    LostAck,
    /// Atomicity broken: the target is empty.
    Empty,
    /// Atomicity broken: the target existed (before the trace, or as an
    /// acknowledged version) and is gone.
    Missing,
    /// Atomicity broken: the bytes are no whole version, and the client's
    /// parser accepts them.
    TornParseable,
    /// Atomicity broken: the bytes are no whole version, and the parser
    /// rejects them.
    TornUnparseable,
    /// The target could not be read (e.g. the state left a directory there).
    Error,
}

impl CrashOutcome {
    pub const ALL: [CrashOutcome; 7] = [
        CrashOutcome::Ok,
        CrashOutcome::LostAck,
        CrashOutcome::Empty,
        CrashOutcome::Missing,
        CrashOutcome::TornParseable,
        CrashOutcome::TornUnparseable,
        CrashOutcome::Error,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CrashOutcome::Ok => "ok",
            CrashOutcome::LostAck => "lost-ack",
            CrashOutcome::Empty => "empty",
            CrashOutcome::Missing => "missing",
            CrashOutcome::TornParseable => "torn-parseable",
            CrashOutcome::TornUnparseable => "torn-unparseable",
            CrashOutcome::Error => "error",
        }
    }

    /// Whether this outcome breaks atomicity (everything but `ok` and `lost-ack`).
    pub fn breaks_atomicity(self) -> bool {
        !matches!(self, CrashOutcome::Ok | CrashOutcome::LostAck)
    }
}

/// What reading a built state showed, whatever the crash point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The classifier's outcome, against no committed version.
    pub outcome: Outcome,
    /// The whole version read, for `ok`.
    pub version: Option<u64>,
    /// The target's length in bytes, when it could be read.
    pub len: Option<u64>,
    /// For torn reads, what the client's parser said.
    pub detail: Option<String>,
    /// A torn target that holds nothing but zero bytes (a size that reached
    /// disk without its data).
    pub zeros: bool,
    /// Files other than the target that were not there before the trace,
    /// relative to the target's directory.
    pub litter: Vec<String>,
}

/// Reads the state built in `dir` (standing in for the target's
/// directory): `target` and `before` (the names present before the trace)
/// are relative to it.
pub fn read_state(
    dir: &Path,
    target: &Path,
    before: &BTreeSet<PathBuf>,
    classifier: &Classifier,
) -> Result<Seen, CrashError> {
    let (c, len, zeros) = read_target(dir, target, classifier);
    let mut litter = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let io = |source| CrashError::Io {
            path: d.clone(),
            source,
        };
        for entry in std::fs::read_dir(&d).map_err(io)? {
            let entry = entry.map_err(io)?;
            let p = entry.path();
            if entry.file_type().map_err(io)?.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p.strip_prefix(dir).expect("walked below dir").to_path_buf();
            if rel != target && !before.contains(&rel) {
                litter.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    litter.sort();
    Ok(Seen {
        outcome: c.outcome,
        version: c.version,
        len,
        detail: c.detail,
        zeros,
        litter,
    })
}

/// Links followed from the target to the file it names, at most.
const MAX_HOPS: usize = 8;

/// Reads the target of a built state as a reader would — but only inside
/// the state: every component is opened relative to `dir` without following
/// a link; a link *at* the target is followed only while its text, resolved
/// lexically, stays inside the state (a link to `/etc/shadow` or `../x` is
/// `foreign`, never opened). At most a whole version plus a block is read.
/// Returns what the classifier made of it, the file's size, and whether the
/// bytes read are all zeros.
fn read_target(dir: &Path, target: &Path, classifier: &Classifier) -> (Classified, Option<u64>, bool) {
    use std::io::Read;
    use std::os::fd::AsFd;

    use nix::errno::Errno;
    use nix::fcntl::{OFlag, openat};
    use nix::sys::stat::Mode;

    let classify = |read: ReadResult<'_>| classifier.classify_versions(read, Versions::default(), 0);
    let foreign = |why: &str| (Classified::foreign(why.to_string()), None, false);
    let Ok(base) = std::fs::File::open(dir).map(std::os::fd::OwnedFd::from) else {
        return (classify(ReadResult::Error(Errno::ENOENT as i32)), None, false);
    };
    let mut rel = target.to_path_buf();
    for _ in 0..MAX_HOPS {
        let name = rel.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        let parent =
            match super::materialize::open_dir_beneath(&base, rel.parent().unwrap_or(Path::new("")), false) {
                Ok(p) => p,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return (classify(ReadResult::Missing), None, false);
                }
                Err(_) => return foreign("a directory on the way to the target is a link; not followed"),
            };
        let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
        match openat(parent.as_fd(), name.as_os_str(), flags, Mode::empty()) {
            Ok(fd) => {
                let f = std::fs::File::from(fd);
                let Ok(meta) = f.metadata() else {
                    return (classify(ReadResult::Error(Errno::EIO as i32)), None, false);
                };
                if meta.is_dir() {
                    return (classify(ReadResult::Error(Errno::EISDIR as i32)), None, false);
                }
                if !meta.is_file() {
                    return foreign("the target is not a regular file; nothing was read from it");
                }
                let cap = crate::engine::reader::buffer_len(classifier.template.len()) as u64;
                let mut buf = Vec::new();
                if let Err(e) = f.take(cap).read_to_end(&mut buf) {
                    return (
                        classify(ReadResult::Error(e.raw_os_error().unwrap_or(0))),
                        None,
                        false,
                    );
                }
                let c = classify(ReadResult::Bytes(&buf));
                let zeros = matches!(c.outcome, Outcome::TornParseable | Outcome::TornUnparseable)
                    && buf.iter().all(|&x| x == 0);
                return (c, Some(meta.len()), zeros);
            }
            Err(Errno::ENOENT) => return (classify(ReadResult::Missing), None, false),
            Err(Errno::ELOOP) => {
                let Ok(link) = nix::fcntl::readlinkat(parent.as_fd(), name.as_os_str()) else {
                    return (classify(ReadResult::Missing), None, false);
                };
                match inside(rel.parent().unwrap_or(Path::new("")), Path::new(&link)) {
                    Some(next) => rel = next,
                    None => return foreign("the target is a link out of the crash state; not followed"),
                }
            }
            Err(e) => return (classify(ReadResult::Error(e as i32)), None, false),
        }
    }
    foreign("the target is a chain of links; not followed")
}

/// `link` (a symlink's text, in directory `from`) resolved lexically, if it
/// stays inside the state: relative, and no `..` climbing above it.
fn inside(from: &Path, link: &Path) -> Option<PathBuf> {
    use std::path::Component;
    if link.is_absolute() {
        return None;
    }
    let mut out = PathBuf::new();
    for c in from.components().chain(link.components()) {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// The outcome of a state at a crash point where `acked` is the newest
/// version acknowledged so far and `existed` says whether the target had
/// existed as far as a crash can tell: before the trace, or as a version
/// the writer acknowledged. A file only created since (and not yet
/// acknowledged) may be missing after a crash: that is the state before the
/// write, as atomic replacement allows.
pub fn judge(seen: &Seen, acked: Option<u64>, existed: bool) -> CrashOutcome {
    match seen.outcome {
        Outcome::Missing if !existed => CrashOutcome::Ok,
        Outcome::Missing => CrashOutcome::Missing,
        Outcome::Empty => CrashOutcome::Empty,
        Outcome::TornParseable => CrashOutcome::TornParseable,
        Outcome::TornUnparseable => CrashOutcome::TornUnparseable,
        Outcome::Error | Outcome::Foreign => CrashOutcome::Error,
        Outcome::Ok | Outcome::Stale => match (seen.version, acked) {
            (Some(v), Some(a)) if v < a => CrashOutcome::LostAck,
            _ => CrashOutcome::Ok,
        },
    }
}

/// What the target held, in words: `version 2`, `an empty file`, ...
pub fn found(seen: &Seen) -> String {
    match seen.outcome {
        Outcome::Ok | Outcome::Stale => format!("version {}", seen.version.unwrap_or_default()),
        Outcome::Empty => "an empty file".into(),
        Outcome::Missing => "no file".into(),
        Outcome::Foreign => "something other than a file of torn's".into(),
        Outcome::Error => format!(
            "an unreadable file ({})",
            seen.detail.as_deref().unwrap_or("error")
        ),
        Outcome::TornParseable | Outcome::TornUnparseable => {
            let len = seen.len.unwrap_or_default();
            let zeros = if seen.zeros { ", all zeros" } else { "" };
            format!(
                "{len} bytes{zeros}, no whole version ({})",
                seen.detail.as_deref().unwrap_or("torn")
            )
        }
    }
}
