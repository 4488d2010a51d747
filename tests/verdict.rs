//! One verdict, told the same everywhere: for each way a gate can come out,
//! the exit code, report.json (stdout and on disk), the terminal table's
//! status column, JUnit and the GitHub annotation and step summary agree.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

fn example(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/writers")
        .join(name);
    format!("python3 {} {{path}}", p.display())
}

/// Every output of one gate run.
struct Outputs {
    code: i32,
    /// `--json` on stdout.
    json: Value,
    /// report.json as written in the reports dir.
    on_disk: Value,
    stderr: String,
    junit: String,
    summary: String,
    /// report.md as written.
    markdown: String,
}

/// The gate's flags every run here shares: a short control, a small
/// target (a test suite on a loaded machine, not CI), and every output.
fn gate_args(dir: &Path) -> Vec<String> {
    [
        "gate",
        "--format",
        "yaml",
        "--control",
        "400ms",
        "--min-windows",
        "30",
        "--json",
        "--junit",
        dir.join("torn.xml").to_str().unwrap(),
        "--reports-dir",
        dir.join("reports").to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec()
}

fn github(cmd: &mut std::process::Command, dir: &Path) {
    cmd.env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", dir.join("summary.md"))
        // A table wide enough that no status is wrapped away from its row.
        .env("COLUMNS", "300");
}

fn collect(dir: &Path, code: i32, stdout: &[u8], stderr: &[u8]) -> Outputs {
    let stderr = String::from_utf8_lossy(stderr).to_string();
    let json: Value =
        serde_json::from_slice(stdout).unwrap_or_else(|e| panic!("--json is JSON ({e}); stderr:\n{stderr}"));
    let reports: Vec<_> = std::fs::read_dir(dir.join("reports"))
        .expect("a reports dir")
        .flatten()
        .collect();
    assert_eq!(reports.len(), 1, "one report dir");
    let on_disk: Value =
        serde_json::from_slice(&std::fs::read(reports[0].path().join("report.json")).unwrap()).unwrap();
    Outputs {
        code,
        json,
        on_disk,
        stderr,
        junit: std::fs::read_to_string(dir.join("torn.xml")).expect("the JUnit file is written"),
        summary: std::fs::read_to_string(dir.join("summary.md")).unwrap_or_default(),
        markdown: std::fs::read_to_string(reports[0].path().join("report.md")).unwrap(),
    }
}

fn gate(extra: &[&str]) -> Outputs {
    let dir = tempfile::tempdir().unwrap();
    let mut std_cmd = common::torn_process();
    std_cmd.args(gate_args(dir.path())).args(extra);
    github(&mut std_cmd, dir.path());
    let out = std_cmd.output().unwrap();
    let o = collect(
        dir.path(),
        out.status.code().unwrap_or(-1),
        &out.stdout,
        &out.stderr,
    );
    agree(&o);
    o
}

/// The JUnit status of a test case: `None` (success), `failure` or `error`,
/// with its type.
fn junit_cases(xml: &str) -> Vec<(String, Option<(String, String)>)> {
    let doc = roxmltree::Document::parse(xml).expect("JUnit is XML");
    doc.descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|n| {
            let bad = n
                .children()
                .find(|c| c.has_tag_name("failure") || c.has_tag_name("error"))
                .map(|c| {
                    (
                        c.tag_name().name().to_string(),
                        c.attribute("type").unwrap_or_default().to_string(),
                    )
                });
            (n.attribute("name").unwrap_or_default().to_string(), bad)
        })
        .collect()
}

