//! Reader processes: each reader is a `torn __reader` child that maps the
//! run's board, waits for the start signal, runs the same reader loop as a
//! thread would, and prints its tally as JSON on stdout.

use std::io::{self, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::board::BoardMem;
use super::reader::{ReaderRun, run_reader};
use super::tally::ReadTally;
use crate::case::{Document, write_job};

/// What a reader process runs: `torn __reader --job FILE --id N`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ReaderJob {
    /// The shared board (mapped file).
    pub board: std::path::PathBuf,
    pub target: std::path::PathBuf,
    pub document: Document,
    pub run: super::reader::ReaderRun,
}
use crate::classify::Classifier;

/// The body of a `torn __reader --job FILE --id N` process: map the board,
/// wait for `go`, run the same reader loop as a thread would, and return
/// the tally (printed as JSON by the caller).
pub fn reader_main(job: &ReaderJob, id: usize) -> anyhow::Result<ReadTally> {
    // Die with the run, never outlive it; Ctrl-C reaches the whole process
    // group, but a reader stops when the run sets `stop`, so the run can
    // still collect its tally and report.
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
    // SAFETY: installing SIG_IGN runs no handler code.
    unsafe {
        nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGINT,
            nix::sys::signal::SigHandler::SigIgn,
        )
    }?;
    if id >= super::board::MAX_READERS {
        anyhow::bail!("reader id {id} out of range");
    }
    let board = BoardMem::open(&job.board)?;
    let classifier = job.document.classifier()?;
    board.ready.fetch_add(1, Ordering::AcqRel);
    while !board.go.load(Ordering::Acquire) {
        if board.shared.stop.load(Ordering::Relaxed) {
            break;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    let live = &board.live[id];
    Ok(run_reader(
        id,
        &job.target,
        &classifier,
        &board.shared,
        live,
        Instant::now(),
        job.run,
    ))
}

/// Starts `n` reader processes of `exe` for `classifier` on `target`, and
/// waits until every one has mapped the board.
pub fn spawn(
    exe: &Path,
    n: usize,
    board: &BoardMem,
    target: &Path,
    classifier: &Classifier,
    opts: ReaderRun,
    dir: &Path,
) -> io::Result<Vec<Child>> {
    let board_path = board
        .path()
        .expect("reader processes need a mapped board")
        .to_path_buf();
    let job = dir.join("reader-job.json");
    write_job(
        &job,
        &ReaderJob {
            board: board_path,
            target: target.to_path_buf(),
            document: Document::of(classifier),
            run: opts,
        },
    )?;
    let mut children = Vec::with_capacity(n);
    for id in 0..n {
        let mut cmd = Command::new(exe);
        let child = crate::guard::procs::contain(&mut cmd, dir)
            .arg("__reader")
            .arg("--job")
            .arg(&job)
            .arg(format!("--id={id}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn();
        match child {
            Ok(c) => children.push(c),
            Err(e) => {
                kill_all(&mut children);
                return Err(io::Error::other(format!(
                    "cannot start reader process {}: {e}",
                    exe.display()
                )));
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while board.ready.load(Ordering::Acquire) < n as u64 {
        let exited = children.iter_mut().any(|c| matches!(c.try_wait(), Ok(Some(_))));
        if exited || Instant::now() > deadline {
            kill_all(&mut children);
            return Err(io::Error::other(
                "a reader process did not start (see its stderr above)",
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(children)
}

/// Waits for the reader processes (after `stop`) and merges their tallies.
pub fn collect(children: Vec<Child>, evidence_per_class: usize) -> io::Result<ReadTally> {
    let mut total = ReadTally::new(evidence_per_class);
    let mut failure = None;
    for (id, mut child) in children.into_iter().enumerate() {
        let mut out = String::new();
        if let Some(mut stdout) = child.stdout.take() {
            stdout.read_to_string(&mut out)?;
        }
        let status = child.wait()?;
        match serde_json::from_str::<ReadTally>(&out) {
            Ok(t) if status.success() => total.merge(t),
            _ => failure = failure.or(Some(format!("reader process {id} failed ({status})"))),
        }
    }
    match failure {
        Some(f) => Err(io::Error::other(f)),
        None => Ok(total),
    }
}

fn kill_all(children: &mut [Child]) {
    for c in children.iter_mut() {
        let _ = c.kill();
        let _ = c.wait();
    }
}
