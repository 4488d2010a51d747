//! A child process spoken to one line at a time: a question on its stdin,
//! one answer line on its stdout, within a timeout. Shared by the
//! line-protocol writer and the external reader.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{ChildStdin, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use super::WriterCtx;
use super::process::{self, Proc, kill_group, spawn, wait_or_kill};
use crate::trace::Recording;

/// Longest answer line accepted.
const MAX_LINE: u64 = 4096;

/// Why a question got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Silence {
    /// No answer within the timeout; the process group was killed.
    Hung(Duration),
    /// The process exited (or closed stdout); how it ended.
    Exited(String),
}

impl std::fmt::Display for Silence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Silence::Hung(t) => write!(f, "no answer within {t:?}: the program hung and was killed"),
            Silence::Exited(how) => write!(f, "the program exited early ({how})"),
        }
    }
}

/// A running line-protocol process.
pub struct LineChild {
    child: Proc,
    stdin: Option<ChildStdin>,
    answers: Receiver<String>,
    lines: Option<JoinHandle<()>>,
    log: PathBuf,
    /// The child has been waited for (its pid may be reused: never signal it again).
    reaped: bool,
}

impl LineChild {
    /// Starts `argv` with its stderr going to `log`.
    pub fn start(argv: &[String], ctx: &WriterCtx, log: PathBuf) -> Result<Self, String> {
        Self::launch(argv, ctx, log, None)
    }

    /// [`start`](Self::start), traced into `rec` (untraced, and `rec` says
    /// why, where ptrace is not permitted).
    pub fn start_traced(
        argv: &[String],
        ctx: &WriterCtx,
        log: PathBuf,
        rec: &Arc<Recording>,
    ) -> Result<Self, String> {
        Self::launch(argv, ctx, log, Some(rec))
    }

    fn launch(
        argv: &[String],
        ctx: &WriterCtx,
        log: PathBuf,
        trace: Option<&Arc<Recording>>,
    ) -> Result<Self, String> {
        let mut child = spawn(argv, ctx, Stdio::piped, Stdio::piped, &log, trace)?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, answers) = sync_channel(1);
        let lines = std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut line = Vec::new();
                match (&mut r).take(MAX_LINE).read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                let complete = line.last() == Some(&b'\n');
                let text = String::from_utf8_lossy(&line).trim_end().to_string();
                let msg = if complete {
                    text
                } else {
                    format!("{text}… (no newline within {MAX_LINE} bytes)")
                };
                if tx.send(msg).is_err() || !complete {
                    return;
                }
            }
        });
        Ok(Self {
            child,
            stdin,
            answers,
            lines: Some(lines),
            log,
            reaped: false,
        })
    }

    /// Sends `question` and waits up to `timeout` for one answer line.
    pub fn ask(&mut self, question: &str, timeout: Duration) -> Result<String, Silence> {
        let sent = match self.stdin.as_mut() {
            Some(stdin) => writeln!(stdin, "{question}").and_then(|()| stdin.flush()),
            None => return Err(Silence::Exited("stdin closed".into())),
        };
        if sent.is_err() {
            return Err(self.exited());
        }
        match self.answers.recv_timeout(timeout) {
            Ok(line) => Ok(line),
            Err(RecvTimeoutError::Timeout) => {
                kill_group(&self.child);
                Err(Silence::Hung(timeout))
            }
            Err(RecvTimeoutError::Disconnected) => Err(self.exited()),
        }
    }

    /// The process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process group (after a garbage answer, say).
    pub fn kill(&mut self) {
        if !self.reaped {
            kill_group(&self.child);
        }
    }

    fn exited(&mut self) -> Silence {
        let status = wait_or_kill(&mut self.child, Duration::from_secs(1));
        self.reaped = true;
        Silence::Exited(status.map_or_else(|| "stopped answering".to_string(), process::describe))
    }

    /// Closes stdin, gives the process two seconds to exit, kills it
    /// otherwise, and returns the tail of its stderr.
    pub fn finish(mut self) -> Option<String> {
        drop(self.stdin.take());
        if !self.reaped {
            wait_or_kill(&mut self.child, Duration::from_secs(2));
            self.reaped = true;
        }
        if let Some(h) = self.lines.take() {
            let _ = h.join();
        }
        process::stderr_tail(&self.log)
    }
}

impl Drop for LineChild {
    fn drop(&mut self) {
        // Whatever happened, the process group does not outlive its owner.
        if !self.reaped {
            kill_group(&self.child);
            let _ = self.child.wait();
        }
    }
}
