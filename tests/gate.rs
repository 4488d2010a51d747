//! `torn gate` on the example writers and on broken writers: the verdicts,
//! the exit codes, and that no process is left behind.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;

fn example(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/writers")
        .join(name);
    format!("python3 {} {{path}}", p.display())
}

/// A gate with the default floor of writes, a short control, no report
/// files, and 40 write windows to prove (the default 300 is for CI, not for
/// a test suite on a loaded machine).
fn gate() -> Command {
    let mut c = common::torn();
    c.args([
        "gate",
        "--format",
        "yaml",
        "--no-report",
        "--control",
        "300ms",
        "--min-windows",
        "40",
    ]);
    c
}

/// Processes whose command line mentions `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(marker) && !cmd.contains("torn gate") && !cmd.contains("cargo") {
                found.push(cmd);
            }
        }
    }
    found
}

#[test]
fn naive_example_fails_with_evidence() {
    gate()
        .args(["--writer-stdio", &example("naive.py")])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("fail: "))
        .stderr(predicate::str::contains("first empty at").or(predicate::str::contains("first torn")))
        .stderr(predicate::str::contains("control naive-truncate").not());
}

#[test]
fn durable_example_passes_with_a_bound_and_a_control() {
    gate()
        .args(["--writer-stdio", &example("durable.py")])
        .assert()
        .code(0)
        .stderr(predicate::str::is_match(r"pass: 0 anomalies in [\d,]+ writes, [\d,]+ of [\d,]+ write windows overlapped by reads \(95% bound ≤ [\d.e-]+ per write\), [\d,]+ exposed reads \(≤ [\d.e-]+ per read\).*; control naive-truncate: [\d,]+ anomalous reads in the same run").unwrap());
}

#[test]
fn durable_example_passes_as_a_per_write_command_too() {
    // A new interpreter per write is slow: fewer windows, same floor of writes.
    let cmd = example("durable.py") + " {token}";
    gate()
        .args(["--writer-cmd", &cmd, "--min-windows", "15"])
        .assert()
        .code(0);
}

#[test]
fn a_slow_truncating_command_fails_on_its_recipe_however_slowly_it_starts() {
    // 1.5 s of start-up per write, then open("w") + write: the truncate window
    // is microseconds in each run. The trace sees the truncate on the first
    // (warm-up) write; no pass can rest on reads that could not see it.
    let cmd = example("slow_truncate.py") + " {token}";
    let start = Instant::now();
    gate()
        .args(["--writer-cmd", &cmd])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("recipe truncates the target in place"));
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "failed within a few writes"
    );
}

#[test]
fn fixed_tmp_fails_on_its_recipe_alone_and_on_reads_with_four_writers() {
    // Alone its writes are atomic, but the trace shows the same temp path
    // renamed onto the target on every write: two writers would share it.
    gate()
        .args(["--writer-stdio", &example("fixed_tmp.py")])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "recipe uses the same temp file name on every write",
        ));
    gate()
        .args(["--writer-stdio", &example("fixed_tmp.py"), "--writers", "4"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("fail: "));
}

fn assert_subject_error(args: &[&str], marker: &str, message: &str) {
    assert_subject_error_within(args, marker, message, "700ms")
}

/// `timeout` is the write timeout: short where the writer hangs, longer
/// where it crashes or exits (an interpreter's start-up on a loaded machine
/// must not count as a hang).
fn assert_subject_error_within(args: &[&str], marker: &str, message: &str, timeout: &str) {
    let start = Instant::now();
    gate()
        .args(args)
        .args(["--write-timeout", timeout])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(message));
    assert!(start.elapsed() < Duration::from_secs(15), "the gate did not hang");
    assert!(
        processes_with(marker).is_empty(),
        "left behind: {:?}",
        processes_with(marker)
    );
}

