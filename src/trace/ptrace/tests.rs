//! Tracing real programs. Each test that needs ptrace (or a compiler, node,
//! python3) checks first and, if it is missing, says so on stderr with
//! `SKIP` — it never passes silently.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{TraceError, Traced};
use crate::trace::render::brief;
use crate::trace::{Call, Event, Recording, TraceSpec, TraceSummary};

/// Whether ptrace works here; if not, says why on stderr.
fn permitted(test: &str) -> bool {
    match super::available() {
        Ok(()) => true,
        Err(why) => {
            eprintln!("SKIP {test}: {why}");
            false
        }
    }
}

/// Whether `program` is on PATH; if not, says so on stderr.
fn have(program: &str, test: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("SKIP {test}: `{program}` is not installed");
    }
    found
}

struct Run {
    pid: u32,
    status: std::process::ExitStatus,
    events: Vec<Event>,
    summary: TraceSummary,
}

fn spec(dir: &Path) -> TraceSpec {
    let mut s = TraceSpec::new(vec![dir.to_path_buf()]);
    s.data_cap = 64;
    s
}

/// Runs `cmd` traced to the end, watching `dir`.
fn run(cmd: Command, dir: &Path) -> Run {
    let rec = Recording::new(&spec(dir));
    let t = Traced::spawn(cmd, rec.clone()).expect("starts traced");
    let status = t.wait();
    t.kill();
    assert!(!t.is_running());
    Run {
        pid: t.id(),
        status,
        events: rec.drain(),
        summary: rec.summary(),
    }
}

/// The events as one-line steps, paths relative to `dir`.
fn steps(events: &[Event], dir: &Path) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            brief(e, |p| {
                p.strip_prefix(dir)
                    .map_or_else(|_| p.display().to_string(), |r| r.display().to_string())
            })
        })
        .collect()
}

fn sh(script: &str) -> Command {
    let mut c = Command::new("sh");
    c.args(["-c", script]).current_dir("/");
    c
}

/// A small C program with several modes, compiled once per test process.
fn cprog(test: &str) -> Option<&'static Path> {
    static PROG: OnceLock<Option<PathBuf>> = OnceLock::new();
    let prog = PROG.get_or_init(|| {
        let dir = tempfile::tempdir().ok()?.keep();
        let src = dir.join("writer.c");
        std::fs::write(&src, C_PROGRAM).ok()?;
        let out = dir.join("writer");
        let ok = Command::new("cc")
            .args(["-O1", "-pthread", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(out)
    });
    if prog.is_none() {
        eprintln!("SKIP {test}: cannot compile a C program with `cc`");
    }
    prog.as_deref()
}

const C_PROGRAM: &str = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int durable(const char *dir) {
    char tmp[4096], target[4096];
    snprintf(tmp, sizeof tmp, "%s/.config.yaml.c0ffee.tmp", dir);
    snprintf(target, sizeof target, "%s/config.yaml", dir);
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return 1;
    if (fchmod(fd, 0640)) return 2;
    const char *data = "token: abc\n";
    if (write(fd, data, strlen(data)) != (ssize_t)strlen(data)) return 3;
    if (fsync(fd)) return 4;
    if (close(fd)) return 5;
    if (rename(tmp, target)) return 6;
    int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0 || fsync(d) || close(d)) return 7;
    return 0;
}

static void *thread_exec(void *script) {
    execl("/bin/sh", "sh", "-c", (const char *)script, (char *)NULL);
    return NULL;
}

