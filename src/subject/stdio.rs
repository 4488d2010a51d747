//! The persistent line protocol: `--writer-stdio 'python3 rotate_server.py'`.
//!
//! torn starts the program once per writer and sends one token per line on
//! its stdin; the program answers one line per token on stdout: `ok` once the
//! new token is in the file, or `err <message>` if it could not write it. The
//! write is committed when `ok` arrives. No answer within the timeout,
//! anything else on stdout, or the program exiting makes a broken subject.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use super::process::{self, argv, kill_group, spawn, wait_or_kill};
use super::{ExternalSpec, Subject, SubjectWriter, WriteFailure, WriterCtx};
use crate::strategy::{Expect, Setup};

/// Longest answer line accepted.
const MAX_LINE: u64 = 4096;

pub struct LineProtocol(pub ExternalSpec);

impl Subject for LineProtocol {
    fn name(&self) -> String {
        format!("writer-stdio: {}", self.0.command)
    }

    fn start<'a>(&'a self, ctx: &WriterCtx) -> Result<Box<dyn SubjectWriter + 'a>, String> {
        let argv = argv(&self.0, "", ctx)?;
        let mut child = spawn(&argv, ctx, Stdio::piped(), Stdio::piped())?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = sync_channel(1);
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
        Ok(Box::new(Writer {
            timeout: self.0.timeout,
            ctx: ctx.clone(),
            child,
            stdin,
            answers: rx,
            lines: Some(lines),
            reaped: false,
        }))
    }

    fn expect(&self, _: &Setup) -> Expect {
        Expect::Clean
    }
}

struct Writer {
    timeout: Duration,
    ctx: WriterCtx,
    child: Child,
    stdin: Option<ChildStdin>,
    answers: Receiver<String>,
    lines: Option<JoinHandle<()>>,
    /// The child has been waited for (its pid may be reused: never signal it again).
    reaped: bool,
}

impl Writer {
    fn exited(&mut self) -> WriteFailure {
        let status = wait_or_kill(&mut self.child, Duration::from_secs(1));
        self.reaped = true;
        let how = status.map_or_else(|| "stopped answering".to_string(), process::describe);
        WriteFailure::Broken(format!("the writer exited early ({how})"))
    }
}

impl SubjectWriter for Writer {
    fn write(&mut self, token: &str, _bytes: &[u8]) -> Result<(), WriteFailure> {
        let sent = match self.stdin.as_mut() {
            Some(stdin) => writeln!(stdin, "{token}").and_then(|()| stdin.flush()),
            None => return Err(WriteFailure::Broken("the writer's stdin is closed".into())),
        };
        if sent.is_err() {
            return Err(self.exited());
        }
        match self.answers.recv_timeout(self.timeout) {
            Ok(line) if line == "ok" => Ok(()),
            Ok(line) if line == "err" || line.starts_with("err ") => Err(WriteFailure::Reported(
                line.trim_start_matches("err").trim().to_string(),
            )),
            Ok(line) => {
                kill_group(&self.child);
                Err(WriteFailure::Broken(format!(
                    "the writer answered {line:?}; expected `ok` or `err <message>`"
                )))
            }
            Err(RecvTimeoutError::Timeout) => {
                kill_group(&self.child);
                Err(WriteFailure::Broken(format!(
                    "no answer within {:?}: the writer hung and was killed",
                    self.timeout
                )))
            }
            Err(RecvTimeoutError::Disconnected) => Err(self.exited()),
        }
    }

    fn finish(mut self: Box<Self>) -> Option<String> {
        drop(self.stdin.take());
        if !self.reaped {
            wait_or_kill(&mut self.child, Duration::from_secs(2));
            self.reaped = true;
        }
        if let Some(h) = self.lines.take() {
            let _ = h.join();
        }
        process::stderr_tail(&process::stderr_path(&self.ctx))
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Whatever happened, the process group does not outlive the writer.
        if !self.reaped {
            kill_group(&self.child);
            let _ = self.child.wait();
        }
    }
}