/// The checks every run must pass, whatever its verdict.
fn agree(o: &Outputs) {
    let ctx = format!("stderr:\n{}", o.stderr);
    let verdict = &o.json["verdict"];
    let status = verdict["status"].as_str().unwrap();
    // The exit code is the verdict's.
    assert_eq!(o.code as i64, verdict["exit_code"].as_i64().unwrap(), "{ctx}");
    // report.json on disk is the report on stdout: the final write, not a
    // partial one.
    assert_eq!(o.on_disk["verdict"], o.json["verdict"], "{ctx}");
    assert_eq!(
        o.on_disk["cases"].as_array().unwrap().len(),
        o.json["cases"].as_array().unwrap().len()
    );
    // The last line names the same status and exit code.
    assert!(
        o.stderr.contains(&format!("verdict: {status} (exit {})", o.code)),
        "{ctx}"
    );
    let junit = junit_cases(&o.junit);
    let cases = o.json["cases"].as_array().unwrap();
    for (i, c) in cases.iter().enumerate() {
        let label = c["label"].as_str().unwrap();
        let cs = c["status"].as_str().unwrap();
        assert_eq!(o.on_disk["cases"][i]["status"], c["status"], "{label}");
        // The table's row for the case shows its status.
        let table = o
            .stderr
            .rsplit_once("\nstrategy ")
            .map(|(_, t)| t.split("\n\n").next().unwrap_or_default())
            .unwrap_or_else(|| panic!("no table; {ctx}"));
        let row = table
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no table row for {label}; {ctx}"));
        let cell = row.split_whitespace().rev().find(|w| {
            [
                "pass",
                "fail",
                "reproduced",
                "expected",
                "inconclusive",
                "info",
                "subject-error",
                "interrupted",
                "pending",
            ]
            .iter()
            .any(|s| w.trim_end_matches(':') == *s)
        });
        assert_eq!(cell.map(|w| w.trim_end_matches(':')), Some(cs), "row {row:?}");
        // JUnit: a failure or error exactly when the case did not come out
        // as it should.
        let (_, bad) = junit
            .iter()
            .find(|(n, _)| n == label)
            .unwrap_or_else(|| panic!("no JUnit case {label}"));
        let ok = matches!(cs, "pass" | "reproduced" | "expected" | "info");
        assert_eq!(bad.is_none(), ok, "{label}: {cs} vs JUnit {bad:?}");
    }
    // The run's verdict in JUnit fails exactly when the exit code does.
    let (_, run) = junit
        .iter()
        .find(|(n, _)| n == "verdict")
        .expect("a verdict case");
    assert_eq!(
        run.is_none(),
        o.code == 0,
        "JUnit verdict {run:?} vs exit {}",
        o.code
    );
    if let Some((_, ty)) = run {
        assert_eq!(ty, status);
    }
    let failing = junit.iter().filter(|(_, b)| b.is_some()).count();
    assert_eq!(failing == 0, o.code == 0, "{}", o.junit);
    // GitHub: an error for a failure or a broken subject, a warning for a
    // run that proved nothing, none for a pass; the summary names the status.
    let level = match status {
        "pass" => None,
        "anomalies-found" | "subject-error" => Some("error"),
        _ => Some("warning"),
    };
    let annotation = o.stderr.lines().find(|l| l.starts_with("::"));
    match level {
        None => assert!(annotation.is_none(), "{annotation:?}"),
        Some(l) => {
            let a = annotation.unwrap_or_else(|| panic!("no annotation; {ctx}"));
            assert!(a.starts_with(&format!("::{l} title=torn {status}::")), "{a}");
        }
    }
    assert!(o.summary.contains(&format!("— {status}")), "{}", o.summary);
}

/// Whether this machine lets torn trace a writer; says, for `test`, why it
/// skips when not.
fn can_trace(test: &str) -> bool {
    match torn::trace::ptrace::available() {
        Ok(()) => true,
        Err(why) => {
            eprintln!("SKIP {test}: {why}");
            false
        }
    }
}

fn subject(o: &Outputs) -> &Value {
    &o.json["cases"][1]
}

#[test]
fn a_pass_agrees_everywhere() {
    let o = gate(&["--strategy", "rename-durable", "--budget", "30s"]);
    assert_eq!(o.code, torn::exit::OK, "{}", o.stderr);
    assert_eq!(subject(&o)["status"], "pass");
    assert!(o.stderr.contains("pass: 0 anomalies in"));
}

#[test]
fn a_fail_on_reads_agrees_everywhere() {
    // Untraced: no recipe, so only the reads can fail it.
    let o = gate(&["--strategy", "naive-truncate", "--no-trace"]);
    assert_eq!(o.code, torn::exit::ANOMALIES_FOUND, "{}", o.stderr);
    let s = subject(&o);
    assert_eq!(s["status"], "fail");
    assert!(s["anomalies"]["count"].as_u64().unwrap() > 0);
    assert_eq!(s["recipe_anomalies"], 0);
}

#[test]
fn a_fail_on_a_recipe_finding_alone_agrees_everywhere() {
    // One writer through a fixed temp name: no read can tear, the recipe
    // fails it.
    let o = gate(&["--strategy", "rename-fixed-tmp"]);
    assert_eq!(o.code, torn::exit::ANOMALIES_FOUND, "{}", o.stderr);
    let s = subject(&o);
    assert_eq!(s["status"], "fail");
    assert_eq!(s["anomalies"]["count"], 0, "{}", o.stderr);
    assert!(s["recipe_anomalies"].as_u64().unwrap() > 0);
    // Writes are counted as writes, never added to the anomalies.
    assert!(o.stderr.contains("writes"), "{}", o.stderr);
}

