//! torn as a guest (issue 17): run as root beside users and writers it does
//! not trust, it trusts only directories it made, resolves every path from
//! a file under its root, caps every read and every knob, honours signals,
//! and keeps one run per directory. Each test plays the hostile user or the
//! hostile writer and checks the attempt was refused or contained: nothing
//! outside the scratch root changed, no byte of an outside file in any output.
//!
//! As root (CI), files a hostile user plants are owned by `nobody`; as an
//! ordinary user they are planted with the modes that make them untrusted.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const SECRET: &str = "SECRET-7d1e4c-root-only";

fn root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// `torn` with its temp dir (journals, scratch roots) in `tmp`.
fn torn_in(tmp: &Path) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin!("torn"));
    for (k, _) in std::env::vars() {
        if k.starts_with("TORN_") || k.starts_with("GITHUB_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("TMPDIR", tmp).stdin(Stdio::null());
    cmd
}

fn run(mut cmd: Command, limit: Duration) -> (i32, String, String) {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = done.clone();
    let watchdog = std::thread::spawn(move || {
        let start = Instant::now();
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            if start.elapsed() > limit {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    });
    let out: Output = child.wait_with_output().unwrap();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(!watchdog.join().unwrap(), "torn ran past {limit:?}");
    use std::os::unix::process::ExitStatusExt;
    let code = out
        .status
        .code()
        .unwrap_or_else(|| 128 + out.status.signal().unwrap());
    (
        code,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Makes `path` look planted by another user: owned by nobody as root,
/// else left to the caller's mode.
fn plant(path: &Path) {
    if root() {
        let nobody = nix::unistd::User::from_name("nobody")
            .unwrap()
            .expect("user nobody");
        std::os::unix::fs::lchown(path, Some(nobody.uid.as_raw()), Some(nobody.gid.as_raw())).unwrap();
    }
}

/// Every file under `dir` (not following links).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn no_secret_in(what: &str, text: &str) {
    assert!(!text.contains(SECRET), "the secret reached {what}: {text}");
}

/// Nothing a run could leave in `tmp`: no scratch root, no journal.
fn nothing_left(tmp: &Path) {
    let left: Vec<_> = std::fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            (n.starts_with("torn-") && !n.starts_with("torn-runs-"))
                || (n.starts_with("torn-runs-") && std::fs::read_dir(p).unwrap().next().is_some())
        })
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

// 1. A journal directory another user made is not trusted.

#[test]
fn a_planted_journal_directory_is_refused_and_nothing_in_it_is_undone() {
    let tmp = tempfile::tempdir().unwrap();
    let uid = nix::unistd::geteuid();
    let jdir = tmp.path().join(format!("torn-runs-{uid}"));
    std::fs::create_dir(&jdir).unwrap();
    std::fs::set_permissions(&jdir, std::fs::Permissions::from_mode(0o777)).unwrap();
    plant(&jdir);
    let victim_dir = tmp.path().join("victim-dir");
    std::fs::create_dir(&victim_dir).unwrap();
    std::fs::write(victim_dir.join("keep"), b"mine").unwrap();
    let victim_file = tmp.path().join("victim-file");
    std::fs::write(&victim_file, b"mine").unwrap();
    std::fs::set_permissions(&victim_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let lines = format!(
        "{{\"id\":1,\"entry\":{{\"kind\":\"dir\",\"path\":\"{}\"}}}}\n{{\"id\":2,\"entry\":{{\"kind\":\"mode\",\"path\":\"{}\",\"mode\":438}}}}\n",
        victim_dir.display(),
        victim_file.display()
    );
    std::fs::write(jdir.join("999999.jsonl"), &lines).unwrap();
    plant(&jdir.join("999999.jsonl"));
    // A symlink named as a journal, pointing at a file of the victim's.
    let appended = tmp.path().join("appended-to");
    std::fs::write(&appended, b"untouched").unwrap();
    for pid in 1..=64 {
        let _ = std::os::unix::fs::symlink(&appended, jdir.join(format!("{}.jsonl", 400000 + pid)));
    }

    let mut dry = torn_in(tmp.path());
    dry.args(["clean", "--dry-run"]);
    let (_, _, err) = run(dry, Duration::from_secs(30));
    assert!(!err.contains("would undo"), "planted entries are listed: {err}");
    assert!(err.contains("not trusted"), "{err}");
    let mut clean = torn_in(tmp.path());
    clean.arg("clean");
    let (_, _, err) = run(clean, Duration::from_secs(30));
    assert!(err.contains(&format!("{}", jdir.display())), "{err}");
    assert!(
        victim_dir.join("keep").exists(),
        "torn clean removed a planted directory"
    );
    assert_eq!(std::fs::metadata(&victim_file).unwrap().mode() & 0o777, 0o600);

    // A run refuses to journal there, saying where and why; nothing appended.
    let mut gate = torn_in(tmp.path());
    gate.args(["repro", "hermes", "--duration", "50ms", "--no-report"]);
    let (code, _, err) = run(gate, Duration::from_secs(60));
    assert_ne!(code, 0, "{err}");
    assert!(
        err.contains("mode 0777, not 0700") || err.contains("owned by uid"),
        "{err}"
    );
    assert_eq!(std::fs::read(&appended).unwrap(), b"untouched");
}

#[test]
fn clean_undoes_only_inside_verified_scratch_roots_and_skips_others_dirs() {
    let tmp = tempfile::tempdir().unwrap();
    let uid = nix::unistd::geteuid();
    // torn's own journal directory, with an entry naming a path outside
    // any scratch root (as a stale or tampered journal would).
    let jdir = tmp.path().join(format!("torn-runs-{uid}"));
    std::fs::create_dir(&jdir).unwrap();
    std::fs::set_permissions(&jdir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let victim = tmp.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(
        jdir.join("999998.jsonl"),
        format!(
            "{{\"id\":1,\"entry\":{{\"kind\":\"dir\",\"path\":\"{}\"}}}}\n",
            victim.display()
        ),
    )
    .unwrap();
    // Another user's scratch-looking directory, with a marker naming a dead run.
    let theirs = tmp.path().join("torn-theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::write(theirs.join(".torn-scratch"), b"999997").unwrap();
    std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o777)).unwrap();
    plant(&theirs);
    let mut clean = torn_in(tmp.path());
    clean.arg("clean");
    let (_, _, err) = run(clean, Duration::from_secs(30));
    assert!(err.contains("refused to undo"), "{err}");
    assert!(
        victim.exists(),
        "an entry outside a scratch root was undone: {err}"
    );
    assert!(
        theirs.join(".torn-scratch").exists(),
        "another user's directory was removed: {err}"
    );
    assert!(
        !err.contains("torn-theirs"),
        "another user's directory is listed: {err}"
    );
}

// 2. A trace's paths never lead out of the state directory.

fn trace_file(dir: &Path, target: &str, events: &[serde_json::Value]) -> PathBuf {
    let p = dir.join("trace.json");
    let doc = serde_json::json!({ "target": target, "events": events });
    std::fs::write(&p, serde_json::to_vec(&doc).unwrap()).unwrap();
    p
}

fn ev(i: u64, result: i64, call: serde_json::Value) -> serde_json::Value {
    serde_json::json!({ "start_ns": i * 100, "end_ns": i * 100 + 50, "tid": 1, "result": result, "call": call })
}

#[test]
fn crash_trace_paths_with_dotdot_or_links_out_are_refused_or_contained() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let secret = tmp.path().join("shadow");
    std::fs::write(&secret, format!("api_key: {SECRET}\n")).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let escape = format!("/h/.hermes/../../..{}/pwned", outside.display());
    let data = hex(b"pwned\n");
    let dotdot = trace_file(
        tmp.path(),
        "/h/.hermes/config.yaml",
        &[
            ev(
                1,
                3,
                serde_json::json!({"call": "open", "path": escape, "flags": 0o101, "mode": 0o644, "fd": 3}),
            ),
            ev(
                2,
                6,
                serde_json::json!({"call": "write", "path": escape, "fd": 3, "offset": null, "len": 6, "data": data}),
            ),
        ],
    );
    let mut crash = torn_in(tmp.path());
    crash.args(["crash", "--no-report", "--trace"]).arg(&dotdot);
    let (code, _, err) = run(crash, Duration::from_secs(60));
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("not an absolute path of plain names"), "{err}");
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "a file was made outside"
    );

    // A symlinked directory in the state, written through; and the target a
    // link to a root-only file.
    let links = trace_file(
        tmp.path(),
        "/h/d/config.yaml",
        &[
            ev(
                1,
                0,
                serde_json::json!({"call": "symlink", "target": outside, "to": "/h/d/out"}),
            ),
            ev(
                2,
                3,
                serde_json::json!({"call": "open", "path": "/h/d/out/pwned", "flags": 0o101, "mode": 0o644, "fd": 3}),
            ),
            ev(
                3,
                6,
                serde_json::json!({"call": "write", "path": "/h/d/out/pwned", "fd": 3, "offset": null, "len": 6, "data": data}),
            ),
            ev(
                4,
                0,
                serde_json::json!({"call": "unlink", "path": "/h/d/config.yaml"}),
            ),
            ev(
                5,
                0,
                serde_json::json!({"call": "symlink", "target": secret, "to": "/h/d/config.yaml"}),
            ),
        ],
    );
    let mut crash = torn_in(tmp.path());
    crash
        .args(["--json", "crash", "--no-report", "--trace"])
        .arg(&links);
    let (code, out, err) = run(crash, Duration::from_secs(120));
    assert_ne!(code, 0, "{err}");
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "a file was made outside: {err}"
    );
    no_secret_in("stdout", &out);
    no_secret_in("stderr", &err);
    nothing_left(tmp.path());
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

