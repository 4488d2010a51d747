//! The reader hot path: open, read to EOF, close, classify, count.
//!
//! Per read: three atomic loads before, two after, the system calls, a length
//! check, a few `memcmp`s and a hex decode. No allocation (the buffer is
//! reused; short paths are turned into C strings on the stack by std), no
//! lock shared with writers, no parse unless the bytes are not a whole version.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::shared::{Live, Shared};
use super::tally::{FirstSeen, ReadTally};
use crate::classify::{Classifier, ReadResult};
use crate::format::Versions;

/// How the client behind a reader uses the file (DESIGN's reader profiles).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// Read and parse on every call (Hermes).
    #[default]
    Reread,
    /// Read once at start-up and use that token for every call (most CLIs):
    /// never sees a write window, but keeps a token that may be revoked.
    Cached,
    /// Re-read only when the file's inode, size or mtime changed: a read
    /// that caught a write window is reused until the file changes again.
    MtimeCached,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Reread => "reread",
            Profile::Cached => "cached",
            Profile::MtimeCached => "mtime-cached",
        }
    }
}

/// How a reader thread reads.
#[derive(Debug, Clone, Copy)]
pub struct ReaderOptions {
    /// The client's profile: when it reads, and when it reuses a token.
    pub profile: Profile,
    /// Take `flock(LOCK_SH)` after open, as a cooperating client would.
    pub lock: bool,
    /// Stop after this many reads (else run until told to stop).
    pub reads: Option<u64>,
    pub evidence_per_class: usize,
    /// Width of a timeline bucket (0: no timeline).
    pub bucket_ns: u64,
}

/// Reads `path` to EOF into `buf`, returning the number of bytes read. A file
/// longer than `buf` fills it completely (and is then not a whole version).
#[inline]
pub fn read_once(path: &Path, buf: &mut [u8], lock: bool) -> io::Result<usize> {
    let file = File::open(path)?;
    if lock {
        let mut guard = crate::strategy::lock_shared(file)?;
        read_to_end(&mut guard, buf)
    } else {
        let mut file = file;
        read_to_end(&mut file, buf)
    }
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
    let res = read_once(path, &mut buf, false);
    classifier.classify_versions(as_read_result(&res, &buf), committed, committed.token)
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
    opts: ReaderOptions,
) -> ReadTally {
    let mut tally = ReadTally::new(opts.evidence_per_class);
    if opts.bucket_ns > 0 {
        tally = tally.with_timeline(opts.bucket_ns);
    }
    let mut buf = vec![0u8; buffer_len(classifier.template.len())];
    let budget = opts.reads.unwrap_or(u64::MAX);
    let mut i = 0u64;
    // The last whole version this reader saw, to catch it going backwards.
    let (mut last_token, mut last_field) = (0u64, 0u64);
    // What a caching client holds: the token version it would send (None:
    // no usable token) and the file identity it was read from.
    let mut cached: Option<(Option<u64>, FileKey)> = None;
    while i < budget && !shared.stop.load(Ordering::Relaxed) {
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
        let res = read_once(path, &mut buf, opts.lock);
        let exposed = shared.exposed(exposure);
        let committed_at_use = shared.committed.load(Ordering::Acquire);
        let read = as_read_result(&res, &buf);
        let bytes = match read {
            ReadResult::Bytes(b) => b,
            _ => &[],
        };
        let c = classifier.classify_versions(read, committed_before, committed_at_use);
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
        tally.record(&c, exposed, seen, bytes, committed_before.token);
        i += 1;
        if i.is_multiple_of(256) || c.outcome.is_anomaly() {
            live.publish(&tally);
        }
    }
    live.publish(&tally);
    shared.readers_done.fetch_add(1, Ordering::AcqRel);
    tally
}