#[test]
fn hanging_writers_are_killed_and_reported() {
    let hang = "python3 -c 'import time; time.sleep(600)' torn-test-hang-stdio";
    assert_subject_error(
        &["--writer-stdio", hang],
        "torn-test-hang-stdio",
        "no answer within 700ms: the program hung and was killed",
    );
    // A per-write command whose helper hangs: the whole process group goes.
    let hang = "sh -c 'sleep 600 & wait' torn-test-hang-cmd";
    assert_subject_error(
        &["--writer-cmd", hang],
        "torn-test-hang-cmd",
        "the writer hung and was killed",
    );
}

#[test]
fn crashing_writers_are_reported() {
    let crash = "sh -c 'read t; kill -9 $$' torn-test-crash";
    assert_subject_error(
        &["--writer-stdio", crash],
        "torn-test-crash",
        "exited early (killed by signal 9)",
    );
    let crash = "sh -c 'kill -9 $$' torn-test-crash-cmd";
    assert_subject_error(
        &["--writer-cmd", crash],
        "torn-test-crash-cmd",
        "crashed: killed by signal 9",
    );
    let early = "python3 -c 'import sys; sys.stdin.readline()' torn-test-early";
    assert_subject_error_within(
        &["--writer-stdio", early],
        "torn-test-early",
        "exited early (exit code 0)",
        "8s",
    );
}

#[test]
fn garbage_answers_are_reported() {
    let garbage = "sh -c 'while read t; do echo done; done' torn-test-garbage";
    assert_subject_error(
        &["--writer-stdio", garbage],
        "torn-test-garbage",
        "answered \"done\"",
    );
}

#[test]
fn unmet_bound_is_inconclusive() {
    gate()
        .args([
            "--strategy",
            "rename-unique-tmp",
            "--min-exposed",
            "1000000000",
            "--budget",
            "500ms",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "of 1,000,000,000 exposed reads (--min-exposed / --max-rate)",
        ));
}

#[test]
fn junit_has_a_case_for_the_control_and_the_subject() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("torn.xml");
    gate()
        .args([
            "--writer-stdio",
            &example("naive.py"),
            "--junit",
            junit.to_str().unwrap(),
        ])
        .assert()
        .code(1);
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("JUnit output is well-formed XML");
    let cases: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("testcase")).collect();
    assert_eq!(cases.len(), 3, "{xml}");
    assert_eq!(cases[0].attribute("name"), Some("control: naive-truncate"));
    // The run's verdict is a case of its own, failing with the exit code.
    assert_eq!(cases[2].attribute("name"), Some("verdict"));
    let run = cases[2]
        .children()
        .find(|c| c.has_tag_name("failure"))
        .expect("the run failed");
    assert_eq!(run.attribute("type"), Some("anomalies-found"));
    assert!(
        cases[0].children().all(|c| !c.has_tag_name("failure")),
        "control passed"
    );
    let failure = cases[1]
        .children()
        .find(|c| c.has_tag_name("failure"))
        .expect("subject failed");
    assert_eq!(failure.attribute("type"), Some("anomalies-found"));
    // When and how long: on the report, the suite and every case.
    for tag in ["testsuites", "testsuite"] {
        let node = doc.descendants().find(|n| n.has_tag_name(tag)).unwrap();
        assert!(node.attribute("time").is_some(), "{tag} has time: {xml}");
        let stamp = node.attribute("timestamp").expect("timestamp");
        assert!(stamp.starts_with("20") && stamp.contains('T'), "{stamp}");
    }
    assert!(cases.iter().all(|c| c.attribute("time").is_some()));
}

