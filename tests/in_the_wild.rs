//! The in-the-wild scenarios end to end: a real tool as the writer, its own
//! client as the external reader, the client's calls counted in its terms.
//! `git credential-store` (the correct control, with a truncating writer of
//! the same file as the positive control) runs here because git is on every
//! CI machine; a machine without it skips visibly, through the scenario's
//! own `requires:` (exit 77), never silently. The skip path itself is tested
//! with a tool no machine has.

mod common;

use std::path::Path;

use serde_json::Value;

/// `torn repro NAME` with HOME pointed at `home` (standing in for the user's
/// real home), reports under `reports`; exit code, report.json, stderr.
fn repro(name: &str, home: &Path, reports: &Path, extra: &[&str]) -> (i32, Option<Value>, String) {
    let out = common::torn()
        .args(["repro", name, "--duration", "1500ms", "--json", "--reports-dir"])
        .arg(reports)
        .args(extra)
        .env("HOME", home)
        .env("COLUMNS", "200")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_slice(&out.stdout).ok();
    (out.status.code().unwrap_or(-1), report, stderr)
}

fn case<'a>(report: &'a Value, label: &str) -> &'a Value {
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["label"] == label)
        .unwrap_or_else(|| panic!("no case {label} in {report:#}"))
}

fn outcome<'a>(client: &'a Value, name: &str) -> &'a Value {
    client["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["outcome"] == name)
        .unwrap_or_else(|| panic!("no client outcome {name}"))
}

#[test]
fn git_credential_store_passes_and_the_clients_failures_are_counted_for_the_truncating_control() {
    let home = tempfile::tempdir().unwrap();
    let reports = tempfile::tempdir().unwrap();
    let (code, report, stderr) = repro("git-credential-store", home.path(), reports.path(), &[]);
    if code == torn::exit::SKIPPED {
        eprintln!("SKIP git_credential_store…: torn skipped the scenario: {stderr}");
        return;
    }
    let report = report.unwrap_or_else(|| panic!("no JSON report (exit {code}); stderr:\n{stderr}"));
    assert_eq!(code, 0, "stderr:\n{stderr}");

    // The real tool (lock file + rename): every call of git got the current
    // password, and the zero comes with a bound per call.
    let git = case(&report, "git credential-store");
    assert_eq!(git["status"], "pass", "{git:#}");
    let client = &git["client"];
    assert_eq!(client["name"], "git");
    let calls = client["calls"].as_u64().unwrap();
    assert!(calls >= 10, "git was called {calls} times: {client:#}");
    assert_eq!(client["failures"], 0, "{client:#}");
    assert_eq!(outcome(client, "current")["calls"].as_u64(), Some(calls));
    let bound = client["failures_per_call"]["high"].as_f64().unwrap();
    assert!(bound > 0.0 && bound < 0.5, "bound {bound}");
    assert_eq!(
        git["external_reader"]["reads"].as_u64(),
        Some(calls),
        "the client's calls are the external reader's reads"
    );

    // The positive control (printf > the same file): the same client, called
    // the same way, finds no stored password — counted in git's terms.
    let control = case(&report, "control: printf > .git-credentials");
    assert_eq!(control["status"], "reproduced", "{control:#}");
    let client = &control["client"];
    let none = outcome(client, "none");
    let failed = client["failures"].as_u64().unwrap();
    assert!(
        failed > 0,
        "the truncating control made no git call fail: {client:#}"
    );
    assert_eq!(
        none["effect"],
        "git would find no stored password and ask for one (fails without a terminal)"
    );
    assert!(none["calls"].as_u64().unwrap() > 0, "{client:#}");
    assert!(none["first"]["answer"] == "none", "{none:#}");
    assert!(client["failures_per_s"].as_f64().unwrap() > 0.0);
    assert!(client["writes"].as_u64().unwrap() > 0);

    // Rendered beside torn's own outcomes: the terminal and report.md.
    assert!(
        stderr.contains("git credential-store: client git:") && stderr.contains("no call failed (95% bound"),
        "{stderr}"
    );
    assert!(
        stderr.contains("× git would find no stored password and ask for one"),
        "{stderr}"
    );
    let dir = std::fs::read_dir(reports.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("**client git:"), "{md}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        html.contains("git credential-store: client git:"),
        "report.html has no client line"
    );

    // git and its helper worked in the scratch HOME, never in the real one.
    let left: Vec<_> = std::fs::read_dir(home.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "the run wrote into HOME: {left:?}");
}

#[test]
fn a_built_in_scenario_whose_tool_is_missing_is_skipped_with_exit_77() {
    let home = tempfile::tempdir().unwrap();
    let reports = tempfile::tempdir().unwrap();
    let empty_path = tempfile::tempdir().unwrap();
    let out = common::torn()
        .args(["repro", "npm-token", "--reports-dir"])
        .arg(reports.path())
        .env("HOME", home.path())
        .env("PATH", empty_path.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(torn::exit::SKIPPED), "{stderr}");
    assert!(
        stderr.contains(
            "torn: skipped: scenario npm-token needs commands that are not installed: `npm`, `node`, `sh` (not found on PATH); nothing ran"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("harness/wild.sh"), "{stderr}");
    assert!(!stderr.contains("Error"), "a skip is not an error: {stderr}");
    assert!(
        !stderr.contains("strategies ×"),
        "announced a run it skipped: {stderr}"
    );
    assert_eq!(
        std::fs::read_dir(reports.path()).unwrap().count(),
        0,
        "a skipped run wrote a report"
    );
}

#[test]
fn a_scenario_file_requiring_a_missing_tool_is_skipped_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.yaml");
    std::fs::write(
        &file,
        "name: mine\nformat: raw\ntarget: .npmrc\nrequires: [sh, torn-no-such-tool]\n\
         strategies:\n  - writer_cmd: torn-no-such-tool {token}\n",
    )
    .unwrap();
    let out = common::torn()
        .args(["run", file.to_str().unwrap(), "--no-report"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(torn::exit::SKIPPED), "{stderr}");
    assert!(
        stderr.contains("skipped: scenario mine needs a command that is not installed: `torn-no-such-tool`"),
        "{stderr}"
    );
    // Only built-in scenarios point at torn's harness.
    assert!(!stderr.contains("harness/wild.sh"), "{stderr}");
}
