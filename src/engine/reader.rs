//! The reader hot path: open, read to EOF, close, classify, count.
//!
//! Per read: three atomic loads before, two after, the system calls, a length
//! check, a few `memcmp`s and a hex decode. No allocation (the buffer is
//! reused; short paths are turned into C strings on the stack by std), no
//! lock shared with writers, no parse unless the bytes are not a whole
//! version. A learned shape judged by meaning parses a byte string once per
//! reader: the reader's [`Memo`] remembers the whole versions it has seen.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::shared::{Live, Shared};
use super::tally::{FirstSeen, ReadTally};
use crate::classify::{Classifier, Memo, ReadResult};
use crate::format::Versions;

pub use crate::case::Profile;

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Reread => "reread",
            Profile::Cached => "cached",
            Profile::MtimeCached => "mtime-cached",
        }
    }
}

/// How one reader (thread or process) of a case reads: derived from the
/// case's [`crate::case::Readers`] by the engine ([`ReaderRun::for_case`]).
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct ReaderRun {
    /// The client's profile: when it reads, and when it reuses a token.
    pub profile: Profile,
    /// Take `flock(LOCK_SH)` after open, as a cooperating client would.
    pub lock: bool,
    /// Stop after this many reads (else run until told to stop).
    pub reads: Option<u64>,
    pub evidence_per_class: usize,
    /// Width of a timeline bucket (0: no timeline).
    pub bucket_ns: u64,
    /// Back to back, or waiting for write windows.
    #[serde(default)]
    pub pace: crate::case::Pace,
}

impl ReaderRun {
    /// How each of `case`'s readers reads.
    pub fn for_case(case: &crate::case::Case) -> Self {
        let readers = case.readers.count.max(1) as u64;
        Self {
            profile: case.readers.profile,
            lock: case.readers.lock,
            reads: case.reads.map(|r| r.div_ceil(readers)),
            evidence_per_class: case.evidence,
            bucket_ns: (case.duration.as_nanos() as u64 / super::tally::TIMELINE_BUCKETS as u64).max(1),
            pace: case.readers.pace,
        }
    }
}

/// Reads `path` to EOF into `buf`, returning the number of bytes read. A file
/// longer than `buf` fills it completely (and is then not a whole version).
#[inline]
pub fn read_once(path: &Path, buf: &mut [u8], lock: bool) -> io::Result<usize> {
    read_open(path, buf, lock).map(|(n, _)| n)
}

/// The file a read came from, kept open until its bytes are classified so
/// that an anomalous read is checked against the very file it read.
pub enum Opened {
    Plain(File),
    Locked(crate::strategy::UpdateLock),
}

impl Opened {
    pub fn file(&self) -> &File {
        match self {
            Opened::Plain(f) => f,
            Opened::Locked(g) => g,
        }
    }
}

/// [`read_once`], returning the open file too. The open is non-blocking, so
/// a FIFO put in the target's place cannot hang a reader.
#[inline]
pub fn read_open(path: &Path, buf: &mut [u8], lock: bool) -> io::Result<(usize, Opened)> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)?;
    if lock {
        let mut guard = crate::strategy::lock_shared(file)?;
        let n = read_to_end(&mut guard, buf)?;
        Ok((n, Opened::Locked(guard)))
    } else {
        let mut file = file;
        let n = read_to_end(&mut file, buf)?;
        Ok((n, Opened::Plain(file)))
    }
}

/// Where a target's bytes may come from: torn's scratch directory (the
/// nearest ancestor holding the scratch marker). A read from anything else —
/// a link to `/etc/shadow`, a hard link or a bind mount of a file elsewhere,
/// a device, a FIFO — is `foreign`, and its bytes are neither classified nor
/// kept as evidence. A directory in the target's place is not foreign: the
/// read fails (EISDIR) and is an `error`, which leaks nothing.
///
/// What is compared is what the file *is*, not the name its descriptor
/// shows (a hard link inside the scratch directory shows an inside name):
/// the device and mount it lives on (a bind mount is another mount), its
/// birth time (a file from outside, linked or moved in, was born before the
/// scratch root; where the file system keeps no birth time this check is
/// skipped), and its link count (every name of a file torn or the writer
/// created is inside the scratch root, so a file with more links than names
/// there has a name outside it).
#[derive(Debug, Clone)]
pub struct Boundary {
    root: Option<std::path::PathBuf>,
    id: Option<Identity>,
}

/// What a file is, as `statx` tells it.
#[derive(Debug, Clone, Copy)]
struct Identity {
    mode: u32,
    dev: (u32, u32),
    ino: u64,
    nlink: u32,
    /// The mount id, where the kernel says (Linux 5.8+).
    mnt: Option<u64>,
    /// Birth time, where the file system keeps one.
    btime: Option<(i64, u32)>,
}

