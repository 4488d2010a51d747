//! A writer thread: take the next version, write it with the subject,
//! publish it as committed.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::shared::Shared;
use super::tally::{self, WriteTally};
use crate::classify::Classifier;
use crate::format::{SlotKind, Versions};
use crate::subject::{SubjectWriter, WriteFailure};
use crate::token::TOKEN_LEN;

/// How fast each writer writes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WriteRate {
    /// Back to back.
    Max,
    /// This many writes per second per writer.
    Hz(f64),
}

/// In a read-modify-write run, the field a writer owns and the file it
/// reads before each write.
#[derive(Debug, Clone, Copy)]
pub struct Rmw<'a> {
    pub owns: SlotKind,
    pub target: &'a Path,
}

/// Reads `target` until it holds a whole document (as read-modify-write code
/// would retry a parse error), at most a hundred times.
fn read_whole(target: &Path, classifier: &Classifier) -> Option<Versions> {
    let mut buf = vec![0u8; super::reader::buffer_len(classifier.template.len())];
    (0..100).find_map(|_| {
        let got = super::reader::read_once(target, &mut buf, false)
            .ok()
            .and_then(|n| classifier.template.whole_versions(&classifier.codec, &buf[..n]));
        if got.is_none() {
            std::thread::yield_now();
        }
        got
    })
}

/// One writer thread's state.
/// A traced writer's recording, the windows its calls open, and the
/// recipes of its writes.
pub struct Traced {
    pub rec: std::sync::Arc<crate::trace::Recording>,
    pub windows: std::sync::Arc<crate::trace::window::WindowTracker>,
    pub book: crate::trace::recipe::RecipeBook,
    /// The target's mode (a temp file wider than it is a finding).
    pub target_mode: u32,
    pub umask: u32,
    /// Readers take the writer's lock: rewriting in place is safe for them.
    pub readers_lock: bool,
}

pub struct Writer<'a> {
    subject: Box<dyn SubjectWriter + 'a>,
    traced: Option<Traced>,
    classifier: &'a Classifier,
    shared: &'a Shared,
    rmw: Option<Rmw<'a>>,
    target: std::path::PathBuf,
    tally: WriteTally,
    bytes: Vec<u8>,
    /// Re-read the target after every write to catch swallowed errors and
    /// a target left broken by a failed write.
    verify: bool,
    check: Vec<u8>,
}

/// How one write ended.
enum Step {
    Committed,
    Failed,
    Broken,
}

impl<'a> Writer<'a> {
    pub fn new(
        target: &Path,
        subject: Box<dyn SubjectWriter + 'a>,
        classifier: &'a Classifier,
        shared: &'a Shared,
        rmw: Option<Rmw<'a>>,
        bucket_ns: u64,
        verify: bool,
    ) -> Self {
        let mut tally = WriteTally::new();
        if bucket_ns > 0 {
            tally.timeline = vec![0; tally::TIMELINE_BUCKETS];
            tally.bucket_ns = bucket_ns;
        }
        let bytes = Vec::with_capacity(classifier.template.len());
        let check = vec![0u8; super::reader::buffer_len(classifier.template.len())];
        Self {
            subject,
            traced: None,
            classifier,
            shared,
            rmw,
            target: target.to_path_buf(),
            tally,
            bytes,
            verify,
            check,
        }
    }

    /// Takes the writer's trace: its events become windows (live) and recipes
    /// (after each write).
    pub fn with_trace(mut self, t: Traced) -> Self {
        self.traced = Some(t);
        self
    }

    /// One write before the start barrier, outside any measurement: an
    /// external writer's start-up (an interpreter loading its modules) must
    /// not count as a write in flight, or readers would be counted as exposed
    /// while nothing touches the file. It is committed like any other.
    /// A write the subject reports as failed is counted like any other
    /// (several writers sharing a temp name can collide already here); only
    /// a broken subject stops the case.
    pub fn warm_up(&mut self) -> Result<(), String> {
        match self.write_one(None) {
            Step::Committed | Step::Failed => Ok(()),
            Step::Broken => Err(format!(
                "the first (warm-up) write failed: {}",
                self.tally
                    .subject_error
                    .take()
                    .or(self.tally.first_error.take())
                    .unwrap_or_default()
            )),
        }
    }

