//! Processes torn starts: tagged, tied to their parent, and swept.
//!
//! A writer may start helpers that leave its process group (`setsid`, a
//! daemon that double-forks) or ignore EOF on stdin. Every process torn
//! spawns carries [`TAG`] = its case directory in its environment, which
//! its descendants inherit; [`sweep`] kills every process whose tag lies
//! under a directory. Tags are paths of torn's own scratch directories, so a
//! sweep never touches a process torn did not start (or one of another run).

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The environment variable carrying a process's case directory.
pub const TAG: &str = "TORN_CASE";

/// Prepares `cmd` to be one of torn's processes for the case in `case_dir`:
/// tagged, and killed if the thread that started it dies (torn killed).
pub fn contain<'a>(cmd: &'a mut Command, case_dir: &Path) -> &'a mut Command {
    cmd.env(TAG, case_dir);
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork
    // and exec.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)?;
            Ok(())
        })
    }
}

/// The tag of process `pid`, if it carries one (and its environment is readable).
fn tag_of(pid: i32) -> Option<std::path::PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let prefix = format!("{TAG}=");
    env.split(|&b| b == 0)
        .find_map(|kv| kv.strip_prefix(prefix.as_bytes()))
        .map(|v| std::path::PathBuf::from(std::ffi::OsStr::from_bytes(v)))
}

/// Every process id listed in /proc now.
pub fn pids() -> impl Iterator<Item = i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
}

/// The state letter (`R`, `S`, `Z`, ...) and parent of process `pid`, from
/// /proc/PID/stat (`None` once it is gone).
pub fn stat(pid: i32) -> Option<(char, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses: state, ppid.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let state = fields.next()?.chars().next()?;
    Some((state, fields.next()?.parse().ok()?))
}

/// Process ids tagged with a directory under `dir` (never torn itself).
pub fn tagged_under(dir: &Path) -> Vec<i32> {
    let me = std::process::id() as i32;
    pids()
        .filter(|&pid| pid != me)
        .filter(|&pid| tag_of(pid).is_some_and(|t| t.starts_with(dir)))
        .collect()
}

/// SIGKILLs every process tagged under `dir`, repeating until none is left
/// (a process may fork while being swept); returns how many were killed.
/// Zombies are reaped by their parents: torn's own waiters, or the
/// supervisor, which reaps every orphan handed to it.
pub fn sweep(dir: &Path) -> usize {
    let mut killed = 0;
    for _ in 0..50 {
        let pids = tagged_under(dir);
        if pids.is_empty() {
            break;
        }
        for pid in pids {
            if kill(Pid::from_raw(pid), Signal::SIGKILL).is_ok() {
                killed += 1;
            }
        }
        // A killed process's environment is gone at once (a zombie has
        // none), so the next scan no longer lists it.
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    killed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_kills_a_tagged_daemon_that_left_the_process_group() {
        let d = tempfile::tempdir().unwrap();
        let case = d.path().join("00-case");
        // A shell that starts a setsid'd sleeper and exits at once.
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $!"]);
        cmd.stdout(std::process::Stdio::piped());
        contain(&mut cmd, &case);
        let out = cmd.output().unwrap();
        let pid: i32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(
            tagged_under(d.path()).contains(&pid),
            "the daemon carries the tag"
        );
        assert!(
            tagged_under(&d.path().join("00-cas")).is_empty(),
            "tags match whole path components"
        );
        assert!(sweep(d.path()) >= 1);
        assert!(tagged_under(d.path()).is_empty());
    }
}