// 3. Bounded memory and time.

#[test]
fn fifos_devices_and_huge_offsets_are_refused_quickly() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o666)).unwrap();
    let f = fifo.to_str().unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec!["run", f, "--no-report"],
        vec![
            "gate",
            "--format",
            "yaml",
            "--template",
            f,
            "--client-key",
            "a",
            "--strategy",
            "rename-durable",
            "--no-report",
        ],
        vec![
            "gate",
            "--format",
            "yaml",
            "--seed-file",
            f,
            "--strategy",
            "rename-durable",
            "--no-report",
        ],
        vec!["merge", f],
        vec!["crash", "--no-report", "--trace", f],
        vec!["crash", "--no-report", "--trace", "/dev/zero"],
    ];
    for args in cases {
        let mut cmd = torn_in(tmp.path());
        cmd.args(&args);
        let (code, _, err) = run(cmd, Duration::from_secs(30));
        assert_ne!(code, 0, "{args:?}: {err}");
        assert!(err.contains("not a regular file"), "{args:?}: {err}");
    }
    // A write at offset 2^62, a truncate to 2^40: errors, not an abort.
    for call in [
        serde_json::json!({"call": "write", "path": "/h/d/config.yaml", "fd": 3, "offset": 1u64 << 62, "len": 1, "data": "41"}),
        serde_json::json!({"call": "truncate", "path": "/h/d/config.yaml", "len": 1u64 << 40}),
    ] {
        let t = trace_file(
            tmp.path(),
            "/h/d/config.yaml",
            &[
                ev(
                    1,
                    3,
                    serde_json::json!({"call": "open", "path": "/h/d/config.yaml", "flags": 0o1, "mode": 0, "fd": 3}),
                ),
                ev(2, 1, call),
            ],
        );
        let mut crash = torn_in(tmp.path());
        crash.args(["crash", "--no-report", "--trace"]).arg(&t);
        let (code, _, err) = run(crash, Duration::from_secs(60));
        assert_eq!(code, 64, "{err}");
        assert!(err.contains("crash states hold files of at most"), "{err}");
    }
    // More events than torn explores.
    let many: Vec<_> = (0..100_001)
        .map(|i| {
            ev(
                i,
                0,
                serde_json::json!({"call": "fsync", "path": "/h/d", "data_only": false}),
            )
        })
        .collect();
    let t = trace_file(tmp.path(), "/h/d/config.yaml", &many);
    let mut crash = torn_in(tmp.path());
    crash.args(["crash", "--no-report", "--trace"]).arg(&t);
    let (code, _, err) = run(crash, Duration::from_secs(60));
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("at most 100000"), "{err}");
    nothing_left(tmp.path());
}

