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
