//! The run engine: W writer threads and R reader threads on one target,
//! released together by a barrier, for a duration or a read budget.
//!
//! The engine knows nothing about particular strategies or formats: it takes
//! a [`Subject`] and a [`Classifier`] and returns raw tallies.

pub mod board;
pub mod external_reader;
pub mod fault;
pub mod kill;
pub mod procs;
pub mod reader;
pub mod shared;
pub mod tally;
pub mod watch;
pub mod writer;

use std::io;
use std::ops::ControlFlow;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

pub use reader::{Profile, ReaderOptions};
pub use shared::{Live, Shared};
pub use tally::{Evidence, FirstSeen, ReadTally, WriteTally};
pub use writer::WriteRate;

use crate::classify::Classifier;
use crate::format::SlotKind;
use crate::subject::{Subject, WriterCtx};

/// One case: a strategy under a given load.
pub struct CaseSpec {
    pub subject: Box<dyn Subject>,
    pub writers: usize,
    pub write_rate: WriteRate,
    pub readers: usize,
    /// Readers take `flock(LOCK_SH)` before reading.
    pub reader_lock: bool,
    /// When the clients read and when they reuse a token.
    pub reader_profile: reader::Profile,
    /// How long to run (an upper bound when `reads` is set).
    pub duration: Duration,
    /// Total read budget shared evenly among the readers.
    pub reads: Option<u64>,
    /// Anomalous reads kept as evidence, per outcome.
    pub evidence_per_class: usize,
    /// Mode the target is created with (credentials files are 0600).
    pub target_mode: u32,
    /// The scratch HOME holding the target.
    pub home: PathBuf,
    /// Where external writers' logs go (outside HOME).
    pub log_dir: PathBuf,
    /// Run readers as `torn __reader` processes of this executable instead of threads.
    pub reader_procs: Option<PathBuf>,
    /// The real client, asked to read alongside torn's readers.
    pub external_reader: Option<crate::subject::ExternalSpec>,
    /// Read-modify-write: writer 0 updates the token, writer 1 the `{{FIELD}}`.
    pub rmw: bool,
    /// Make the target a symlink to a file elsewhere (a dotfiles checkout).
    pub target_symlink: bool,
    /// Scan the target's directory every millisecond for widened modes and
    /// group/other-readable files holding a token.
    pub watch_modes: bool,
    /// Re-read the target after each write (single writer): a write called
    /// successful must be in the file; after a failed one the file must be whole.
    pub verify_writes: bool,
    /// A fault to inject, and when (after the start).
    pub fault: Option<(fault::Fault, Duration)>,
}

/// A progress snapshot, sent to the caller about ten times a second.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub elapsed: Duration,
    pub reads: u64,
    pub exposed: u64,
    pub anomalies: u64,
}

/// What a case produced.
#[derive(Debug, Clone)]
pub struct CaseRaw {
    /// Time from the start barrier to the last thread joining.
    pub elapsed: Duration,
    pub reads: ReadTally,
    pub writes: WriteTally,
    /// The classification of the target as left after the run, against the
    /// newest committed version (a correct strategy leaves it whole).
    pub final_state: crate::classify::Outcome,
    /// Whether the run was cut short by an interrupt.
    pub interrupted: bool,
    /// What the external reader saw (its reads are also in `reads`).
    pub external: Option<external_reader::ExternalReads>,
    /// Modes, owner, litter, symlink.
    pub watch: watch::Findings,
}

