//! The file-system calls built-in strategies make, one system call each,
//! recorded (when the recorder is enabled) as the [`Event`](crate::trace::Event)
//! the ptrace tracer would record for a program making the same call: the
//! same flags and mode as passed to the kernel, the same descriptor, the
//! same return value. Strategies use these instead of `std::fs` so that
//! what they record is what they do.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::trace::record::normalize;
use crate::trace::{Call, Recorder, now_ns};

/// Flags std's `File::create` passes: what `naive-*` strategies open with.
pub(crate) const CREATE_TRUNC: i32 = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC;
/// Flags of a write-only open that creates but keeps the contents.
pub(crate) const CREATE_KEEP: i32 = libc::O_WRONLY | libc::O_CREAT | libc::O_CLOEXEC;
/// Flags of a temp file that must be new.
pub(crate) const CREATE_NEW: i32 = libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC;

/// The recorder a strategy writes through.
#[derive(Clone, Copy)]
pub(crate) struct Ops<'r> {
    rec: &'r dyn Recorder,
}

fn cpath(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// The return value as the kernel gives it: the value, or `-errno`.
fn ret(r: isize) -> (i64, Option<io::Error>) {
    if r < 0 {
        let e = io::Error::last_os_error();
        (-(e.raw_os_error().unwrap_or(libc::EIO) as i64), Some(e))
    } else {
        (r as i64, None)
    }
}

impl<'r> Ops<'r> {
    pub fn new(rec: &'r dyn Recorder) -> Self {
        Self { rec }
    }

    /// Announces `call()` (built only when recording) before it is made.
    fn enter(&self, call: impl FnOnce() -> Call) {
        if self.rec.enabled() {
            self.rec.entry(&call());
        }
    }

    /// Records `call()` (built only when recording) entered at `start`.
    fn record(&self, start: u64, call: impl FnOnce() -> Call, result: i64) {
        if self.rec.enabled() {
            self.rec.record(call(), result, start);
        }
    }

    /// `path` as the event names it: absolute and normalised.
    fn abs(path: &Path) -> PathBuf {
        if path.is_absolute() {
            normalize(path)
        } else {
            normalize(&std::env::current_dir().unwrap_or_default().join(path))
        }
    }

    /// `open(path, flags, mode)`: exactly these flags reach the kernel.
    pub fn open(&self, path: &Path, flags: i32, mode: u32) -> io::Result<OpFile<'r>> {
        let c = cpath(path)?;
        self.enter(|| Call::Open {
            path: Self::abs(path),
            flags,
            mode,
            fd: -1,
        });
        let start = now_ns();
        // SAFETY: a valid NUL-terminated path; the mode is read only with O_CREAT.
        let fd = unsafe { libc::open(c.as_ptr(), flags, mode as libc::c_uint) };
        let (result, err) = ret(fd as isize);
        // Named as events name paths only when recording.
        let abs = if self.rec.enabled() {
            Self::abs(path)
        } else {
            path.to_path_buf()
        };
        let creating = flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE;
        self.record(
            start,
            || Call::Open {
                path: abs.clone(),
                flags,
                mode: if creating { mode } else { 0 },
                fd: fd.max(-1),
            },
            result,
        );
        match err {
            Some(e) => Err(e),
            None => Ok(OpFile {
                fd,
                closed: false,
                path: abs,
                ops: *self,
            }),
        }
    }

    /// A new file beside `target` named `.<name>.XXXXXX.tmp` (as editors and
    /// config libraries name theirs), created `O_EXCL` with mode 0600;
    /// another name is drawn while one exists.
    pub fn create_unique(&self, target: &Path) -> io::Result<OpFile<'r>> {
        use rand::RngExt;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dir = super::parent_dir(target);
        let mut rng = rand::rng();
        let mut last = io::Error::from(io::ErrorKind::AlreadyExists);
        for _ in 0..64 {
            let tag: String = (0..6)
                .map(|_| {
                    let i = rng.random_range(0..62u8);
                    (match i {
                        0..=9 => b'0' + i,
                        10..=35 => b'a' + i - 10,
                        _ => b'A' + i - 36,
                    }) as char
                })
                .collect();
            match self.open(&dir.join(format!(".{name}.{tag}.tmp")), CREATE_NEW, 0o600) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
                r => return r,
            }
        }
        Err(last)
    }

    /// The rename recipe every rename strategy shares: a unique temp file
    /// beside `target` ([`Self::create_unique`]), given `mode` first (when
    /// set), written with `bytes`, `fsync`ed when `fsync`, closed, then
    /// renamed over `target`; on a failure after the open, the temp file is
    /// unlinked.
    pub fn replace_via_unique_temp(
        &self,
        target: &Path,
        bytes: &[u8],
        mode: Option<u32>,
        fsync: bool,
    ) -> io::Result<()> {
        let mut tmp = self.create_unique(target)?;
        let path = tmp.path().to_path_buf();
        let done = mode
            .map_or(Ok(()), |m| tmp.chmod(m))
            .and_then(|()| tmp.write_all(bytes))
            .and_then(|()| if fsync { tmp.sync_all() } else { Ok(()) })
            .and_then(|()| tmp.close())
            .and_then(|()| self.rename(&path, target));
        if done.is_err() {
            let _ = self.unlink(&path);
        }
        done
    }

    /// `rename(from, to)`.
    pub fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (f, t) = (cpath(from)?, cpath(to)?);
        self.enter(|| Call::Rename {
            from: Self::abs(from),
            to: Self::abs(to),
            flags: 0,
        });
        let start = now_ns();
        // SAFETY: valid NUL-terminated paths.
        let (result, err) = ret(unsafe { libc::rename(f.as_ptr(), t.as_ptr()) } as isize);
        self.record(
            start,
            || Call::Rename {
                from: Self::abs(from),
                to: Self::abs(to),
                flags: 0,
            },
            result,
        );
        err.map_or(Ok(()), Err)
    }

    /// `unlink(path)`.
    pub fn unlink(&self, path: &Path) -> io::Result<()> {
        let c = cpath(path)?;
        self.enter(|| Call::Unlink {
            path: Self::abs(path),
        });
        let start = now_ns();
        // SAFETY: a valid NUL-terminated path.
        let (result, err) = ret(unsafe { libc::unlink(c.as_ptr()) } as isize);
        self.record(
            start,
            || Call::Unlink {
                path: Self::abs(path),
            },
            result,
        );
        err.map_or(Ok(()), Err)
    }

    /// `open(dir, O_RDONLY|O_DIRECTORY)`, `fsync`, `close`: makes a rename in
    /// `dir` durable.
    pub fn fsync_dir(&self, dir: &Path) -> io::Result<()> {
        let d = self.open(dir, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC, 0)?;
        d.sync_all()?;
        d.close()
    }
}

