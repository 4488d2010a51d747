//! torn leaves nothing behind — no process, scratch file or fault — when a
//! run ends, is interrupted (SIGINT, SIGTERM, SIGHUP, twice), or is killed
//! (SIGKILL of torn, of its worker, of both: then `torn clean`).
//!
//! Each test runs torn with its own TMPDIR, so scratch directories and
//! journals are the test's alone, and a writer from `tests/writers/hostile.py`
//! that leaves a `setsid` grandchild and/or ignores EOF and signals.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const HOSTILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/writers/hostile.py");

/// Command lines of the processes whose command line holds `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if e.file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
            .is_none()
        {
            continue;
        }
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(marker) && !cmd.contains("lifecycle-") {
                found.push(cmd);
            }
        }
    }
    found
}

/// What torn left in a TMPDIR: anything but the (empty) journal directory.
fn leftovers(tmp: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(tmp).unwrap().flatten() {
        let p = e.path();
        if e.file_name().to_string_lossy().starts_with("torn-runs-") {
            out.extend(std::fs::read_dir(&p).unwrap().flatten().map(|j| j.path()));
        } else {
            out.push(p);
        }
    }
    out
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Run {
    child: Child,
    tmp: tempfile::TempDir,
    reports: tempfile::TempDir,
    marker: String,
}

impl Run {
    /// A gate on the hostile writer that would run for a minute.
    fn start(name: &str, flags: &str, extra: &[&str]) -> Run {
        let tmp = tempfile::tempdir().unwrap();
        let reports = tempfile::tempdir().unwrap();
        let marker = format!("torn-test-{name}-{}", std::process::id());
        let writer = format!("python3 {HOSTILE} {{path}} {marker} {flags}");
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin!("torn"));
        cmd.args(["gate", "--format", "yaml", "--writer-stdio", &writer])
            .args([
                "--control",
                "200ms",
                "--budget",
                "60s",
                "--min-exposed",
                "1000000000",
            ])
            .arg("--reports-dir")
            .arg(reports.path())
            .args(extra)
            .env("TMPDIR", tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, _) in std::env::vars() {
            if k.starts_with("TORN_") || k.starts_with("GITHUB_") {
                cmd.env_remove(k);
            }
        }
        let child = cmd.spawn().unwrap();
        let run = Run {
            child,
            tmp,
            reports,
            marker,
        };
        // The subject's writer is up once its processes exist.
        wait_until("the writer to start", Duration::from_secs(20), || {
            !processes_with(&run.marker).is_empty()
        });
        std::thread::sleep(Duration::from_millis(300));
        run
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    /// The worker: the supervisor's only child.
    fn worker(&self) -> Pid {
        let p = self.child.id();
        let children = std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")).unwrap();
        let first = children
            .split_whitespace()
            .next()
            .expect("the supervisor has a worker");
        Pid::from_raw(first.parse().unwrap())
    }

    fn wait(mut self) -> (i32, String, Self) {
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        use std::io::Read;
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        use std::os::unix::process::ExitStatusExt;
        let code = status.code().unwrap_or_else(|| 128 + status.signal().unwrap());
        (code, err, self)
    }

    fn assert_nothing_left(&self) {
        wait_until("the writer's processes to end", Duration::from_secs(10), || {
            processes_with(&self.marker).is_empty()
        });
        wait_until("the scratch directory to go", Duration::from_secs(10), || {
            leftovers(self.tmp.path()).is_empty()
        });
    }

    fn report_json(&self) -> Option<PathBuf> {
        std::fs::read_dir(self.reports.path())
            .unwrap()
            .flatten()
            .map(|e| e.path().join("report.json"))
            .find(|p| p.exists())
    }
}

#[test]
fn a_setsid_grandchild_does_not_survive_a_finished_gate() {
    let tmp = tempfile::tempdir().unwrap();
    let marker = format!("torn-test-finished-{}", std::process::id());
    let writer = format!("python3 {HOSTILE} {{path}} {marker} --daemon");
    common::torn()
        .args([
            "gate",
            "--format",
            "yaml",
            "--writer-stdio",
            &writer,
            "--no-report",
        ])
        .args(["--control", "200ms", "--budget", "1s"])
        .env("TMPDIR", tmp.path())
        .assert()
        .code(predicates::ord::ne(3));
    assert!(
        processes_with(&marker).is_empty(),
        "left: {:?}",
        processes_with(&marker)
    );
    assert!(
        leftovers(tmp.path()).is_empty(),
        "left: {:?}",
        leftovers(tmp.path())
    );
}

#[test]
fn sigterm_and_sighup_clean_up_and_keep_the_partial_report() {
    for sig in [Signal::SIGTERM, Signal::SIGHUP] {
        let run = Run::start(&format!("{sig:?}"), "--daemon", &[]);
        kill(run.pid(), sig).unwrap();
        let (code, err, run) = run.wait();
        assert_eq!(code, 130, "{sig:?}: {err}");
        assert!(err.contains("interrupted"), "{err}");
        assert!(run.report_json().is_some(), "{sig:?} keeps the partial report");
        run.assert_nothing_left();
    }
}

#[test]
fn a_second_sigint_still_removes_the_writer_and_the_scratch() {
    let run = Run::start("double-int", "--daemon --ignore-eof", &[]);
    kill(run.pid(), Signal::SIGINT).unwrap();
    std::thread::sleep(Duration::from_millis(30));
    kill(run.pid(), Signal::SIGINT).unwrap();
    let (code, err, run) = run.wait();
    assert_eq!(code, 130, "{err}");
    run.assert_nothing_left();
}

#[test]
fn sigkill_of_torn_leaves_no_writer_that_ignores_eof() {
    let run = Run::start("kill-torn", "--daemon --ignore-eof", &[]);
    let worker = run.worker();
    kill(run.pid(), Signal::SIGKILL).unwrap();
    let (code, _, run) = run.wait();
    assert_eq!(code, 137);
    // The worker gets SIGTERM as its parent dies, and cleans up itself.
    wait_until("the worker to end", Duration::from_secs(15), || {
        !torn::guard::clean::alive(worker.as_raw() as u32)
    });
    run.assert_nothing_left();
}

#[test]
fn sigkill_of_the_worker_is_cleaned_up_by_the_supervisor() {
    let run = Run::start("kill-worker", "--daemon --ignore-eof", &[]);
    kill(run.worker(), Signal::SIGKILL).unwrap();
    let (code, err, run) = run.wait();
    assert_eq!(code, 137, "{err}");
    assert!(err.contains("cleaned up after the run"), "{err}");
    run.assert_nothing_left();
}

#[test]
fn torn_clean_removes_what_a_run_killed_whole_left() {
    let root = nix::unistd::Uid::effective().is_root();
    // As root the read-only fault is `chattr +i`: the case a plain `rm -rf` cannot undo.
    let fault: &[&str] = if root {
        &["--fault", "read-only-dir", "--fault-after", "1ms"]
    } else {
        eprintln!("not root: the immutable-directory part of this test is skipped (CI runs it as root)");
        &[]
    };
    let run = Run::start("kill-both", "--ignore-eof", fault);
    let worker = run.worker();
    let immutable = |tmp: &std::path::Path| {
        let attrs = Command::new("sh")
            .arg("-c")
            .arg("lsattr -d $TMPDIR/torn-*/01-*/home/.hermes 2>/dev/null")
            .env("TMPDIR", tmp)
            .output()
            .unwrap();
        let attrs = String::from_utf8_lossy(&attrs.stdout).to_string();
        (attrs.split_whitespace().next().unwrap_or("").contains('i'), attrs)
    };
    if root {
        // The fault starts with the run, after the writer's warm-up writes
        // (which learn its shape, a second or more).
        wait_until("the fault to be in place", Duration::from_secs(15), || {
            immutable(run.tmp.path()).0
        });
    }
    kill(run.pid(), Signal::SIGKILL).unwrap();
    kill(worker, Signal::SIGKILL).unwrap();
    let (_, _, run) = run.wait();
    wait_until("the worker to be gone", Duration::from_secs(5), || {
        !torn::guard::clean::alive(worker.as_raw() as u32)
    });
    assert!(
        !leftovers(run.tmp.path()).is_empty(),
        "a run killed whole leaves its journal and scratch"
    );
    if root {
        let (is, attrs) = immutable(run.tmp.path());
        assert!(is, "immutable: {attrs}");
    }
    // The next run says so.
    common::torn()
        .args(["repro", "hermes", "--duration", "10ms", "--no-report"])
        .env("TMPDIR", run.tmp.path())
        .assert()
        .stderr(predicates::str::contains("leftover(s) of runs that were killed"));
    common::torn()
        .arg("clean")
        .env("TMPDIR", run.tmp.path())
        .assert()
        .success()
        .stderr(predicates::str::contains("undone: directory"));
    run.assert_nothing_left();
}