    /// Takes the next version, writes it, publishes it. `measured` (the run's
    /// start and timeline bucket) is `None` for the warm-up, which is not
    /// bracketed as a write in flight.
    fn write_one(&mut self, measured: Option<(Instant, u64)>) -> Step {
        let shared = self.shared;
        // A read-modify-write holds the subject's update lock (if it has one)
        // from before its read until after its write.
        let lock = match self.rmw.map(|_| self.subject.update_lock()) {
            Some(Err(e)) => return self.failed(format!("taking the update lock: {e}")),
            Some(Ok(lock)) => lock,
            None => None,
        };
        let owns_field = self.rmw.is_some_and(|r| r.owns == SlotKind::Field);
        let current = match self.rmw {
            Some(r) => match read_whole(r.target, self.classifier) {
                Some(v) => v,
                None => return self.failed("read-modify-write: the file never read whole".into()),
            },
            None => Versions::default(),
        };
        let counter = if owns_field {
            &shared.next_field
        } else {
            &shared.next_version
        };
        let version = counter.fetch_add(1, Ordering::AcqRel);
        let versions = if owns_field {
            Versions {
                token: current.token,
                field: version,
            }
        } else {
            Versions {
                token: version,
                field: current.field,
            }
        };
        let c = self.classifier;
        c.template.render_versions(&c.codec, versions, &mut self.bytes);
        let mut token = [0u8; TOKEN_LEN];
        c.codec.encode_into(versions.token, &mut token);
        let token = std::str::from_utf8(&token).expect("tokens are ASCII");

        // A writer whose calls are not seen (tracing off, or refused for this
        // process) has its whole write counted as one window.
        let untraced = self.traced.as_ref().is_none_or(|t| t.rec.is_untraced());
        if measured.is_some() {
            shared.started.fetch_add(1, Ordering::AcqRel);
            if untraced {
                shared.window_open();
            }
        }
        let t0 = Instant::now();
        let result = self.subject.write(token, &self.bytes);
        let took = t0.elapsed();
        // What the trace saw go wrong inside a write the subject calls done:
        // the cause of a stale file, named whether or not the re-read below
        // (or a reader) catches the symptom.
        let (mut lost, mut failed_call) = (None, None);
        if let Some(t) = &mut self.traced {
            // The write's calls all returned before it was acknowledged.
            let events = t.rec.drain();
            lost = events.iter().find_map(|e| failed_mutation(e, true));
            failed_call = events.iter().find_map(|e| failed_mutation(e, false));
            let (atomic, outside) = (t.book.atomic.atomic(), t.book.atomic.outside);
            let found = t.book.add(&events, &self.target, Some(t.target_mode), t.umask);
            if t.book.atomic.outside > outside {
                shared.other_writes.fetch_add(1, Ordering::Relaxed);
            } else if t.book.atomic.atomic() > atomic {
                shared.atomic_writes.fetch_add(1, Ordering::Relaxed);
            }
            let hurts = found.iter().any(|f| {
                f.is_anomaly()
                    && !(t.readers_lock
                        && matches!(
                            f,
                            crate::trace::recipe::Finding::TruncatesTarget
                                | crate::trace::recipe::Finding::WritesTargetInPlace
                        ))
            });
            if hurts {
                shared.recipe_anomalies.fetch_add(1, Ordering::Relaxed);
            }
        }
        if measured.is_some() {
            if untraced {
                shared.window_close();
            }
            shared.finished.fetch_add(1, Ordering::AcqRel);
            let _ = self.tally.latency_ns.record((took.as_nanos() as u64).max(1));
        }
        drop(lock);
        match result {
            Ok(()) => {
                let committed = if owns_field {
                    &shared.committed_field
                } else {
                    &shared.committed
                };
                committed.fetch_max(version, Ordering::AcqRel);
                if let Some((start, bucket_ns)) = measured {
                    self.tally.writes += 1;
                    self.tally.newest_version = self.tally.newest_version.max(version);
                    if bucket_ns > 0 {
                        self.tally.timeline[tally::bucket(start.elapsed().as_nanos() as u64, bucket_ns)] += 1;
                    }
                }
                if let (Some(why), Some(_)) = (&lost, measured) {
                    self.tally.swallowed += 1;
                    self.tally.first_swallowed.get_or_insert_with(|| {
                        format!("version {version} was reported written, but the trace shows {why}")
                    });
                } else if self.verify && measured.is_some() {
                    self.verify_committed(
                        if owns_field {
                            versions.field
                        } else {
                            versions.token
                        },
                        owns_field,
                        failed_call.as_deref(),
                    );
                }
                Step::Committed
            }
            Err(WriteFailure::Reported(e)) => {
                if self.verify && measured.is_some() {
                    self.verify_failed(version);
                }
                self.failed(format!("writing version {version}: {e}"))
            }
            Err(WriteFailure::Broken(e)) => {
                self.tally.subject_error = Some(format!("writing version {version}: {e}"));
                shared.stop.store(true, Ordering::Relaxed);
                Step::Broken
            }
        }
    }