/// An open descriptor whose calls are recorded; closing it (explicitly or on
/// drop) is recorded too.
pub(crate) struct OpFile<'r> {
    fd: i32,
    closed: bool,
    path: PathBuf,
    ops: Ops<'r>,
}

impl OpFile<'_> {
    /// The path it was opened as (absolute when recording).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The payload kept for a write of `buf` that wrote `n` bytes.
    fn data(&self, buf: &[u8], n: i64) -> Option<Arc<[u8]>> {
        let cap = self.ops.rec.data_cap();
        (cap > 0 && n > 0).then(|| Arc::from(&buf[..cap.min(n as usize)]))
    }

    /// `write` until all of `bytes` is written (one event per `write` call).
    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_loop(bytes, None)
    }

    /// `pwrite` until all of `bytes` is written at `offset`.
    pub fn write_all_at(&self, bytes: &[u8], offset: u64) -> io::Result<()> {
        self.write_loop(bytes, Some(offset))
    }

    /// `write` (at the file position) or `pwrite` (at `offset`) until all of
    /// `bytes` is written, each call announced and recorded.
    fn write_loop(&self, mut bytes: &[u8], mut offset: Option<u64>) -> io::Result<()> {
        while !bytes.is_empty() {
            let call = |len: u64, data: Option<Arc<[u8]>>| Call::Write {
                path: self.path.clone(),
                fd: self.fd,
                offset,
                len,
                data,
            };
            self.ops.enter(|| call(bytes.len() as u64, None));
            let start = now_ns();
            // SAFETY: `bytes` is valid for its length.
            let n = unsafe {
                match offset {
                    None => libc::write(self.fd, bytes.as_ptr().cast(), bytes.len()),
                    Some(o) => libc::pwrite(self.fd, bytes.as_ptr().cast(), bytes.len(), o as libc::off_t),
                }
            };
            let (result, err) = ret(n);
            self.ops.record(
                start,
                || {
                    let len = if result >= 0 {
                        result as u64
                    } else {
                        bytes.len() as u64
                    };
                    call(len, self.data(bytes, result))
                },
                result,
            );
            match err {
                Some(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Some(e) => return Err(e),
                None if n == 0 => return Err(io::ErrorKind::WriteZero.into()),
                None => {
                    bytes = &bytes[n as usize..];
                    offset = offset.map(|o| o + n as u64);
                }
            }
        }
        Ok(())
    }

    /// `ftruncate(len)`.
    pub fn set_len(&self, len: u64) -> io::Result<()> {
        self.ops.enter(|| Call::Truncate {
            path: self.path.clone(),
            len,
        });
        let start = now_ns();
        // SAFETY: plain system call on an fd we own.
        let (result, err) = ret(unsafe { libc::ftruncate(self.fd, len as libc::off_t) } as isize);
        self.ops.record(
            start,
            || Call::Truncate {
                path: self.path.clone(),
                len,
            },
            result,
        );
        err.map_or(Ok(()), Err)
    }

    /// `fsync`.
    pub fn sync_all(&self) -> io::Result<()> {
        let start = now_ns();
        // SAFETY: plain system call on an fd we own.
        let (result, err) = ret(unsafe { libc::fsync(self.fd) } as isize);
        self.ops.record(
            start,
            || Call::Fsync {
                path: self.path.clone(),
                data_only: false,
            },
            result,
        );
        err.map_or(Ok(()), Err)
    }

    /// `fchmod(mode)`.
    pub fn chmod(&self, mode: u32) -> io::Result<()> {
        let start = now_ns();
        // SAFETY: plain system call on an fd we own.
        let (result, err) = ret(unsafe { libc::fchmod(self.fd, mode as libc::mode_t) } as isize);
        self.ops.record(
            start,
            || Call::Chmod {
                path: self.path.clone(),
                mode,
            },
            result,
        );
        err.map_or(Ok(()), Err)
    }

    /// `flock(LOCK_EX)`, retried on EINTR (not an event: locks are not
    /// file-system state). Released by the close.
    pub fn lock_exclusive(&self) -> io::Result<()> {
        loop {
            // SAFETY: plain system call on an fd we own.
            if unsafe { libc::flock(self.fd, libc::LOCK_EX) } == 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    /// `close`, with its error (which can report a failed delayed write).
    pub fn close(mut self) -> io::Result<()> {
        self.close_now()
    }

    fn close_now(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        self.ops.enter(|| Call::Close {
            path: self.path.clone(),
            fd: self.fd,
        });
        let start = now_ns();
        // SAFETY: the fd is ours and closed exactly once (`closed`).
        let (result, err) = ret(unsafe { libc::close(self.fd) } as isize);
        self.ops.record(
            start,
            || Call::Close {
                path: self.path.clone(),
                fd: self.fd,
            },
            result,
        );
        err.map_or(Ok(()), Err)
    }
}

impl Drop for OpFile<'_> {
    fn drop(&mut self) {
        let _ = self.close_now();
    }
}