#[test]
fn a_fail_on_the_crash_stage_alone_agrees_everywhere() {
    if !can_trace("a_fail_on_the_crash_stage_alone_agrees_everywhere") {
        return;
    }
    let o = gate(&["--writer-stdio", &example("fsync_no_dir.py"), "--crash"]);
    assert_eq!(o.code, torn::exit::ANOMALIES_FOUND, "{}", o.stderr);
    let s = subject(&o);
    assert_eq!(s["status"], "fail");
    assert_eq!(s["anomalies"]["count"], 0);
    assert_eq!(s["recipe_anomalies"], 0);
    assert!(s["reason"].as_str().unwrap().contains("crash states"), "{s}");
    // The readers' zero stays on record beside the crash failure.
    assert!(o.stderr.contains("readers: 0 anomalies"), "{}", o.stderr);
    // report.md renders the crash stage and the verdict.
    assert!(o.markdown.contains("Crash states"), "{}", o.markdown);
    assert!(o.markdown.contains("anomalies-found"), "{}", o.markdown);
}

#[test]
fn an_inconclusive_on_windows_agrees_everywhere() {
    let o = gate(&[
        "--strategy",
        "rename-durable",
        "--min-windows",
        "1000000",
        "--budget",
        "1500ms",
        // Its writes are atomic by recipe: only the windows route is asked.
        "--proof",
        "windows",
    ]);
    assert_eq!(o.code, torn::exit::INCONCLUSIVE, "{}", o.stderr);
    let s = subject(&o);
    assert_eq!(s["status"], "inconclusive");
    assert!(s["reason"].as_str().unwrap().contains("write windows"), "{s}");
}

#[test]
fn an_inconclusive_on_a_sampled_crash_stage_agrees_everywhere() {
    let o = gate(&[
        "--strategy",
        "rename-durable",
        "--crash",
        "--crash-max-states",
        "1",
        "--crash-max-states-total",
        "2",
        "--budget",
        "30s",
    ]);
    assert_eq!(o.code, torn::exit::INCONCLUSIVE, "{}", o.stderr);
    let s = subject(&o);
    assert_eq!(s["status"], "inconclusive");
    assert!(s["reason"].as_str().unwrap().contains("not explored"), "{s}");
    assert!(
        !o.stderr.contains("atomic and durable in every state"),
        "{}",
        o.stderr
    );
}

#[test]
fn a_subject_error_agrees_everywhere() {
    let o = gate(&["--writer-stdio", "false"]);
    assert_eq!(o.code, torn::exit::SUBJECT_ERROR, "{}", o.stderr);
    assert_eq!(subject(&o)["status"], "subject-error");
}

