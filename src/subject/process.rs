//! Starting, timing out and reaping external writer processes.
//!
//! Every child runs in its own process group, so a writer that started
//! helpers (a shell, a Python subprocess) is killed whole: torn never leaves
//! a process running.
//!
//! On request (a [`Recording`] passed to [`spawn`]; off by default) the
//! process runs under the ptrace tracer ([`crate::trace::ptrace`]): its
//! file-system calls on the watched paths are recorded, and killing it kills
//! every process it started, in its process group or not. Where ptrace is
//! not permitted it runs untraced and the recording says why.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use wait_timeout::ChildExt;

use super::{ExternalSpec, WriterCtx, substitute};
use crate::trace::Recording;
use crate::trace::ptrace::Traced;

/// How many bytes of a writer's stderr a report keeps.
pub const STDERR_TAIL: u64 = 2048;

/// The argument vector of `spec` for one write (or one persistent process).
pub fn argv(spec: &ExternalSpec, token: &str, ctx: &WriterCtx) -> Result<Vec<String>, String> {
    if spec.shell {
        return Ok(vec![
            "sh".into(),
            "-c".into(),
            substitute(&spec.command, token, &ctx.target, &ctx.home),
        ]);
    }
    let words = shell_words::split(&spec.command)
        .map_err(|e| format!("cannot split command `{}`: {e}", spec.command))?;
    if words.is_empty() {
        return Err("the writer command is empty".into());
    }
    Ok(words
        .iter()
        .map(|w| substitute(w, token, &ctx.target, &ctx.home))
        .collect())
}

/// Where writer `ctx.index` logs its stderr.
pub fn stderr_path(ctx: &WriterCtx) -> PathBuf {
    ctx.log_dir.join(format!("writer-{}.stderr", ctx.index))
}

/// A started external process, plain or traced.
pub struct Proc {
    inner: Inner,
    pub stdin: Option<ChildStdin>,
    pub stdout: Option<ChildStdout>,
}

enum Inner {
    Plain(Child),
    Traced(Traced),
}

impl Proc {
    /// The process id (also its process group id).
    pub fn id(&self) -> u32 {
        match &self.inner {
            Inner::Plain(c) => c.id(),
            Inner::Traced(t) => t.id(),
        }
    }

    /// Waits for the process to exit.
    pub fn wait(&mut self) -> std::io::Result<ExitStatus> {
        match &mut self.inner {
            Inner::Plain(c) => c.wait(),
            Inner::Traced(t) => Ok(t.wait()),
        }
    }
}

/// Spawns `argv` with `HOME` set to the scratch home, in a new process group,
/// stderr to `log` (truncated); traced into `trace` if given.
pub fn spawn(
    argv: &[String],
    ctx: &WriterCtx,
    stdin: fn() -> Stdio,
    stdout: fn() -> Stdio,
    log: &Path,
    trace: Option<&Arc<Recording>>,
) -> Result<Proc, String> {
    use std::os::unix::process::CommandExt;
    let command = || -> Result<Command, String> {
        let log = File::create(log).map_err(|e| format!("cannot create log {}: {e}", log.display()))?;
        let mut c = Command::new(&argv[0]);
        // Tagged with its case directory and killed if torn dies
        // (crate::guard::procs::contain): nothing it starts outlives the case.
        crate::guard::procs::contain(&mut c, &ctx.log_dir)
            .args(&argv[1..])
            .env("HOME", &ctx.home)
            // A tool that follows the XDG base directories would otherwise
            // write where the user's environment points them (outside the
            // scratch HOME): they follow HOME, as they do when unset.
            .env("XDG_CONFIG_HOME", ctx.home.join(".config"))
            .env("XDG_CACHE_HOME", ctx.home.join(".cache"))
            .env("XDG_DATA_HOME", ctx.home.join(".local/share"))
            .env("XDG_STATE_HOME", ctx.home.join(".local/state"))
            .env("TORN_TARGET", &ctx.target)
            .stdin(stdin())
            .stdout(stdout())
            .stderr(log)
            .process_group(0);
        Ok(c)
    };
    let cannot_start = |e: &dyn std::fmt::Display| format!("cannot start `{}`: {e}", argv[0]);
    if let Some(rec) = trace {
        match Traced::spawn(command()?, rec.clone()) {
            Ok(mut t) => {
                return Ok(Proc {
                    stdin: t.stdin.take(),
                    stdout: t.stdout.take(),
                    inner: Inner::Traced(t),
                });
            }
            Err(e) if e.untraceable() => rec.note_untraced(e.to_string()),
            Err(crate::trace::ptrace::TraceError::Start(e)) => return Err(cannot_start(&e)),
            Err(e) => return Err(cannot_start(&e)),
        }
    }
    let mut child = command()?.spawn().map_err(|e| cannot_start(&e))?;
    Ok(Proc {
        stdin: child.stdin.take(),
        stdout: child.stdout.take(),
        inner: Inner::Plain(child),
    })
}

/// Waits up to `timeout`; on expiry kills the process group and reaps.
/// Returns `None` when it timed out. Either way nothing the process started
/// is left running.
pub fn wait_or_kill(proc: &mut Proc, timeout: Duration) -> Option<ExitStatus> {
    match &mut proc.inner {
        Inner::Plain(child) => match child.wait_timeout(timeout) {
            Ok(Some(status)) => {
                kill_group(proc);
                Some(status)
            }
            _ => {
                kill_group(proc);
                let _ = proc.wait();
                None
            }
        },
        Inner::Traced(t) => {
            let status = t.wait_timeout(timeout);
            t.kill();
            status
        }
    }
}

/// SIGKILL to the process's whole process group (helpers included); for a
/// traced process, to every process it started, and reaped.
pub fn kill_group(proc: &Proc) {
    match &proc.inner {
        Inner::Plain(child) => {
            let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
        }
        Inner::Traced(t) => t.kill(),
    }
}

/// Describes an exit status: "exit code 2", "killed by signal 9".
pub fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => status.to_string(),
    }
}

/// The last [`STDERR_TAIL`] bytes of a writer's log, if it wrote any.
pub fn stderr_tail(path: &Path) -> Option<String> {
    let mut f = File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    if len == 0 {
        return None;
    }
    f.seek(SeekFrom::Start(len.saturating_sub(STDERR_TAIL))).ok()?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf).trim_end().to_string())
}