#[test]
fn perturb_and_kill_trials_are_capped_where_set() {
    let tmp = tempfile::tempdir().unwrap();
    for (flag, value, needle) in [
        (
            "--perturb",
            "999999h",
            "holds of 999999h: torn holds a writer at most 100ms",
        ),
        (
            "--kill-trials",
            "999999",
            "--kill-trials: 999999 trials: torn runs at most 1000",
        ),
    ] {
        let mut gate = torn_in(tmp.path());
        gate.args([
            "gate",
            "--format",
            "yaml",
            "--strategy",
            "rename-durable",
            "--budget",
            "1s",
            "--no-report",
        ])
        .args([flag, value]);
        let (code, _, err) = run(gate, Duration::from_secs(30));
        assert_eq!(code, 64, "{err}");
        assert!(err.contains(needle), "{err}");
    }
}

/// A line-protocol writer that leaves a 10 GB sparse 0644 file next to the
/// target, then rotates the token like examples/writers/durable.py.
const SPARSE_WRITER: &str = r#"
import os, sys
sys.path.insert(0, sys.argv[2])
from durable import update
path = sys.argv[1]
big = os.path.join(os.path.dirname(path), "big.bin")
with open(big, "wb") as f:
    f.truncate(10 * 1024**3)
os.chmod(big, 0o644)
for line in sys.stdin:
    update(path, line.strip())
    print("ok", flush=True)