    /// The target as it is now: its whole versions, or how it is broken.
    fn read_target(&mut self) -> Result<Versions, String> {
        match super::reader::read_once(&self.target, &mut self.check, false) {
            Ok(n) => {
                // The classifier's judgement (by meaning, for a learned shape
                // whose bytes vary), against nothing committed.
                let read = crate::classify::ReadResult::Bytes(&self.check[..n]);
                let c = self.classifier.classify_versions(read, Versions::default(), 0);
                match c.version {
                    Some(token) => Ok(Versions {
                        token,
                        field: c.field.unwrap_or(0),
                    }),
                    None if n == 0 => Err("empty".into()),
                    None => Err(format!("torn ({n} bytes)")),
                }
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// After a write the subject called successful: the file must hold it.
    /// `cause`: a call the trace saw fail inside the write, named with it.
    fn verify_committed(&mut self, version: u64, owns_field: bool, cause: Option<&str>) {
        if let Ok(now) = self.read_target() {
            let held = if owns_field { now.field } else { now.token };
            if held < version {
                self.tally.swallowed += 1;
                self.tally.first_swallowed.get_or_insert_with(|| {
                    format!(
                        "version {version} was reported written, but the file still held version {held}{}",
                        cause
                            .map(|c| format!(" (the trace shows {c})"))
                            .unwrap_or_default()
                    )
                });
            }
        }
    }

    /// After a write that failed: the file must still hold a whole version.
    fn verify_failed(&mut self, version: u64) {
        if let Err(state) = self.read_target() {
            self.tally.broken_after_failure += 1;
            self.tally.first_broken_after_failure.get_or_insert_with(|| {
                format!("after the failed write of version {version} the file was {state}")
            });
        }
    }

    fn failed(&mut self, message: String) -> Step {
        self.tally.errors += 1;
        self.tally.first_error.get_or_insert(message);
        Step::Failed
    }

    /// Writes until `shared.stop` (a broken subject stops the whole case).
    pub fn run(mut self, rate: WriteRate, start: Instant, bucket_ns: u64) -> WriteTally {
        let period = match rate {
            WriteRate::Max => None,
            WriteRate::Hz(hz) => Some(Duration::from_secs_f64(1.0 / hz)),
        };
        let begin = Instant::now();
        let mut n = 0u32;
        while !self.shared.stop.load(Ordering::Relaxed) {
            if let Step::Broken = self.write_one(Some((start, bucket_ns))) {
                break;
            }
            if let Some(period) = period {
                n += 1;
                let due = begin + period * n;
                while !self.shared.stop.load(Ordering::Relaxed) {
                    let now = Instant::now();
                    if now >= due {
                        break;
                    }
                    std::thread::sleep((due - now).min(Duration::from_millis(20)));
                }
            }
        }
        let sources = self.subject.sources();
        self.tally.stderr_tail = self.subject.finish();
        if let Some(mut t) = self.traced.take() {
            let events = t.rec.drain();
            if !events.is_empty() {
                t.book.add(&events, &self.target, Some(t.target_mode), t.umask);
            }
            t.windows.close_all();
            let summary = t.rec.summary();
            self.tally.traced = summary.untraced.is_none();
            self.tally.trace = Some(crate::engine::tally::TraceReport {
                summary,
                recipes: t.book,
                perturb: t.windows.perturb_stats(),
                sources,
            });
        }
        self.tally
    }
}

/// A traced call that changes files and failed, in words:
/// `write(config.yaml.tmp) failed with ENOSPC`. With `certain`, only the
/// failures that mean the write's data did not all land whatever the writer
/// did next (disk or quota full, an I/O error, a read-only filesystem, a
/// file too large); without, also refusals (EACCES, EPERM) that a writer
/// could route around — named as the cause only when the file shows it.
fn failed_mutation(e: &crate::trace::Event, certain: bool) -> Option<String> {
    use crate::trace::Call;
    use nix::libc::{EACCES, EDQUOT, EFBIG, EIO, ENOSPC, EPERM, EROFS};
    let errno = i32::try_from(-e.result).ok()?;
    let lost = [ENOSPC, EDQUOT, EIO, EROFS, EFBIG].contains(&errno);
    if e.result >= 0 || !(lost || (!certain && [EACCES, EPERM].contains(&errno))) {
        return None;
    }
    let writes = nix::libc::O_WRONLY | nix::libc::O_RDWR | nix::libc::O_CREAT | nix::libc::O_TRUNC;
    let path = match &e.call {
        Call::Open { path, flags, .. } if flags & writes != 0 => path,
        Call::Write { path, .. } | Call::Truncate { path, .. } | Call::Fsync { path, .. } => path,
        Call::Rename { to, .. } | Call::Link { to, .. } => to,
        _ => return None,
    };
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Some(format!(
        "{}({name}) failed with {}",
        e.call.name(),
        nix::errno::Errno::from_raw(errno)
    ))
}
