//! Reader processes: each reader is a `torn __reader` child that maps the
//! run's board, waits for the start signal, runs the same reader loop as a
//! thread would, and prints its tally as JSON on stdout.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::board::BoardMem;
use super::reader::{ReaderOptions, run_reader};
use super::tally::ReadTally;
use crate::classify::Classifier;
use crate::format::{Format, Template};
use crate::token::TokenCodec;

/// What a reader process needs to know, passed on its command line.
#[derive(Debug, Clone)]
pub struct ReaderProc {
    pub board: PathBuf,
    pub id: usize,
    pub target: PathBuf,
    /// File holding the template text.
    pub template: PathBuf,
    pub format: Format,
    pub client_key: String,
    pub seed: u64,
    pub grace: u64,
    pub lock: bool,
    pub reads: Option<u64>,
    pub evidence: usize,
    pub bucket_ns: u64,
    pub profile: super::reader::Profile,
}

impl ReaderProc {
    fn args(&self) -> Vec<String> {
        let mut a = vec![
            "__reader".to_string(),
            format!("--board={}", self.board.display()),
            format!("--id={}", self.id),
            format!("--target={}", self.target.display()),
            format!("--template={}", self.template.display()),
            format!("--format={}", self.format.name()),
            format!("--client-key={}", self.client_key),
            format!("--seed={}", self.seed),
            format!("--grace={}", self.grace),
            format!("--evidence={}", self.evidence),
            format!("--bucket-ns={}", self.bucket_ns),
            format!("--profile={}", self.profile.name()),
        ];
        if self.lock {
            a.push("--lock".into());
        }
        if let Some(r) = self.reads {
            a.push(format!("--reads={r}"));
        }
        a
    }

    /// Runs in the child: map the board, wait for `go`, read, report.
    pub fn run(&self) -> anyhow::Result<ReadTally> {
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
        let board = BoardMem::open(&self.board)?;
        let template = Template::from_file(&self.template, self.format, &self.client_key)?;
        let classifier = Classifier::new(template, TokenCodec::new(self.seed), self.grace);
        board.ready.fetch_add(1, Ordering::AcqRel);
        while !board.go.load(Ordering::Acquire) {
            if board.shared.stop.load(Ordering::Relaxed) {
                break;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        let opts = ReaderOptions {
            profile: self.profile,
            lock: self.lock,
            reads: self.reads,
            evidence_per_class: self.evidence,
            bucket_ns: self.bucket_ns,
        };
        let live = &board.live[self.id];
        Ok(run_reader(
            self.id,
            &self.target,
            &classifier,
            &board.shared,
            live,
            Instant::now(),
            opts,
        ))
    }
}

/// Starts `n` reader processes of `exe` for `classifier` on `target`, and
/// waits until every one has mapped the board.
pub fn spawn(
    exe: &Path,
    n: usize,
    board: &BoardMem,
    target: &Path,
    classifier: &Classifier,
    opts: ReaderOptions,
    dir: &Path,
) -> io::Result<Vec<Child>> {
    let board_path = board
        .path()
        .expect("reader processes need a mapped board")
        .to_path_buf();
    let template = dir.join("template");
    std::fs::write(&template, classifier.template.text())?;
    let mut children = Vec::with_capacity(n);
    for id in 0..n {
        let p = ReaderProc {
            board: board_path.clone(),
            id,
            target: target.to_path_buf(),
            template: template.clone(),
            format: classifier.template.format,
            client_key: classifier.template.client_key.clone(),
            seed: classifier.codec.seed(),
            grace: classifier.grace,
            lock: opts.lock,
            reads: opts.reads,
            evidence: opts.evidence_per_class,
            bucket_ns: opts.bucket_ns,
            profile: opts.profile,
        };
        let mut cmd = Command::new(exe);
        let child = crate::guard::procs::contain(&mut cmd, dir)
            .args(p.args())
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