static void *thread_write(void *path) {
    int fd = open((const char *)path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) { (void)write(fd, "x", 1); close(fd); }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3) return 64;
    if (!strcmp(argv[1], "durable")) return durable(argv[2]);
    if (!strcmp(argv[1], "getpid")) {
        long n = atol(argv[2]);
        for (long i = 0; i < n; i++) syscall(SYS_getpid);
        return 0;
    }
    if (!strcmp(argv[1], "devnull")) {
        long n = atol(argv[2]);
        int fd = open("/dev/null", O_WRONLY);
        for (long i = 0; i < n; i++) (void)write(fd, "x", 1);
        return 0;
    }
    if (!strcmp(argv[1], "thread")) {
        pthread_t t;
        pthread_create(&t, NULL, thread_write, argv[2]);
        pthread_join(t, NULL);
        return 0;
    }
    if (!strcmp(argv[1], "thread-exec")) {
        pthread_t t;
        pthread_create(&t, NULL, thread_exec, argv[2]);
        pthread_join(t, NULL);
        return 1;
    }
    if (!strcmp(argv[1], "uring")) {
        char params[120] = {0};
        long fd = syscall(425 /* io_uring_setup */, 1, params);
        if (fd >= 0) close(fd);
        int f = open(argv[2], O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (f >= 0) { (void)ftruncate(f, 4096); close(f); }
        return 0;
    }
    return 64;
}
"#;

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

