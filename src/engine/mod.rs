//! The run engine: W writer threads and R reader threads on one target,
//! released together by a barrier, for a duration or a read budget.
//!
//! The engine knows nothing about particular strategies or formats: it takes
//! a [`Subject`] and a [`Classifier`] and returns raw tallies.

pub mod board;
pub mod external_reader;
pub mod fault;
pub mod futex;
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
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

pub use reader::{Profile, ReaderRun};

use crate::case::{Case, CaseEnv};
pub use shared::{Live, Shared, WindowStats};
pub use tally::{Evidence, FirstSeen, ReadTally, WriteTally};
pub use writer::WriteRate;

use crate::classify::Classifier;
use crate::format::SlotKind;
use crate::subject::WriterCtx;

/// A progress snapshot, sent to the caller about ten times a second.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub elapsed: Duration,
    pub reads: u64,
    /// Reads that overlapped a mutation window.
    pub exposed: u64,
    /// Anomalous reads.
    pub anomalies: u64,
    /// Writes whose traced recipe is a finding (their own unit: writes).
    pub flagged_writes: u64,
    /// Writes whose traced recipe fell in an atomic class, and in none.
    pub atomic_writes: u64,
    pub other_writes: u64,
    /// Mutation windows at least one read overlapped (lagging slightly).
    pub windows_hit: u64,
    /// Writes committed so far (warm-up writes not included).
    pub writes: u64,
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
    /// The mutation windows and the reads that overlapped them.
    pub windows: WindowStats,
    /// An external writer's learned shape (its classifier judged the reads).
    pub shape: Option<crate::shape::Learned>,
}

impl CaseRaw {
    /// The classifier that judged this case's reads: the learned shape's,
    /// or else the case's own.
    pub fn classifier<'a>(&'a self, case_classifier: &'a Classifier) -> &'a Classifier {
        self.shape
            .as_ref()
            .and_then(|s| s.classifier.as_ref())
            .unwrap_or(case_classifier)
    }
}