impl Identity {
    fn of_fd(fd: std::os::fd::BorrowedFd<'_>) -> Option<Self> {
        use std::os::fd::AsRawFd;
        let mut st = std::mem::MaybeUninit::<nix::libc::statx>::zeroed();
        let mask = nix::libc::STATX_BASIC_STATS | nix::libc::STATX_BTIME | nix::libc::STATX_MNT_ID;
        // SAFETY: `st` is a valid statx buffer and the path is a C string.
        let r = unsafe {
            nix::libc::statx(
                fd.as_raw_fd(),
                c"".as_ptr(),
                nix::libc::AT_EMPTY_PATH,
                mask,
                st.as_mut_ptr(),
            )
        };
        if r != 0 {
            return None;
        }
        // SAFETY: statx filled it.
        let st = unsafe { st.assume_init() };
        Some(Self {
            mode: u32::from(st.stx_mode),
            dev: (st.stx_dev_major, st.stx_dev_minor),
            ino: st.stx_ino,
            nlink: st.stx_nlink,
            mnt: (st.stx_mask & nix::libc::STATX_MNT_ID != 0).then_some(st.stx_mnt_id),
            btime: (st.stx_mask & nix::libc::STATX_BTIME != 0)
                .then_some((st.stx_btime.tv_sec, st.stx_btime.tv_nsec)),
        })
    }

    fn of_path(path: &Path) -> Option<Self> {
        let f = File::open(path).ok()?;
        Self::of_fd(std::os::fd::AsFd::as_fd(&f))
    }
}

/// Entries of the scratch root looked at, at most, to find a file's names.
const MAX_NAMES_SCANNED: usize = 10_000;

impl Boundary {
    /// The boundary of `target`: its scratch root, if it is in one.
    pub fn of(target: &Path) -> Self {
        let root = target
            .ancestors()
            .skip(1)
            .find(|d| d.join(crate::scratch::MARKER).is_file())
            .and_then(|d| d.canonicalize().ok());
        let id = root.as_deref().and_then(Identity::of_path);
        Self { root, id }
    }

    /// Why `file` is foreign, if it is (checked off the hot path: only for
    /// reads that are already anomalies, and whatever torn reads back).
    #[cold]
    pub fn foreign(&self, file: &File) -> Option<String> {
        use std::os::fd::AsFd;
        use std::os::unix::io::AsRawFd;
        let Some(me) = Identity::of_fd(file.as_fd()) else {
            return Some("the target could not be examined; nothing was kept".into());
        };
        let kind = me.mode & nix::libc::S_IFMT;
        if kind == nix::libc::S_IFDIR {
            return None;
        }
        if kind != nix::libc::S_IFREG {
            let what = match kind {
                nix::libc::S_IFIFO => "a FIFO",
                nix::libc::S_IFCHR | nix::libc::S_IFBLK => "a device",
                nix::libc::S_IFSOCK => "a socket",
                _ => "not a regular file",
            };
            return Some(format!("the target was {what}; nothing was read from it"));
        }
        let root = self.root.as_ref()?;
        let outside = |how: &str| {
            Some(format!(
                "the target was a file from outside torn's scratch directory ({how}); its contents were not kept"
            ))
        };
        if let Some(r) = self.id {
            if me.dev != r.dev {
                return outside("on another file system");
            }
            if let (Some(a), Some(b)) = (me.mnt, r.mnt)
                && a != b
            {
                return outside("on another mount: a bind mount");
            }
            if let (Some(a), Some(b)) = (me.btime, r.btime)
                && a < b
            {
                return outside("created before the scratch directory: linked or moved in");
            }
        }
        if me.nlink > 1 && names_under(root, me) < u64::from(me.nlink) {
            return outside("a hard link to a file with a name elsewhere");
        }
        let real = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()?;
        (!real.starts_with(root)).then(|| {
            "the target led to a file outside torn's scratch directory; its contents were not kept"
                .to_string()
        })
    }
}

/// How many names under `root` lead to the file `id` (at most
/// [`MAX_NAMES_SCANNED`] entries are looked at; symlinks are not followed).
fn names_under(root: &Path, id: Identity) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let (mut names, mut seen) = (0, 0);
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            seen += 1;
            if seen > MAX_NAMES_SCANNED {
                return names;
            }
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else if m.ino() == id.ino
                && nix::libc::major(m.dev()) == id.dev.0
                && nix::libc::minor(m.dev()) == id.dev.1
            {
                names += 1;
            }
        }
    }
    names
}

#[inline]
fn read_to_end(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// What [`read_once`] returned, as the classifier takes it.
#[inline]
pub fn as_read_result<'a>(res: &io::Result<usize>, buf: &'a [u8]) -> ReadResult<'a> {
    match res {
        Ok(n) => ReadResult::Bytes(&buf[..*n]),
        Err(e) if e.kind() == io::ErrorKind::NotFound => ReadResult::Missing,
        Err(e) => ReadResult::Error(e.raw_os_error().unwrap_or(0)),
    }
}

/// What a file-watching client compares to decide whether to re-read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct FileKey {
    ino: u64,
    size: u64,
    mtime_ns: i128,
}

impl FileKey {
    fn of(path: &Path) -> Self {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).map_or(Self::default(), |m| Self {
            ino: m.ino(),
            size: m.size(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        })
    }
}

