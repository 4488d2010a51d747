//! Starting, timing out and reaping external writer processes.
//!
//! Every child runs in its own process group, so a writer that started
//! helpers (a shell, a Python subprocess) is killed whole: torn never leaves
//! a process running.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use wait_timeout::ChildExt;

use super::{ExternalSpec, WriterCtx, substitute};

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

/// Spawns `argv` with `HOME` set to the scratch home, in a new process group,
/// stderr to `log` (truncated), tagged with its case directory and killed
/// if torn dies ([`crate::guard::procs::contain`]).
pub fn spawn(
    argv: &[String],
    ctx: &WriterCtx,
    stdin: Stdio,
    stdout: Stdio,
    log: &Path,
) -> Result<Child, String> {
    use std::os::unix::process::CommandExt;
    let log = File::create(log).map_err(|e| format!("cannot create log {}: {e}", log.display()))?;
    let mut cmd = Command::new(&argv[0]);
    crate::guard::procs::contain(&mut cmd, &ctx.log_dir)
        .args(&argv[1..])
        .env("HOME", &ctx.home)
        .env("TORN_TARGET", &ctx.target)
        .stdin(stdin)
        .stdout(stdout)
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start `{}`: {e}", argv[0]))
}

/// Waits up to `timeout`; on expiry kills the process group and reaps.
/// Returns `None` when it timed out.
pub fn wait_or_kill(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    match child.wait_timeout(timeout) {
        Ok(Some(status)) => {
            kill_group(child);
            Some(status)
        }
        _ => {
            kill_group(child);
            let _ = child.wait();
            None
        }
    }
}

/// SIGKILL to the child's whole process group (helpers included).
pub fn kill_group(child: &Child) {
    let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
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