#[test]
fn an_interrupted_gate_agrees_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = common::torn_process();
    child
        .args(gate_args(dir.path()))
        .args([
            "--strategy",
            "rename-durable",
            "--min-windows",
            "1000000",
            "--budget",
            "60s",
            "--proof",
            "windows",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    github(&mut child, dir.path());
    let child = child.spawn().unwrap();
    // Into the subject's run (after the control), then Ctrl-C.
    std::thread::sleep(Duration::from_millis(2500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let o = collect(
        dir.path(),
        out.status.code().unwrap_or(-1),
        &out.stdout,
        &out.stderr,
    );
    agree(&o);
    assert_eq!(o.code, torn::exit::INTERRUPTED, "{}", o.stderr);
    assert_eq!(o.json["verdict"]["status"], "interrupted");
}

/// `gate --strategy S --crash`: the durable strategies pass, every other
/// fails, and every output says the same.
fn builtin_under_crash(name: &str, expected: i32) {
    let o = gate(&["--strategy", name, "--crash", "--budget", "30s"]);
    assert_eq!(o.code, expected, "{name}: {}", o.stderr);
    assert!(
        !o.json["crash"].as_array().unwrap().is_empty(),
        "{name}: the crash stage ran"
    );
}

macro_rules! builtin_crash_tests {
    ($($test:ident: $name:literal => $code:expr;)*) => {$(
        #[test]
        fn $test() {
            builtin_under_crash($name, $code);
        }
    )*};
}

builtin_crash_tests! {
    crash_stage_naive_truncate: "naive-truncate" => torn::exit::ANOMALIES_FOUND;
    crash_stage_naive_chunked: "naive-chunked" => torn::exit::ANOMALIES_FOUND;
    crash_stage_in_place: "in-place" => torn::exit::ANOMALIES_FOUND;
    crash_stage_rename_fixed_tmp: "rename-fixed-tmp" => torn::exit::ANOMALIES_FOUND;
    crash_stage_rename_unique_tmp: "rename-unique-tmp" => torn::exit::ANOMALIES_FOUND;
    crash_stage_rename_durable: "rename-durable" => torn::exit::OK;
    crash_stage_rename_durable_locked: "rename-durable-locked" => torn::exit::OK;
    crash_stage_flock_guarded: "flock-guarded" => torn::exit::ANOMALIES_FOUND;
}

#[test]
fn a_swallowed_write_error_names_the_call_the_trace_saw_fail() {
    if !can_trace("a_swallowed_write_error_names_the_call_the_trace_saw_fail") {
        return;
    }
    // A clean atomic recipe that answers ok to everything: only the fault
    // shows it, and the cause must be in the verdict with the symptom.
    let o = gate(&[
        "--writer-stdio",
        &example("swallowing_atomic.py"),
        "--fault",
        "read-only-dir",
    ]);
    assert_eq!(o.code, torn::exit::ANOMALIES_FOUND, "{}", o.stderr);
    let s = subject(&o);
    assert!(s["writes"]["swallowed"].as_u64().unwrap() > 0, "{s}");
    let first = s["writes"]["first_swallowed"].as_str().unwrap();
    assert!(
        first.contains("the trace shows ") && first.contains("failed with E"),
        "{first}"
    );
    assert!(
        o.stderr.contains("swallowed write errors (first: version"),
        "{}",
        o.stderr
    );
}

/// A per-write command: a new interpreter for every write.
fn per_write(name: &str) -> String {
    example(name) + " {token}"
}

#[test]
fn a_slow_correct_command_passes_by_recipe_with_a_calibration() {
    if !can_trace("a_slow_correct_command_passes_by_recipe_with_a_calibration") {
        return;
    }
    let o = gate(&[
        "--writer-cmd",
        &per_write("durable.py"),
        "--proof",
        "recipe",
        "--min-writes",
        "5",
    ]);
    assert_eq!(o.code, torn::exit::OK, "{}", o.stderr);
    let s = subject(&o);
    assert_eq!(s["proven_by"], "recipe", "{s}");
    assert!(o.stderr.contains("pass (by recipe): all "), "{}", o.stderr);
    assert!(o.stderr.contains("rename-over holds on"), "{}", o.stderr);
    // The calibration raced in the same run is in every output, with no
    // claim of its own.
    let calibration = o.json["calibration"]["case"].as_str().unwrap();
    let c = o.json["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["label"] == calibration)
        .expect("the calibration's case");
    assert_eq!(c["status"], "info");
    assert!(
        c["anomalies_per_exposed"]["high"].as_f64().unwrap() <= 1e-5,
        "{c}"
    );
}

#[test]
fn the_truncating_twin_fails_within_a_few_writes() {
    let o = gate(&["--writer-cmd", &per_write("naive.py"), "--proof", "recipe"]);
    assert_eq!(o.code, torn::exit::ANOMALIES_FOUND, "{}", o.stderr);
    let s = subject(&o);
    assert!(s["writes"]["committed"].as_u64().unwrap() <= 6, "{s}");
    assert!(s["proven_by"].is_null());
}

#[test]
fn the_windows_route_alone_leaves_a_slow_writer_inconclusive() {
    let o = gate(&[
        "--writer-cmd",
        &per_write("durable.py"),
        "--proof",
        "windows",
        "--min-windows",
        "10000",
        "--budget",
        "3s",
    ]);
    assert_eq!(o.code, torn::exit::INCONCLUSIVE, "{}", o.stderr);
    assert!(o.json["calibration"].is_null());
    // A process per write: the readers waited for its windows, and every
    // window whose writer a read released was read.
    let s = subject(&o);
    assert_eq!(s["case"]["readers"]["pace"], "wait", "{s}");
    let w = &s["windows"];
    let holds = w["holds"]["holds"].as_u64().expect("holds recorded");
    let unread = w["holds"]["unread"].as_u64().unwrap();
    assert!(holds > 0, "{w}");
    assert!(w["hit"].as_u64().unwrap() >= holds - unread, "{w}");
    assert!(
        o.markdown.contains("readers waited for windows"),
        "{}",
        o.markdown
    );
}

#[test]
fn a_run_killed_midway_leaves_a_report_that_says_incomplete() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    let mut cmd = common::torn_process();
    cmd.args(["repro", "hermes", "--duration", "1s", "--reports-dir"])
        .arg(&reports)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    let mut child = cmd.spawn().unwrap();
    // Wait for the report written after the first case.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let report = loop {
        let found = std::fs::read_dir(&reports)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .map(|e| e.path().join("report.json"))
            .filter(|p| p.exists());
        if let Some(p) = found {
            break p;
        }
        assert!(std::time::Instant::now() < deadline, "no report was written");
        std::thread::sleep(Duration::from_millis(50));
    };
    // Give the write time to finish, then kill everything at once: no
    // handler runs, no final report is written.
    std::thread::sleep(Duration::from_millis(300));
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let _ = child.wait();
    let json: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(json["verdict"]["status"], "incomplete", "{}", json["verdict"]);
    assert_ne!(json["verdict"]["exit_code"], 0);
    let md = std::fs::read_to_string(report.with_file_name("report.md")).unwrap();
    assert!(!md.contains("pass (exit 0)"), "{md}");
    assert!(md.contains("incomplete"), "{md}");
    // Leave nothing behind.
    let _ = common::torn_process().arg("clean").output();
}

#[test]
fn repro_progress_table_json_and_html_agree_on_every_count_and_bound() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::torn_process()
        .args([
            "repro",
            "hermes",
            "--duration",
            "300ms",
            "--json",
            "--reports-dir",
        ])
        .arg(dir.path())
        .env("COLUMNS", "300")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        json["verdict"]["exit_code"].as_i64().map(|c| c as i32)
    );
    let report_dir = std::fs::read_dir(dir.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let html = std::fs::read_to_string(report_dir.join("report.html")).unwrap();
    let number = |s: &str| s.replace(',', "").parse::<u64>().unwrap();
    let mut seen = 0;
    // `[i/n] label  N exposed  M anomalies  status`.
    for line in stderr.lines().filter(|l| l.starts_with('[')) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(at) = words.iter().position(|w| *w == "exposed") else {
            continue;
        };
        assert_eq!(words[at + 2], "anomalies", "{line}");
        let index = words[0].trim_start_matches('[').split('/').next().unwrap();
        let c = &json["cases"][number(index) as usize - 1];
        let (exposed, anomalies) = (number(words[at - 1]), number(words[at + 1]));
        let status = words[at + 3];
        // One unit: anomalous reads, never more than the reads.
        assert_eq!(exposed, c["exposed_reads"].as_u64().unwrap(), "{line}");
        assert_eq!(anomalies, c["anomalies"]["count"].as_u64().unwrap(), "{line}");
        assert!(anomalies <= c["reads"].as_u64().unwrap(), "{line}");
        assert_eq!(status, c["status"].as_str().unwrap(), "{line}");
        // A zero's bound, per exposed read, is on the page for a case that
        // found nothing.
        if anomalies == 0 && exposed > 0 && !["fail", "reproduced", "expected"].contains(&status) {
            let bound = torn::numbers::sci(c["anomalies_per_exposed"]["high"].as_f64().unwrap());
            assert!(html.contains(&bound), "{bound} not in report.html for {line}");
        }
        seen += 1;
    }
    assert_eq!(seen, json["cases"].as_array().unwrap().len(), "{stderr}");
}