/// Runs one case on `target` (whose directory must exist and be torn's own).
/// `progress` is called about twenty times a second and may end the case
/// early by returning `Break` (a gate that has proven its bound).
pub fn run_case(
    spec: &CaseSpec,
    classifier: &Classifier,
    target: &Path,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(Progress) -> ControlFlow<()>,
) -> io::Result<CaseRaw> {
    let seed_bytes = classifier.template.render_vec(&classifier.codec, 0);
    if spec.target_symlink {
        let dotfiles = spec.log_dir.join("dotfiles");
        std::fs::create_dir_all(&dotfiles)?;
        let linked = dotfiles.join(target.file_name().unwrap_or_default());
        std::os::unix::fs::symlink(&linked, target)?;
    }
    std::fs::write(target, &seed_bytes)?;
    std::fs::set_permissions(target, std::fs::Permissions::from_mode(spec.target_mode))?;
    let before = watch::before(target)?;
    if let Some((f, _)) = spec.fault {
        f.check(&spec.log_dir).map_err(io::Error::other)?;
    }

    let board = match spec.reader_procs {
        Some(_) => board::BoardMem::create(&spec.log_dir.join("board"))?,
        None => board::BoardMem::heap(),
    };
    let shared = &board.shared;
    shared.next_version.store(1, Ordering::Relaxed);
    let readers = spec.readers.clamp(1, board::MAX_READERS);
    let live = &board.live[..readers];
    let per_reader = spec.reads.map(|r| r.div_ceil(readers as u64));
    let bucket_ns = (spec.duration.as_nanos() as u64 / tally::TIMELINE_BUCKETS as u64).max(1);
    let opts = ReaderOptions {
        profile: spec.reader_profile,
        lock: spec.reader_lock,
        reads: per_reader,
        evidence_per_class: spec.evidence_per_class,
        bucket_ns,
    };
    let procs = match &spec.reader_procs {
        Some(exe) => Some(procs::spawn(
            exe,
            readers,
            &board,
            target,
            classifier,
            opts,
            &spec.log_dir,
        )?),
        None => None,
    };
    let reader_threads = if procs.is_some() { 0 } else { readers };
    let external_ctx = WriterCtx {
        target: target.to_path_buf(),
        home: spec.home.clone(),
        log_dir: spec.log_dir.clone(),
        index: 0,
    };
    let external = spec
        .external_reader
        .as_ref()
        .map(|e| (e, external_reader::start(e, &external_ctx)));
    let barrier = Arc::new(Barrier::new(
        reader_threads + spec.writers + 1 + usize::from(external.is_some()),
    ));

    let start_cell = std::sync::OnceLock::<Instant>::new();
    let start_ref = &start_cell;
    let (elapsed, thread_reads, writes, interrupted, external, sampled, fault_result) =
        std::thread::scope(|s| {
            let sampler = spec
                .watch_modes
                .then(|| s.spawn(|| watch::sample(&before, &classifier.codec, &shared.stop)));
            let faulter = spec.fault.map(|(f, after)| {
                let target_dir = target.parent().unwrap_or(Path::new(".")).to_path_buf();
                s.spawn(move || -> io::Result<()> {
                    // The fault's clock starts with the run (after every
                    // writer's warm-up), not when this thread does.
                    let begin = loop {
                        if let Some(start) = start_ref.get() {
                            break *start;
                        }
                        if shared.stop.load(Ordering::Relaxed) {
                            return Ok(());
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    };
                    while begin.elapsed() < after {
                        if shared.stop.load(Ordering::Relaxed) {
                            return Ok(());
                        }
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    let guard = fault::inject(f, &target_dir, &spec.log_dir)?;
                    while !shared.stop.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    drop(guard);
                    Ok(())
                })
            });
            let external_handle = external.map(|(e, child)| {
                let barrier = barrier.clone();
                s.spawn(move || {
                    barrier.wait();
                    let start = *start_ref.get_or_init(Instant::now);
                    match child {
                        Ok(child) => external_reader::run(
                            child,
                            e,
                            readers,
                            classifier,
                            shared,
                            start,
                            spec.evidence_per_class,
                        ),
                        Err(err) => {
                            shared.stop.store(true, Ordering::Relaxed);
                            external_reader::ExternalReads {
                                command: e.command.clone(),
                                tally: ReadTally::new(0),
                                error: Some(format!("starting the external reader: {err}")),
                                stderr_tail: None,
                            }
                        }
                    }
                })
            });
            let mut reader_handles = Vec::new();
            for (id, live) in live.iter().enumerate().take(reader_threads) {
                let barrier = barrier.clone();
                reader_handles.push(s.spawn(move || {
                    barrier.wait();
                    let start = *start_ref.get_or_init(Instant::now);
                    reader::run_reader(id, target, classifier, shared, live, start, opts)
                }));
            }
            let mut writer_handles = Vec::new();
            for index in 0..spec.writers {
                let (barrier, subject) = (barrier.clone(), spec.subject.as_ref());
                let ctx = WriterCtx {
                    target: target.to_path_buf(),
                    home: spec.home.clone(),
                    log_dir: spec.log_dir.clone(),
                    index,
                };
                writer_handles.push(s.spawn(move || {
                    let rmw = spec.rmw.then_some(writer::Rmw {
                        owns: if index % 2 == 1 {
                            SlotKind::Field
                        } else {
                            SlotKind::Token
                        },
                        target,
                    });
                    // Start external processes, and let them write once, before the
                    // barrier: their start-up is not a write in flight.
                    let started = subject.start(&ctx).and_then(|w| {
                        let verify = spec.verify_writes && spec.writers == 1;
                        let mut w =
                            writer::Writer::new(target, w, classifier, shared, rmw, bucket_ns, verify);
                        w.warm_up()?;
                        Ok(w)
                    });
                    barrier.wait();
                    let start = *start_ref.get_or_init(Instant::now);
                    match started {
                        Ok(w) => w.run(spec.write_rate, start, bucket_ns),
                        Err(e) => {
                            shared.stop.store(true, Ordering::Relaxed);
                            WriteTally {
                                subject_error: Some(format!("starting the writer: {e}")),
                                ..WriteTally::new()
                            }
                        }
                    }
                }));
            }
            barrier.wait();
            let start = *start_cell.get_or_init(Instant::now);
            board.go.store(true, Ordering::Release);
            let interrupted = loop {
                std::thread::sleep(Duration::from_millis(50));
                let sum = |f: fn(&Live) -> &std::sync::atomic::AtomicU64| -> u64 {
                    live.iter().map(|l| f(l).load(Ordering::Relaxed)).sum()
                };
                let elapsed = start.elapsed();
                let flow = progress(Progress {
                    elapsed,
                    reads: sum(|l| &l.reads),
                    exposed: sum(|l| &l.exposed),
                    anomalies: sum(|l| &l.anomalies),
                });
                let interrupted = cancel.load(Ordering::Relaxed);
                let all_done = shared.readers_done.load(Ordering::Acquire) >= readers as u64;
                let stopped = shared.stop.load(Ordering::Relaxed);
                if interrupted || all_done || stopped || flow.is_break() || elapsed >= spec.duration {
                    break interrupted;
                }
            };
            shared.stop.store(true, Ordering::Relaxed);
            let mut reads = ReadTally::new(spec.evidence_per_class);
            for h in reader_handles {
                reads.merge(h.join().expect("reader thread panicked"));
            }
            let mut writes = WriteTally::new();
            for h in writer_handles {
                writes.merge(h.join().expect("writer thread panicked"));
            }
            let external = external_handle.map(|h| h.join().expect("external reader thread panicked"));
            let sampled = sampler
                .map(|h| h.join().expect("watch thread panicked"))
                .unwrap_or_default();
            let fault_result = faulter
                .map(|h| h.join().expect("fault thread panicked"))
                .unwrap_or(Ok(()));
            (
                start.elapsed(),
                reads,
                writes,
                interrupted,
                external,
                sampled,
                fault_result,
            )
        });
    fault_result?;
    let mut reads = match procs {
        Some(children) => procs::collect(children, spec.evidence_per_class)?,
        None => thread_reads,
    };
    if let Some(e) = &external {
        reads.merge(e.tally.clone());
    }

    let final_state = final_state(target, classifier, shared);
    let watch = watch::after(
        &before,
        sampled,
        classifier,
        shared.committed.load(Ordering::Acquire),
    );
    drop(board);
    Ok(CaseRaw {
        elapsed,
        reads,
        writes,
        final_state,
        interrupted,
        external,
        watch,
    })
}

/// The target after the run, against the newest committed token and field:
/// `stale` if a committed change was lost.
fn final_state(target: &Path, classifier: &Classifier, shared: &Shared) -> crate::classify::Outcome {
    let committed = crate::format::Versions {
        token: shared.committed.load(Ordering::Acquire),
        field: shared.committed_field.load(Ordering::Acquire),
    };
    reader::classify_file(target, classifier, committed).outcome
}