#[test]
fn an_inconclusive_gate_is_a_warning_and_the_summary_escapes_pipes() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    let writer = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/writers/durable.py");
    // A per-write command with a pipe in it, and a bound it cannot reach in time.
    gate()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["--shell", "--budget", "300ms", "--min-exposed", "1000000000"])
        .arg("--writer-cmd")
        .arg(format!("python3 {} {{path}} {{token}} | cat", writer.display()))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("::warning title=torn inconclusive::"))
        .stderr(predicate::str::contains("::error").not());
    let md = std::fs::read_to_string(&summary).unwrap();
    let row = md
        .lines()
        .find(|l| l.starts_with("| subject:"))
        .unwrap_or_else(|| panic!("{md}"));
    assert!(row.contains("{token} \\| cat"), "{row}");
    let header = md.lines().find(|l| l.starts_with("| strategy |")).unwrap();
    let cells = |l: &str| l.replace("\\|", "").matches('|').count();
    assert_eq!(cells(row), cells(header), "{row}");
}

#[test]
fn github_actions_get_an_annotation_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    gate()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["--writer-stdio", &example("naive.py")])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "::error title=torn anomalies-found::fail: ",
        ));
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("| control: naive-truncate |"), "{md}");
}

#[test]
fn scenario_files_take_external_writers() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("s.yaml");
    std::fs::write(
        &scenario,
        format!(
            "name: own-writer\nformat: yaml\nduration: 700ms\nstrategies:\n  - strategy: naive-truncate\n  \
             - writer_stdio: {}\n    write_timeout: 5s\n",
            example("durable.py")
        ),
    )
    .unwrap();
    Command::cargo_bin("torn")
        .unwrap()
        .args(["run", scenario.to_str().unwrap(), "--no-report"])
        .assert()
        .code(0)
        .stderr(predicate::str::contains("zero anomalies: writer-stdio: python3"));
}

#[test]
fn reader_processes_give_the_same_verdicts_and_leave_nothing() {
    gate()
        .args(["--writer-stdio", &example("naive.py"), "--reader-procs"])
        .assert()
        .code(1);
    gate()
        .args(["--writer-stdio", &example("durable.py"), "--reader-procs"])
        .assert()
        .code(0);
    assert!(
        processes_with("__reader").is_empty(),
        "{:?}",
        processes_with("__reader")
    );
}

#[test]
fn the_real_clients_parser_reads_alongside() {
    let reader = format!(
        "python3 {}/examples/readers/hermes_client.py {{path}}",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = gate()
        .args([
            "--writer-stdio",
            &example("durable.py"),
            "--reader-stdio",
            &reader,
            "--json",
        ])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let control = &report["cases"][0]["external_reader"];
    let subject = &report["cases"][1]["external_reader"];
    let count = |x: &serde_json::Value, outcome: &str| -> u64 {
        x["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p[0] == outcome)
            .unwrap()[1]
            .as_u64()
            .unwrap()
    };
    assert!(control["reads"].as_u64().unwrap() > 0);
    assert!(
        control["would_403"].as_u64().unwrap() > 0,
        "the client saw the control's race: {control}"
    );
    assert!(subject["reads"].as_u64().unwrap() > 0);
    assert_eq!(
        count(subject, "ok"),
        subject["reads"].as_u64().unwrap(),
        "{subject}"
    );

    let hang = "python3 -c 'import time; time.sleep(600)' torn-test-hang-reader";
    gate()
        .args([
            "--strategy",
            "rename-durable",
            "--reader-stdio",
            hang,
            "--write-timeout",
            "700ms",
        ])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "read got no answer: no answer within 700ms",
        ));
    assert!(processes_with("torn-test-hang-reader").is_empty());
}

#[test]
fn the_crash_stage_fails_a_writer_that_never_fsyncs_its_directory() {
    if let Err(why) = torn::trace::ptrace::available() {
        eprintln!("SKIP the_crash_stage_fails_a_writer_that_never_fsyncs_its_directory: {why}");
        return;
    }
    gate()
        .args(["--writer-stdio", &example("fsync_no_dir.py"), "--crash"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "fail: crash states: atomic; not durable",
        ))
        .stderr(predicate::str::contains("readers: 0 anomalies"));
    gate()
        .args(["--writer-stdio", &example("durable.py"), "--crash"])
        .assert()
        .code(0)
        .stderr(predicate::str::contains(
            "crash states: atomic and durable in every state explored",
        ));
}