/// Reads `path` once and classifies it against `committed` (for checks
/// outside the hot path: the file after a run, after a kill, behind a link).
pub fn classify_file(
    path: &Path,
    classifier: &Classifier,
    committed: Versions,
) -> crate::classify::Classified {
    let mut buf = vec![0u8; buffer_len(classifier.template.len())];
    let res = read_open(path, &mut buf, false);
    let (res, opened) = split(res);
    let c = classifier.classify_versions(as_read_result(&res, &buf), committed, committed.token);
    match opened {
        Some(o) if c.outcome.is_anomaly() => match Boundary::of(path).foreign(o.file()) {
            Some(why) => crate::classify::Classified::foreign(why),
            None => c,
        },
        _ => c,
    }
}

/// Splits a [`read_open`] result into what the classifier takes and the file.
#[inline]
fn split(res: io::Result<(usize, Opened)>) -> (io::Result<usize>, Option<Opened>) {
    match res {
        Ok((n, o)) => (Ok(n), Some(o)),
        Err(e) => (Err(e), None),
    }
}

/// Buffer size for reading a target whose whole versions are `len` bytes:
/// room to notice a file that grew past a whole version.
pub fn buffer_len(len: usize) -> usize {
    len + 4096
}

/// Runs one reader thread until `shared.stop` or its read budget.
pub fn run_reader(
    id: usize,
    path: &Path,
    classifier: &Classifier,
    shared: &Shared,
    live: &Live,
    start: Instant,
    opts: ReaderRun,
) -> ReadTally {
    let mut tally = ReadTally::new(opts.evidence_per_class);
    if opts.bucket_ns > 0 {
        tally = tally.with_timeline(opts.bucket_ns);
    }
    let mut buf = vec![0u8; buffer_len(classifier.template.len())];
    // The semantic judge's verdicts on byte strings this reader has seen.
    let mut memo = Memo::for_reads(classifier, buf.len());
    let boundary = Boundary::of(path);
    let budget = opts.reads.unwrap_or(u64::MAX);
    let mut i = 0u64;
    // The last whole version this reader saw, to catch it going backwards.
    let (mut last_token, mut last_field) = (0u64, 0u64);
    // What a caching client holds: the token version it would send (None:
    // no usable token) and the file identity it was read from.
    let mut cached: Option<(Option<u64>, FileKey)> = None;
    let waits = opts.pace == crate::case::Pace::Wait;
    let mut seen = 0;
    while i < budget && !shared.stop.load(Ordering::Relaxed) {
        if waits {
            shared.await_window(&mut seen);
        }
        if let Some((token, key)) = cached {
            let reuse = match opts.profile {
                Profile::Reread => false,
                Profile::Cached => true,
                Profile::MtimeCached => FileKey::of(path) == key,
            };
            if reuse {
                let now = shared.committed.load(Ordering::Acquire);
                tally.calls += 1;
                tally.calls_403 += u64::from(token.is_none_or(|v| classifier.revoked(v, now)));
                if opts.profile == Profile::Cached {
                    // A call every 100 µs: the client is not a busy loop.
                    std::thread::sleep(std::time::Duration::from_micros(100));
                }
                continue;
            }
        }
        let key = if opts.profile == Profile::MtimeCached {
            FileKey::of(path)
        } else {
            FileKey::default()
        };
        let committed_before = Versions {
            token: shared.committed.load(Ordering::Acquire),
            field: shared.committed_field.load(Ordering::Acquire),
        };
        let exposure = shared.before_read();
        if waits {
            shared.read_begun();
        }
        let (res, opened) = split(read_open(path, &mut buf, opts.lock));
        let exposed = shared.exposed(exposure);
        let window_exposed = shared.window_exposed(exposure);
        let committed_at_use = shared.committed.load(Ordering::Acquire);
        let read = as_read_result(&res, &buf);
        let mut bytes = match read {
            ReadResult::Bytes(b) => b,
            _ => &[],
        };
        let mut c = classifier.classify_remembering(read, committed_before, committed_at_use, &mut memo);
        if c.outcome.is_anomaly()
            && let Some(why) = opened.as_ref().and_then(|o| boundary.foreign(o.file()))
        {
            c = crate::classify::Classified::foreign(why);
            bytes = &[];
        }
        drop(opened);
        if let Some(v) = c.version {
            let field = c.field.unwrap_or(0);
            tally.regressions += u64::from(v < last_token || field < last_field);
            (last_token, last_field) = (v, field);
        }
        tally.calls += 1;
        tally.calls_403 += u64::from(c.would_403);
        if opts.profile != Profile::Reread {
            cached = Some((c.sent, key));
        }
        let seen = || FirstSeen {
            at_ns: start.elapsed().as_nanos() as u64,
            reader: id,
            read_index: i,
        };
        tally.record(&c, exposed, window_exposed, seen, bytes, committed_before.token);
        i += 1;
        if waits || i.is_multiple_of(256) || c.outcome.is_anomaly() {
            live.publish(&tally);
        }
    }
    live.publish(&tally);
    shared.readers_done.fetch_add(1, Ordering::AcqRel);
    tally
}