#[test]
fn shell_redirect_and_mv_are_traced_across_cd_and_fork() {
    let test = "shell_redirect_and_mv_are_traced_across_cd_and_fork";
    if !permitted(test) {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    let r = run(
        sh(&format!(
            "cd {} && printf 'a: 1\\n' > target.tmp && mv target.tmp target",
            d.display()
        )),
        d,
    );
    assert!(r.status.success());
    let s = steps(&r.events, d);
    // dash: open, dup2 onto stdout (closing the open fd), printf, restore
    // stdout (dup2 closes the file); then mv, forked, renames.
    assert_eq!(
        s[..4],
        [
            "open(target.tmp, O_WRONLY|O_CREAT|O_TRUNC, 0666)",
            "close(target.tmp)",
            "write(target.tmp)",
            "close(target.tmp)",
        ],
        "{s:#?}"
    );
    assert_eq!(s.len(), 5, "{s:#?}");
    assert_eq!(s[4], "rename(target.tmp, target)");
    let fds: Vec<i32> = r
        .events
        .iter()
        .filter_map(|e| match e.call {
            Call::Write { fd, .. } | Call::Close { fd, .. } => Some(fd),
            _ => None,
        })
        .collect();
    assert_eq!(fds, [3, 1, 1], "the write went through the dup'd stdout");
    let write = &r.events[2];
    assert!(matches!(&write.call, Call::Write { data: Some(d), .. } if &d[..] == b"a: 1\n"));
    assert_eq!(write.result, 5);
    assert!(r.events[..4].iter().all(|e| e.tid == r.pid), "sh itself wrote");
    assert_ne!(r.events[4].tid, r.pid, "mv, a child, renamed");
    assert!(r.summary.processes >= 2, "{:?}", r.summary);
    assert!(
        r.summary.execs.iter().any(|e| e.ends_with("/mv")),
        "{:?}",
        r.summary.execs
    );
    assert!(r.events.windows(2).all(|w| w[0].start_ns <= w[1].start_ns));
    assert!(r.events.iter().all(|e| e.start_ns <= e.end_ns));
    assert_eq!(std::fs::read(d.join("target")).unwrap(), b"a: 1\n");
}

#[test]
fn python_write_fsync_replace() {
    let test = "python_write_fsync_replace";
    if !permitted(test) || !have("python3", test) {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    let mut cmd = Command::new("python3");
    cmd.args([
        "-I",
        "-c",
        "import os, sys\n\
         os.chdir(sys.argv[1])\n\
         with open('config.yaml.tmp', 'w') as f:\n\
         \x20   f.write('token: abc\\n')\n\
         \x20   f.flush()\n\
         \x20   os.fsync(f.fileno())\n\
         os.replace('config.yaml.tmp', 'config.yaml')\n",
    ])
    .arg(d);
    let r = run(cmd, d);
    assert!(r.status.success());
    assert_eq!(
        steps(&r.events, d),
        [
            "open(config.yaml.tmp, O_WRONLY|O_CREAT|O_TRUNC, 0666)",
            "write(config.yaml.tmp)",
            "fsync(config.yaml.tmp)",
            "close(config.yaml.tmp)",
            "rename(config.yaml.tmp, config.yaml)",
        ]
    );
    let Call::Open { flags, fd, .. } = r.events[0].call else {
        panic!()
    };
    assert!(flags & libc::O_CLOEXEC != 0 && fd >= 3);
    assert!(
        matches!(&r.events[1].call, Call::Write { data: Some(d), len: 11, fd: f, .. }
        if &d[..] == b"token: abc\n" && *f == fd)
    );
}

#[test]
fn node_sync_and_threadpool_writes() {
    let test = "node_sync_and_threadpool_writes";
    if !permitted(test) || !have("node", test) {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    let mut cmd = Command::new("node");
    cmd.args([
        "-e",
        "const fs = require('fs');\n\
         process.chdir(process.argv[1]);\n\
         fs.writeFileSync('settings.json.tmp', '{\"token\":\"abc\"}');\n\
         fs.renameSync('settings.json.tmp', 'settings.json');\n\
         fs.promises.writeFile('auth.json.tmp', '{\"token\":\"def\"}')\n\
         \x20 .then(() => fs.promises.rename('auth.json.tmp', 'auth.json'));\n",
    ])
    .arg(d);
    let r = run(cmd, d);
    assert!(r.status.success());
    let s = steps(&r.events, d);
    assert_eq!(
        s,
        [
            "open(settings.json.tmp, O_WRONLY|O_CREAT|O_TRUNC, 0666)",
            "write(settings.json.tmp)",
            "close(settings.json.tmp)",
            "rename(settings.json.tmp, settings.json)",
            "open(auth.json.tmp, O_WRONLY|O_CREAT|O_TRUNC, 0666)",
            "write(auth.json.tmp)",
            "close(auth.json.tmp)",
            "rename(auth.json.tmp, auth.json)",
        ]
    );
    assert!(
        r.events[..4].iter().all(|e| e.tid == r.pid),
        "sync calls on the main thread"
    );
    assert!(
        r.events[4..].iter().all(|e| e.tid != r.pid),
        "fs.promises runs on libuv's threadpool: its threads are followed"
    );
    assert!(r.summary.threads > r.summary.processes, "{:?}", r.summary);
}

#[test]
fn compiled_program_traces_like_the_builtin_strategy_records() {
    let test = "compiled_program_traces_like_the_builtin_strategy_records";
    if !permitted(test) {
        return;
    }
    let Some(prog) = cprog(test) else { return };
    let dir = tempdir();
    let d = dir.path();
    std::fs::write(d.join("config.yaml"), "old\n").unwrap();
    let mut cmd = Command::new(prog);
    cmd.arg("durable").arg(d);
    let r = run(cmd, d);
    assert_eq!(r.status.code(), Some(0));

    // The same write by the built-in strategy, recorded in-process.
    let rec = Recording::new(&spec(d));
    crate::strategy::build("rename-durable", &Default::default())
        .unwrap()
        .write_recorded(&d.join("config.yaml"), b"token: abc\n", &*rec)
        .unwrap();
    let name = |p: &Path| match p.strip_prefix(d) {
        Ok(r) if r.as_os_str().is_empty() => "dir".to_string(),
        Ok(r) if r == Path::new("config.yaml") => "target".into(),
        Ok(_) => "tmp".into(),
        Err(_) => p.display().to_string(),
    };
    let render = |ev: &[Event]| ev.iter().map(|e| brief(e, name)).collect::<Vec<_>>();
    let traced = render(&r.events);
    assert_eq!(traced, render(&rec.snapshot()));
    assert_eq!(traced.len(), 9, "{traced:#?}");
}

#[test]
fn a_grandchild_left_running_is_killed_and_nothing_is_left() {
    let test = "a_grandchild_left_running_is_killed_and_nothing_is_left";
    if !permitted(test) {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    let rec = Recording::new(&spec(d));
    let t = Traced::spawn(
        sh(&format!("sleep 30 & echo $! > {}/pid; exit 0", d.display())),
        rec.clone(),
    )
    .unwrap();
    let status = t.wait_timeout(Duration::from_secs(10)).expect("sh exits at once");
    assert!(status.success());
    let pid: i32 = std::fs::read_to_string(d.join("pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(t.is_running(), "the orphaned sleep is still traced");
    let t0 = Instant::now();
    drop(t);
    eprintln!("drop with a live grandchild took {:?}", t0.elapsed());
    assert_dead(pid);
}

/// `pid` is gone, or a zombie waiting for its new parent (never running or stopped).
fn assert_dead(pid: i32) {
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next().map(str::to_string))
        });
    assert!(
        matches!(state.as_deref(), None | Some("Z") | Some("X")),
        "process {pid} is in state {state:?}"
    );
}

#[test]
fn kill_mid_run_leaves_nothing_stopped_or_running() {
    let test = "kill_mid_run_leaves_nothing_stopped_or_running";
    if !permitted(test) {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    let rec = Recording::new(&spec(d));
    // Two writers: the shell and a child it forked into a new session.
    let script = format!(
        "cd {} && (setsid sh -c 'echo $$ > child; while :; do echo x > b; done' &) ; \
         echo $$ > root; while :; do echo y > a; done",
        d.display()
    );
    let t = Traced::spawn(sh(&script), rec.clone()).unwrap();
    let names = || -> std::collections::BTreeSet<String> {
        rec.snapshot()
            .iter()
            .filter_map(|e| e.call.paths().next().and_then(|p| p.file_name()))
            .map(|n| n.to_string_lossy().into_owned())
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !["a", "b", "root", "child"].iter().all(|n| names().contains(*n))
        || !["root", "child"]
            .iter()
            .all(|f| std::fs::read_to_string(d.join(f)).is_ok_and(|s| s.ends_with('\n')))
    {
        assert!(
            Instant::now() < deadline,
            "writers never got going: {:?}",
            names()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let pids: Vec<i32> = ["root", "child"]
        .iter()
        .map(|f| {
            std::fs::read_to_string(d.join(f))
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        })
        .collect();
    t.kill();
    assert!(!t.is_running());
    assert!(t.try_wait().is_some_and(|s| !s.success()));
    pids.into_iter().for_each(assert_dead);
    let events = rec.summary().events;
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(rec.summary().events, events, "nothing writes after the kill");
}

#[test]
fn the_ring_keeps_the_newest_events_and_counts_the_dropped() {
    let test = "the_ring_keeps_the_newest_events_and_counts_the_dropped";
    if !permitted(test) {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    let mut s = spec(d);
    s.ring_cap = 3;
    let rec = Recording::new(&s);
    let t = Traced::spawn(
        sh(&format!(
            "cd {} && for i in 1 2 3 4 5 6; do echo $i > f$i; done",
            d.display()
        )),
        rec.clone(),
    )
    .unwrap();
    assert!(t.wait().success());
    drop(t);
    let sum = rec.summary();
    assert_eq!(
        sum.events,
        6 * 4,
        "open, close, write, close per redirect: {sum:?}"
    );
    assert_eq!(sum.dropped, sum.events - 3);
    assert_eq!(
        steps(&rec.snapshot(), d),
        ["close(f6)", "write(f6)", "close(f6)"],
        "the newest three"
    );
}

#[test]
fn unrelated_syscalls_run_at_full_speed() {
    let test = "unrelated_syscalls_run_at_full_speed";
    if !permitted(test) {
        return;
    }
    let Some(prog) = cprog(test) else { return };
    let dir = tempdir();
    let time = |mode: &str, n: &str, traced: bool| {
        let mut cmd = Command::new(prog);
        cmd.args([mode, n]);
        let t0 = Instant::now();
        if traced {
            assert!(run(cmd, dir.path()).status.success());
        } else {
            assert!(cmd.status().unwrap().success());
        }
        t0.elapsed()
    };
    let plain = time("getpid", "1000000", false);
    let traced = time("getpid", "1000000", true);
    eprintln!(
        "1,000,000 getpid: untraced {plain:?}, traced {traced:?} ({:.2}x): not stopped by the filter",
        traced.as_secs_f64() / plain.as_secs_f64()
    );
    let plain = time("devnull", "20000", false);
    let traced = time("devnull", "20000", true);
    eprintln!(
        "20,000 writes to /dev/null: untraced {plain:?}, traced {traced:?} ({:.1} µs per stopped call)",
        (traced.as_secs_f64() - plain.as_secs_f64()) * 1e6 / 20_000.0
    );
}

#[test]
fn a_thread_of_a_compiled_program_is_followed() {
    let test = "a_thread_of_a_compiled_program_is_followed";
    if !permitted(test) {
        return;
    }
    let Some(prog) = cprog(test) else { return };
    let dir = tempdir();
    let d = dir.path();
    let mut cmd = Command::new(prog);
    cmd.arg("thread").arg(d.join("t"));
    let r = run(cmd, d);
    assert_eq!(
        steps(&r.events, d),
        ["open(t, O_WRONLY|O_CREAT|O_TRUNC, 0644)", "write(t)", "close(t)"]
    );
    assert!(r.events.iter().all(|e| e.tid != r.pid));
    assert_eq!((r.summary.processes, r.summary.threads), (1, 2));
}

#[test]
fn a_thread_that_execs_takes_the_leaders_id() {
    let test = "a_thread_that_execs_takes_the_leaders_id";
    if !permitted(test) {
        return;
    }
    let Some(prog) = cprog(test) else { return };
    let dir = tempdir();
    let d = dir.path();
    let mut cmd = Command::new(prog);
    cmd.arg("thread-exec")
        .arg(format!("echo x > {}/after-exec", d.display()));
    let r = run(cmd, d);
    assert!(
        r.status.success(),
        "sh, exec'd by the thread, exits 0: {:?}",
        r.status
    );
    assert_eq!(
        steps(&r.events, d)[..3],
        [
            "open(after-exec, O_WRONLY|O_CREAT|O_TRUNC, 0666)",
            "close(after-exec)",
            "write(after-exec)"
        ]
    );
    assert!(
        r.events.iter().all(|e| e.tid == r.pid),
        "after exec the thread has the leader's id"
    );
    assert!(
        r.summary
            .execs
            .iter()
            .any(|e| e.ends_with("sh") || e.ends_with("dash")),
        "{:?}",
        r.summary.execs
    );
}

#[test]
fn io_uring_and_shared_writable_mmap_are_noted_as_unseen() {
    let test = "io_uring_and_shared_writable_mmap_are_noted_as_unseen";
    if !permitted(test) || !have("python3", test) {
        return;
    }
    let Some(prog) = cprog(test) else { return };
    let dir = tempdir();
    let d = dir.path();
    let mut cmd = Command::new(prog);
    cmd.arg("uring").arg(d.join("m"));
    let r = run(cmd, d);
    assert!(
        r.summary.unseen.iter().any(|n| n.contains("io_uring")),
        "{:?}",
        r.summary.unseen
    );
    let mut cmd = Command::new("python3");
    cmd.args([
        "-I",
        "-c",
        "import mmap, sys\nf = open(sys.argv[1], 'r+b')\nm = mmap.mmap(f.fileno(), 0)\nm[0:1] = b'x'\n",
    ])
    .arg(d.join("m"));
    let r = run(cmd, d);
    assert!(r.status.success());
    let note = format!("mmap of {}", d.join("m").display());
    assert!(
        r.summary.unseen.iter().any(|n| n.starts_with(&note)),
        "{:?}",
        r.summary.unseen
    );
}

#[test]
fn a_group_stop_keeps_the_tracee_stopped_until_sigcont() {
    let test = "a_group_stop_keeps_the_tracee_stopped_until_sigcont";
    if !permitted(test) {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    let rec = Recording::new(&spec(d));
    let t = Traced::spawn(
        sh(&format!("kill -STOP $$; echo resumed > {}/after", d.display())),
        rec.clone(),
    )
    .unwrap();
    let pid = t.id() as i32;
    let state = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit(')')
                    .next()
                    .and_then(|r| r.split_whitespace().next().map(str::to_string))
            })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !matches!(state().as_deref(), Some("t" | "T")) {
        assert!(Instant::now() < deadline, "never stopped: {:?}", state());
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert!(matches!(state().as_deref(), Some("t" | "T")), "still stopped");
    assert!(rec.snapshot().is_empty() && t.try_wait().is_none());
    // SAFETY: signalling our own traced child.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    assert!(
        t.wait_timeout(Duration::from_secs(10))
            .is_some_and(|s| s.success())
    );
    assert_eq!(std::fs::read_to_string(d.join("after")).unwrap(), "resumed\n");
    assert_eq!(
        steps(&rec.snapshot(), d)[0],
        "open(after, O_WRONLY|O_CREAT|O_TRUNC, 0666)"
    );
}

#[test]
fn a_command_that_cannot_exec_is_a_start_error() {
    let test = "a_command_that_cannot_exec_is_a_start_error";
    if !permitted(test) {
        return;
    }
    let rec = Recording::new(&TraceSpec::new(vec![]));
    let e = Traced::spawn(Command::new("/nonexistent/torn-writer"), rec.clone()).unwrap_err();
    assert!(
        matches!(&e, TraceError::Start(io) if io.kind() == std::io::ErrorKind::NotFound),
        "{e:?}"
    );
    let e = Traced::spawn(Command::new("torn-no-such-program-on-path"), rec).unwrap_err();
    assert!(matches!(&e, TraceError::Start(_)), "{e:?}");
}

/// Run by `ptrace_refused_is_reported_as_not_permitted`, under strace.
#[test]
#[ignore = "runs under strace, started by ptrace_refused_is_reported_as_not_permitted"]
fn inner_spawn_under_strace_is_not_permitted() {
    let rec = Recording::new(&TraceSpec::new(vec![]));
    let e = Traced::spawn(Command::new("true"), rec).unwrap_err();
    assert!(matches!(e, TraceError::NotPermitted(_)), "{e:?}");
    assert!(e.untraceable());
    // A subject asked to trace runs untraced, and says so.
    use crate::subject::{ExternalSpec, Subject, WriterCtx, command::PerWriteCommand};
    let dir = tempdir();
    let ctx = WriterCtx {
        target: dir.path().join("t"),
        home: dir.path().to_path_buf(),
        log_dir: dir.path().to_path_buf(),
        index: 0,
    };
    let subject = PerWriteCommand(ExternalSpec {
        command: "printf %s {token} > {path}".into(),
        shell: true,
        timeout: Duration::from_secs(10),
    });
    let rec = Recording::new(&spec(dir.path()));
    let mut w = subject.start_traced(&ctx, rec.clone()).unwrap();
    w.write("tok", b"").unwrap();
    assert_eq!(std::fs::read(&ctx.target).unwrap(), b"tok");
    let summary = rec.summary();
    assert!(
        summary
            .untraced
            .as_deref()
            .is_some_and(|u| u.contains("not permitted")),
        "{summary:?}"
    );
    assert_eq!(summary.events, 0);
}

#[test]
fn ptrace_refused_is_reported_as_not_permitted() {
    let test = "ptrace_refused_is_reported_as_not_permitted";
    if !permitted(test) || !have("strace", test) {
        return;
    }
    // Under `strace -f` every child torn forks is already traced: our
    // PTRACE_SEIZE must fail with EPERM, cleanly.
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=none", "-o", "/dev/null"])
        .arg(exe)
        .args([
            "--exact",
            "trace::ptrace::tests::inner_spawn_under_strace_is_not_permitted",
            "--ignored",
            "--test-threads=1",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("1 passed"),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