/// Runs one case on `target` (whose directory must exist and be torn's own).
/// `progress` is called about twenty times a second and may end the case
/// early by returning `Break` (a gate that has proven its bound).
///
/// In five steps: [`setup`] the target and the board, start the writers
/// and learn an external writer's shape ([`crate::shape`]), [`spawn`]
/// helper processes, run the threads while [`monitor`]ing them, and
/// [`collect`] what they measured.
pub fn run_case(
    case: &Case,
    env: &CaseEnv,
    classifier: &Classifier,
    target: &Path,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(Progress) -> ControlFlow<()>,
) -> io::Result<CaseRaw> {
    let learns = case.subject.is_external();
    let set = setup(case, env, classifier, target, learns)?;
    let readers = case.readers.count.clamp(1, board::MAX_READERS);
    let run = ReaderRun::for_case(case);
    let subject = case.subject.build();
    let ctx = |index| WriterCtx {
        target: target.to_path_buf(),
        home: env.home.clone(),
        log_dir: env.log_dir.clone(),
        index,
    };
    // Each writer's trace (when on): its calls open and close write windows
    // from its first write on, the shape-learning ones included.
    let mut traces: Vec<Option<writer::Traced>> = (0..case.writers.count)
        .map(|i| {
            case.writers
                .trace
                .then(|| tracing(case, &set.board, target, i, classifier.codec.seed()))
        })
        .collect();
    let mut started: Vec<_> = (0..case.writers.count)
        .map(|i| match &traces[i] {
            Some(t) => subject.start_traced(&ctx(i), t.rec.clone()),
            None => subject.start(&ctx(i)),
        })
        .collect();
    // An external writer formats the file its own way: learn its shape
    // before any reader starts, and judge the reads by it.
    let mut learned = None;
    if learns {
        let writers = match started.into_iter().collect::<Result<Vec<_>, _>>() {
            Ok(w) => w,
            Err(e) => {
                return Ok(unjudged(
                    case,
                    classifier,
                    target,
                    format!("starting the writer: {e}"),
                    None,
                    None,
                ));
            }
        };
        let mut writers = writers;
        let l = crate::shape::learn(
            &mut writers,
            classifier,
            target,
            &set.board.shared,
            &case.shape,
            set.start.as_deref(),
        );
        if let Some(e) = l.error() {
            let stderr = writers.into_iter().next().and_then(|w| w.finish());
            return Ok(unjudged(case, classifier, target, e, stderr, Some(l)));
        }
        started = writers.into_iter().map(Ok).collect();
        learned = Some(l);
        // The writes that taught torn the shape are writes too: their recipes count.
        for t in traces.iter_mut().flatten() {
            let events = t.rec.drain();
            for write in crate::trace::recipe::split_writes(&events, target) {
                let found = t.book.add(write, target, Some(t.target_mode), t.umask);
                if found.iter().any(|f| f.is_anomaly()) {
                    set.board.shared.recipe_anomalies.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    // Warm-up writes: those made while learning, or one per writer.
    let learned_versions = set.board.shared.next_version.load(Ordering::Acquire) - 1;
    let warmed = learned.as_ref().is_some_and(|l| l.classifier.is_some());
    let warm_ups = learned_versions + if warmed { 0 } else { case.writers.count as u64 };
    let classifier = learned
        .as_ref()
        .and_then(|l| l.classifier.as_ref())
        .unwrap_or(classifier);
    let before = watch::before_since(target, set.earlier.clone())?;
    let procs = spawn(case, env, classifier, target, &set.board, run)?;
    let external = case
        .external_reader
        .as_ref()
        .map(|e| (e, external_reader::start(e, &ctx(0))));
    let shared = &set.board.shared;
    let live = &set.board.live[..readers];
    let reader_threads = if procs.is_some() { 0 } else { readers };
    let barrier = Arc::new(Barrier::new(
        reader_threads + case.writers.count + 1 + usize::from(external.is_some()),
    ));
    let start_cell = std::sync::OnceLock::<Instant>::new();
    let start_ref = &start_cell;
    let threads = std::thread::scope(|s| {
        let sampler = case
            .watch_modes
            .then(|| s.spawn(|| watch::sample(&before, &classifier.codec, &shared.stop)));
        let faulter = case.fault.map(|plan| {
            let target_dir = target.parent().unwrap_or(Path::new(".")).to_path_buf();
            s.spawn(move || fault_thread(plan, &target_dir, &env.log_dir, shared, start_ref))
        });
        let external_handle = external.map(|(e, child)| {
            let barrier = barrier.clone();
            s.spawn(move || {
                barrier.wait();
                let start = *start_ref.get_or_init(Instant::now);
                match child {
                    Ok(child) => {
                        external_reader::run(child, e, readers, classifier, shared, start, case.evidence)
                    }
                    Err(err) => {
                        shared.stop.store(true, Ordering::Relaxed);
                        external_reader::ExternalReads {
                            client: Default::default(),
                            command: e.command.clone(),
                            tally: ReadTally::new(0),
                            error: Some(format!("starting the external reader: {err}")),
                            stderr_tail: None,
                        }
                    }
                }
            })
        });
        let reader_handles: Vec<_> = live
            .iter()
            .enumerate()
            .take(reader_threads)
            .map(|(id, live)| {
                let barrier = barrier.clone();
                s.spawn(move || {
                    barrier.wait();
                    let start = *start_ref.get_or_init(Instant::now);
                    reader::run_reader(id, target, classifier, shared, live, start, run)
                })
            })
            .collect();
        let mut started = started.into_iter();
        let mut traces = traces.into_iter();
        let writer_handles: Vec<_> = (0..case.writers.count)
            .map(|index| {
                let (barrier, w) = (barrier.clone(), started.next().expect("one started writer each"));
                let trace = traces.next().expect("one trace slot each");
                s.spawn(move || {
                    let rmw = case.writers.rmw.then_some(writer::Rmw {
                        owns: if index % 2 == 1 {
                            SlotKind::Field
                        } else {
                            SlotKind::Token
                        },
                        target,
                    });
                    // Let each writer write once before the barrier (external
                    // writers did while their shape was learned): a start-up
                    // is not a write in flight.
                    let started = w.and_then(|w| {
                        let verify = case.writers.verify && case.writers.count == 1;
                        let mut w =
                            writer::Writer::new(target, w, classifier, shared, rmw, run.bucket_ns, verify);
                        if let Some(t) = trace {
                            w = w.with_trace(t);
                        }
                        if !warmed {
                            w.warm_up()?;
                        }
                        Ok(w)
                    });
                    // Every window so far was a warm-up's (no reader runs
                    // before the barrier, and no writer writes after it
                    // until all have reached it).
                    shared
                        .win_before_start
                        .fetch_max(shared.win_started.load(Ordering::SeqCst), Ordering::SeqCst);
                    barrier.wait();
                    let start = *start_ref.get_or_init(Instant::now);
                    match started {
                        Ok(w) => w.run(case.writers.rate.to_engine(), start, run.bucket_ns),
                        Err(e) => {
                            shared.stop.store(true, Ordering::Relaxed);
                            WriteTally {
                                subject_error: Some(format!("starting the writer: {e}")),
                                ..WriteTally::new()
                            }
                        }
                    }
                })
            })
            .collect();
        barrier.wait();
        let start = *start_cell.get_or_init(Instant::now);
        // From here on (not during the shape's warm-up writes) a window
        // waits for a read to begin.
        shared
            .pace_wait
            .store(run.pace == crate::case::Pace::Wait, Ordering::SeqCst);
        set.board.go.store(true, Ordering::Release);
        let interrupted = monitor(case, live, shared, start, warm_ups, cancel, progress);
        shared.stop.store(true, Ordering::SeqCst);
        shared
            .win_at_stop
            .store(shared.win_started.load(Ordering::SeqCst) + 1, Ordering::SeqCst);
        futex::wake_all(&shared.wake);
        let mut reads = ReadTally::new(case.evidence);
        for h in reader_handles {
            reads.merge(h.join().expect("reader thread panicked"));
        }
        let mut writes = WriteTally::new();
        for h in writer_handles {
            writes.merge(h.join().expect("writer thread panicked"));
        }
        Threads {
            elapsed: start.elapsed(),
            reads,
            writes,
            interrupted,
            external: external_handle.map(|h| h.join().expect("external reader thread panicked")),
            sampled: sampler
                .map(|h| h.join().expect("watch thread panicked"))
                .unwrap_or_default(),
            fault: faulter
                .map(|h| h.join().expect("fault thread panicked"))
                .unwrap_or(Ok(())),
        }
    });
    let mut raw = collect(case, classifier, target, set, before, procs, threads)?;
    raw.shape = learned;
    Ok(raw)
}

/// A case that never ran its readers: the writer could not start, or its
/// shape could not be learned. Nothing is judged; `error` is the subject
/// error.
fn unjudged(
    case: &Case,
    classifier: &Classifier,
    target: &Path,
    error: String,
    stderr_tail: Option<String>,
    shape: Option<crate::shape::Learned>,
) -> CaseRaw {
    CaseRaw {
        elapsed: Duration::ZERO,
        reads: ReadTally::new(case.evidence),
        writes: WriteTally {
            subject_error: Some(error),
            stderr_tail,
            ..WriteTally::new()
        },
        final_state: reader::classify_file(target, classifier, Default::default()).outcome,
        interrupted: false,
        external: None,
        watch: watch::Findings::default(),
        windows: WindowStats::default(),
        shape,
    }
}

/// A recording of writer `index`'s calls in the target's directory, whose
/// live calls open and close write windows on the board.
fn tracing(
    case: &Case,
    board: &Arc<board::BoardMem>,
    target: &Path,
    index: usize,
    seed: u64,
) -> writer::Traced {
    use crate::trace::window::{Perturb, WindowTracker};
    use crate::trace::{Recording, TraceSpec};
    let dir = target.parent().unwrap_or(Path::new("/")).to_path_buf();
    let rec = Recording::new(&TraceSpec::new(vec![dir]));
    let perturb = case.writers.perturb.map(|max| Perturb {
        max,
        seed: seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
    });
    let windows = Arc::new(WindowTracker::new(board.clone(), target, perturb));
    rec.set_observer(windows.clone());
    writer::Traced {
        rec,
        windows,
        book: Default::default(),
        target_mode: case.target_mode,
        umask: umask(),
        readers_lock: case.readers.lock,
    }
}

/// This process's umask (inherited by the writers it starts), from /proc.
fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

/// What [`setup`] prepared.
struct Setup {
    board: Arc<board::BoardMem>,
    /// The target and its directory before any write.
    earlier: watch::Earlier,
    /// What the target held before the first write (`None`: no file).
    start: Option<Vec<u8>>,
}

/// Writes version 0 with the case's mode (behind a symlink if asked) — or,
/// for an external writer (`learns`), the case's start file — and makes the
/// board the readers and writers share.
fn setup(
    case: &Case,
    env: &CaseEnv,
    classifier: &Classifier,
    target: &Path,
    learns: bool,
) -> io::Result<Setup> {
    let start = if learns {
        case.shape.start.bytes(classifier)?
    } else {
        Some(classifier.template.render_vec(&classifier.codec, 0))
    };
    if case.target_symlink {
        let dotfiles = env.log_dir.join("dotfiles");
        std::fs::create_dir_all(&dotfiles)?;
        let linked = dotfiles.join(target.file_name().unwrap_or_default());
        std::os::unix::fs::symlink(&linked, target)?;
    }
    if let Some(bytes) = &start {
        std::fs::write(target, bytes)?;
        std::fs::set_permissions(target, std::fs::Permissions::from_mode(case.target_mode))?;
    }
    let earlier = watch::earlier(target);
    if let Some(plan) = case.fault {
        plan.fault.check(&env.log_dir).map_err(io::Error::other)?;
    }
    let board = Arc::new(if case.readers.procs {
        board::BoardMem::create(&env.log_dir.join("board"))?
    } else {
        board::BoardMem::heap()
    });
    board.shared.next_version.store(1, Ordering::Relaxed);
    Ok(Setup {
        board,
        earlier,
        start,
    })
}

/// Starts the reader processes, when the case asks for them.
fn spawn(
    case: &Case,
    env: &CaseEnv,
    classifier: &Classifier,
    target: &Path,
    board: &board::BoardMem,
    run: ReaderRun,
) -> io::Result<Option<Vec<std::process::Child>>> {
    if !case.readers.procs {
        return Ok(None);
    }
    let exe = match &env.exe {
        Some(exe) => exe.clone(),
        None => std::env::current_exe()?,
    };
    let readers = case.readers.count.clamp(1, board::MAX_READERS);
    procs::spawn(&exe, readers, board, target, classifier, run, &env.log_dir).map(Some)
}

/// Watches the running case until its duration, its read budget, a stop
/// (a broken subject), an interrupt, or the caller's `Break`. Returns
/// whether it was interrupted.
fn monitor(
    case: &Case,
    live: &[crossbeam_utils::CachePadded<Live>],
    shared: &Shared,
    start: Instant,
    warm_ups: u64,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(Progress) -> ControlFlow<()>,
) -> bool {
    loop {
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
            flagged_writes: shared.recipe_anomalies.load(Ordering::Relaxed),
            atomic_writes: shared.atomic_writes.load(Ordering::Relaxed),
            other_writes: shared.other_writes.load(Ordering::Relaxed),
            windows_hit: shared.windows_hit(),
            writes: shared.committed.load(Ordering::Acquire).saturating_sub(warm_ups),
        });
        let interrupted = cancel.load(Ordering::Relaxed);
        let all_done = shared.readers_done.load(Ordering::Acquire) >= live.len() as u64;
        let stopped = shared.stop.load(Ordering::Relaxed);
        if interrupted || all_done || stopped || flow.is_break() || elapsed >= case.duration {
            return interrupted;
        }
    }
}

/// What the threads of a case returned.
struct Threads {
    elapsed: Duration,
    reads: ReadTally,
    writes: WriteTally,
    interrupted: bool,
    external: Option<external_reader::ExternalReads>,
    sampled: watch::Findings,
    fault: io::Result<()>,
}

/// Injects the fault once the run has been going for `plan.after`, and
/// undoes it when the case stops.
fn fault_thread(
    plan: crate::case::FaultPlan,
    target_dir: &Path,
    log_dir: &Path,
    shared: &Shared,
    start: &std::sync::OnceLock<Instant>,
) -> io::Result<()> {
    // The fault's clock starts with the run (after every writer's warm-up),
    // not when this thread does.
    let begin = loop {
        if let Some(start) = start.get() {
            break *start;
        }
        if shared.stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    while begin.elapsed() < plan.after {
        if shared.stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let guard = fault::inject(plan.fault, target_dir, log_dir)?;
    while !shared.stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(2));
    }
    drop(guard);
    Ok(())
}

/// Gathers the tallies (from reader processes too), the final state of the
/// target and what the watcher saw.
fn collect(
    case: &Case,
    classifier: &Classifier,
    target: &Path,
    set: Setup,
    before: watch::Before,
    procs: Option<Vec<std::process::Child>>,
    t: Threads,
) -> io::Result<CaseRaw> {
    t.fault?;
    let mut reads = match procs {
        Some(children) => procs::collect(children, case.evidence)?,
        None => t.reads,
    };
    if let Some(e) = &t.external {
        reads.merge(e.tally.clone());
    }
    let shared = &set.board.shared;
    let final_state = final_state(target, classifier, shared);
    let watch = watch::after(
        &before,
        t.sampled,
        classifier,
        shared.committed.load(Ordering::Acquire),
        t.writes
            .trace
            .as_ref()
            .filter(|_| t.writes.traced)
            .map(|r| &r.recipes),
    );
    let windows = shared.window_stats(t.writes.traced);
    Ok(CaseRaw {
        windows,
        elapsed: t.elapsed,
        reads,
        writes: t.writes,
        final_state,
        interrupted: t.interrupted,
        external: t.external,
        watch,
        shape: None,
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