"#;

#[test]
fn a_ten_gigabyte_sparse_file_next_to_the_target_costs_no_memory_or_time() {
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path().join("sparse.py");
    std::fs::write(&w, SPARSE_WRITER).unwrap();
    let writers = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/writers");
    let budget = 3;
    let mut gate = torn_in(tmp.path());
    gate.args(["gate", "--format", "yaml", "--control", "200ms", "--no-report"])
        .args([
            "--budget",
            &format!("{budget}s"),
            "--min-windows",
            "100000000",
            "--proof",
            "windows",
        ])
        .arg("--writer-stdio")
        .arg(format!("python3 {} {{path}} {writers}", w.display()));
    gate.stdout(Stdio::null()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = gate.spawn().unwrap();
    // The peak resident set (VmHWM) of torn's supervisor and worker, sampled
    // until they end (before the cap, the worker grew past 4 GB).
    let pid = child.id();
    let mut max_kb = 0u64;
    let status = loop {
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        for p in std::iter::once(pid.to_string()).chain(children.split_whitespace().map(str::to_string)) {
            let status = std::fs::read_to_string(format!("/proc/{p}/status")).unwrap_or_default();
            if let Some(kb) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                max_kb = max_kb.max(kb);
            }
        }
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        // Budget + control + start-up, and generous slack for a shared machine.
        if start.elapsed() > Duration::from_secs(budget + 60) {
            let _ = child.kill();
            panic!("torn ran past its budget + 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let took = start.elapsed();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    let code = status.code().unwrap_or(-1);
    assert!([1, 2].contains(&code), "{code}: {err}");
    assert!(
        err.contains("big.bin"),
        "the sparse file is reported as left behind: {err}"
    );
    let max_rss_mb = max_kb / 1024;
    eprintln!("sparse-file gate: {took:?}, peak RSS of torn {max_rss_mb} MB");
    assert!(max_rss_mb < 100, "max RSS {max_rss_mb} MB");
    assert!(took < Duration::from_secs(budget + 30), "took {took:?}");
}

// 4. What the file is, not what its descriptor's path says.

#[test]
fn a_hard_link_to_an_outside_file_is_foreign_and_never_copied() {
    let tmp = tempfile::tempdir().unwrap();
    let secret = tmp.path().join("root-only");
    std::fs::write(&secret, format!("model:\n  api_key: {SECRET}\n")).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let reports = tmp.path().join("reports");
    let mut gate = torn_in(tmp.path());
    gate.args([
        "gate",
        "--format",
        "yaml",
        "--control",
        "200ms",
        "--budget",
        "3s",
        "--shell",
    ])
    .arg("--writer-cmd")
    .arg(format!("ln -f {} {{path}}", secret.display()))
    .arg("--reports-dir")
    .arg(&reports);
    let (code, out, err) = run(gate, Duration::from_secs(90));
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("foreign"), "{err}");
    no_secret_in("stdout", &out);
    no_secret_in("stderr", &err);
    let files = walk(&reports);
    assert!(!files.is_empty(), "reports were written");
    for f in files {
        no_secret_in(
            &f.display().to_string(),
            &String::from_utf8_lossy(&std::fs::read(&f).unwrap()),
        );
    }
}

#[test]
fn a_directory_in_the_targets_place_is_an_error_not_foreign() {
    let tmp = tempfile::tempdir().unwrap();
    let mut gate = torn_in(tmp.path());
    gate.args([
        "--json",
        "gate",
        "--format",
        "yaml",
        "--control",
        "200ms",
        "--budget",
        "2s",
        "--shell",
    ])
    .args(["--no-report", "--writer-cmd", "rm -f {path} && mkdir -p {path}"]);
    let (_, out, err) = run(gate, Duration::from_secs(60));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    let subject = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["role"] == "subject" || c["label"].as_str().is_some_and(|l| l.contains("rm -f")))
        .unwrap_or_else(|| panic!("no subject case: {out}"));
    let count = |name: &str| {
        subject["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["outcome"] == name)
            .map_or(0, |o| o["estimate"]["count"].as_u64().unwrap_or(0))
    };
    // The first write already leaves a directory: learning the writer's
    // shape reads it back and fails with EISDIR (a subject error); reads,
    // if any, are errors. Never foreign.
    let reason = subject["reason"].as_str().unwrap_or_default();
    assert!(
        count("error") > 0 || reason.contains("Is a directory"),
        "{subject}"
    );
    assert_eq!(count("foreign"), 0, "{subject}");
    assert!(
        !reason.contains("foreign") && !reason.contains("outside"),
        "{subject}"
    );
}

// 6. Signals.

#[test]
fn one_signal_to_the_process_group_counts_once() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("reports");
    let mut cmd = torn_in(tmp.path());
    cmd.args([
        "gate",
        "--format",
        "yaml",
        "--strategy",
        "rename-durable",
        "--control",
        "200ms",
    ])
    .args(["--budget", "60s", "--min-exposed", "1000000000", "--reports-dir"])
    .arg(&reports)
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .process_group(0);
    let child = cmd.spawn().unwrap();
    let pgid = Pid::from_raw(child.id() as i32);
    std::thread::sleep(Duration::from_millis(2500));
    nix::sys::signal::killpg(pgid, Signal::SIGTERM).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    // The first signal's path: the run stops, says so and writes its
    // partial report; a second would have exited at once without it.
    assert!(err.contains("interrupted"), "{err}");
    assert!(walk(&reports).iter().any(|p| p.ends_with("report.json")), "{err}");
    nothing_left(tmp.path());
}

/// A line-protocol writer that takes `delay` seconds per write, and exits
/// (as if killed) after `writes` writes when `writes` > 0.
fn slow_writer(dir: &Path, delay: f64, writes: u32) -> PathBuf {
    let p = dir.join(format!("slow-{writes}.py"));
    std::fs::write(
        &p,
        format!(
            "import os, sys, time\nsys.path.insert(0, {:?})\nfrom durable import update\nn = 0\n\
             for line in sys.stdin:\n    n += 1\n    if {writes} and n > {writes}: os._exit(9)\n    \
             time.sleep({delay})\n    update(sys.argv[1], line.strip())\n    print('ok', flush=True)\n",
            concat!(env!("CARGO_MANIFEST_DIR"), "/examples/writers")
        ),
    )
    .unwrap();
    p
}

#[test]
fn torn_crash_is_supervised_stops_on_sigterm_and_blames_a_dying_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let w = slow_writer(tmp.path(), 0.6, 0);
    let mut cmd = torn_in(tmp.path());
    cmd.args(["crash", "--no-report", "--writes", "50", "--writer-stdio"])
        .arg(format!("python3 {} {{path}}", w.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let sent = Instant::now();
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        sent.elapsed() < Duration::from_secs(20),
        "took {:?}",
        sent.elapsed()
    );
    nothing_left(tmp.path());

    // A writer that dies mid-recording is the subject's error (3), not I/O.
    let w = slow_writer(tmp.path(), 0.0, 4);
    let mut cmd = torn_in(tmp.path());
    cmd.args(["crash", "--no-report", "--writes", "5", "--writer-stdio"])
        .arg(format!("python3 {} {{path}}", w.display()));
    let (code, _, err) = run(cmd, Duration::from_secs(60));
    assert_eq!(code, 3, "{err}");
    nothing_left(tmp.path());
}

// 7. One run per directory.

#[test]
fn a_second_run_on_a_live_runs_dir_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shared");
    let mut first = torn_in(tmp.path());
    first
        .args(["repro", "hermes", "--duration", "3s", "--no-report", "--dir"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let first = first.spawn().unwrap();
    let start = Instant::now();
    while !dir.join(".torn-scratch").exists() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let mut second = torn_in(tmp.path());
    second
        .args(["repro", "hermes", "--duration", "50ms", "--no-report", "--dir"])
        .arg(&dir);
    let (code, _, err) = run(second, Duration::from_secs(30));
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("in use by torn run"), "{err}");
    let out = first.wait_with_output().unwrap();
    let ferr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code().is_some_and(|c| c <= 2),
        "the first run was disturbed: {ferr}"
    );
    assert!(!ferr.contains("missing"), "{ferr}");
    // A marker left by a run that is gone does not block the next.
    std::fs::write(dir.join(".torn-scratch"), b"999999").unwrap();
    let mut third = torn_in(tmp.path());
    third
        .args(["repro", "hermes", "--duration", "50ms", "--no-report", "--dir"])
        .arg(&dir);
    let (code, _, err) = run(third, Duration::from_secs(60));
    assert!(code <= 2, "{err}");
}

#[test]
fn a_matrix_scratch_dir_is_undone_after_a_double_signal() {
    let tmp = tempfile::tempdir().unwrap();
    let fs = tmp.path().join("fs");
    std::fs::create_dir(&fs).unwrap();
    let mut cmd = torn_in(tmp.path());
    cmd.args(["matrix", "hermes", "--duration", "20s", "--no-report", "--fs"])
        .arg(format!("a={}", fs.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let start = Instant::now();
    while !fs.join("torn/.torn-scratch").exists() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    let pid = Pid::from_raw(child.id() as i32);
    kill(pid, Signal::SIGINT).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    kill(pid, Signal::SIGINT).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    let mut clean = torn_in(tmp.path());
    clean.arg("clean");
    let (_, _, cerr) = run(clean, Duration::from_secs(30));
    assert!(
        !fs.join("torn").exists(),
        "the matrix scratch dir was left: {err}\n{cerr}"
    );
    nothing_left(tmp.path());
}
