//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::sync::atomic::AtomicBool;

use torn::classify::Outcome;
use torn::report::{CaseReport, Report};
use torn::run::{self, RunOptions};
use torn::scenario::Scenario;

/// Runs scenario text on the default scratch dir, writing no report files.
pub fn run_text(text: &str) -> Report {
    let scenario = Scenario::parse(text, "test").expect("test scenario parses");
    let cancel = AtomicBool::new(false);
    run::run(&scenario, "test", Path::new("."), &RunOptions::default(), &cancel)
        .expect("run completes")
        .report
}

pub fn case<'a>(r: &'a Report, label: &str) -> &'a CaseReport {
    r.cases
        .iter()
        .find(|c| c.label == label)
        .unwrap_or_else(|| panic!("no case {label}"))
}

pub fn count(c: &CaseReport, o: Outcome) -> u64 {
    c.outcome(o).count
}

pub fn torn_reads(c: &CaseReport) -> u64 {
    count(c, Outcome::TornParseable) + count(c, Outcome::TornUnparseable)
}

/// The `torn` binary with no `TORN_*` knob or GitHub Actions setting
/// inherited from the environment the tests run in.
pub fn torn() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("torn").unwrap();
    for (key, _) in std::env::vars() {
        if key.starts_with("TORN_") || key.starts_with("GITHUB_") {
            c.env_remove(key);
        }
    }
    c
}

/// [`torn`] as a plain `std::process::Command`, for runs a test must
/// signal or read while they go.
pub fn torn_process() -> std::process::Command {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin!("torn"));
    for (key, _) in std::env::vars() {
        if key.starts_with("TORN_") || key.starts_with("GITHUB_") {
            c.env_remove(key);
        }
    }
    c
}

/// Filesystems mounted by `harness/fs.sh` in a work directory of their own;
/// everything is unmounted and removed on drop, also when a test fails.
pub struct Harness {
    pub work: std::path::PathBuf,
}

impl Harness {
    const SCRIPT: &'static str = concat!(env!("CARGO_MANIFEST_DIR"), "/harness/fs.sh");

    pub fn new(tag: &str) -> Self {
        Self {
            work: std::env::temp_dir().join(format!("torn-harness-{tag}-{}", std::process::id())),
        }
    }

    /// Mounts `names`; returns the `NAME=DIR` lines of those that came up,
    /// and the script's stderr (its reasons for skipping).
    pub fn up(&self, names: &[&str]) -> (Vec<String>, String) {
        let out = std::process::Command::new("bash")
            .arg(Self::SCRIPT)
            .arg("up")
            .args(names)
            .env("TORN_HARNESS_DIR", &self.work)
            .env("TORN_IMAGE_MB", "64")
            .output()
            .unwrap();
        let lines = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        (lines, String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .arg(Self::SCRIPT)
            .arg("down")
            .env("TORN_HARNESS_DIR", &self.work)
            .status();
    }
}