/// Mounts `name` with `harness/fs.sh` (as root), or says why the test skips.
fn mounted(test: &str, name: &str) -> Option<(common::Harness, PathBuf)> {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("SKIPPED {test}: mounting {name} needs root");
        return None;
    }
    if !can_trace(test) {
        return None;
    }
    let harness = common::Harness::new(test);
    let (lines, why) = harness.up(&[name]);
    let prefix = format!("{name}=");
    let Some(dir) = lines.iter().find_map(|l| l.strip_prefix(prefix.as_str())) else {
        eprintln!("SKIPPED {test}: could not mount {name} ({why})");
        return None;
    };
    let dir = PathBuf::from(dir).join("torn");
    Some((harness, dir))
}

#[test]
fn a_correct_command_on_fuse_does_not_pass_and_the_verdict_names_the_failed_calibration_as_root() {
    let test = "a_correct_command_on_fuse_does_not_pass_and_the_verdict_names_the_failed_calibration_as_root";
    let Some((_harness, dir)) = mounted(test, "fuse") else {
        return;
    };
    let o = gate(&[
        "--writer-cmd",
        &per_write("durable.py"),
        "--budget",
        "20s",
        "--dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(o.code, torn::exit::ANOMALIES_FOUND, "{}", o.stderr);
    assert_eq!(o.json["environment"]["fs_type"], "fuse");
    let s = subject(&o);
    assert_eq!(s["status"], "fail", "{s}");
    let reason = s["reason"].as_str().unwrap();
    assert!(
        reason.contains("every traced write was atomic by recipe, but rename-over does not hold on fuse"),
        "{reason}"
    );
    assert!(s["proven_by"].is_null(), "{s}");
}
