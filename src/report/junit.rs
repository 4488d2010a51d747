//! JUnit XML (via quick-junit): one test case per strategy / subject / control.
//!
//! The report and its suite carry `timestamp` (when the run started) and
//! `time` (seconds the cases ran, added up); each test case its own `time`.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report as Junit, TestCase, TestCaseStatus, TestSuite};

use super::{CaseStatus, Report, RunStatus};

/// Renders `report` as JUnit XML: one suite, one test case per case.
pub fn render(report: &Report) -> anyhow::Result<String> {
    render_suites("torn", std::slice::from_ref(report), false)
}

/// Renders several runs (a matrix: one per filesystem) as JUnit XML, a
/// suite per run named after its filesystem.
pub fn render_runs(title: &str, reports: &[Report]) -> anyhow::Result<String> {
    render_suites(title, reports, true)
}

fn render_suites(name: &str, reports: &[Report], by_fs: bool) -> anyhow::Result<String> {
    let mut junit = Junit::new(name);
    let mut all = Duration::ZERO;
    for report in reports {
        let (suite, time) = suite(report, by_fs);
        all += time;
        junit.add_test_suite(suite);
    }
    junit.set_time(all);
    if let Some(t) = reports
        .first()
        .and_then(|r| chrono::DateTime::parse_from_rfc3339(&r.created).ok())
    {
        junit.set_timestamp(t);
    }
    Ok(junit.to_string()?)
}

/// One run as a suite, and the seconds its cases ran.
fn suite(report: &Report, by_fs: bool) -> (TestSuite, Duration) {
    let mut suite = TestSuite::new(if by_fs {
        format!(
            "torn: {} on {} ({})",
            report.scenario.name, report.environment.fs_label, report.environment.fs_type
        )
    } else {
        format!("torn: {}", report.scenario.name)
    });
    let mut total = Duration::ZERO;
    for c in &report.cases {
        let failure = |kind, ty: &str| {
            let mut s = TestCaseStatus::non_success(kind);
            s.set_type(ty);
            s
        };
        let mut status = match c.status {
            CaseStatus::Pass | CaseStatus::Reproduced | CaseStatus::Expected | CaseStatus::Info => {
                TestCaseStatus::success()
            }
            CaseStatus::Fail => failure(NonSuccessKind::Failure, "anomalies-found"),
            CaseStatus::Inconclusive => failure(NonSuccessKind::Failure, "inconclusive"),
            CaseStatus::SubjectError => failure(NonSuccessKind::Error, "subject-error"),
            CaseStatus::Interrupted => failure(NonSuccessKind::Error, "interrupted"),
            CaseStatus::Pending => failure(NonSuccessKind::Error, "incomplete"),
        };
        if !matches!(
            c.status,
            CaseStatus::Pass | CaseStatus::Reproduced | CaseStatus::Expected | CaseStatus::Info
        ) {
            status.set_message(c.reason.clone());
            status.set_description(super::words::summary(c));
        }
        let mut case = TestCase::new(c.label.clone(), status);
        let time = Duration::from_secs_f64(c.elapsed_s.max(0.0));
        total += time;
        case.set_classname(format!("torn.{}", report.scenario.name));
        case.set_time(time);
        case.set_system_out(format!(
            "{}: {}; {} reads, {} exposed; {}{}",
            c.label,
            c.status.name(),
            c.reads,
            c.exposed_reads,
            c.reason,
            c.case
                .expect_reason
                .as_ref()
                .map(|r| format!(" — {r}"))
                .unwrap_or_default()
        ));
        if let Some(tail) = &c.writer_stderr {
            case.set_system_err(tail.clone());
        }
        suite.add_test_case(case);
    }
    // The run's own verdict is a test case too, so that a CI reading only
    // this file fails exactly when torn's exit code does (a run can be
    // inconclusive with no case failing: no control showed the race).
    let status = match report.verdict.status {
        RunStatus::Pass => TestCaseStatus::success(),
        s => {
            let kind = match s {
                RunStatus::AnomaliesFound | RunStatus::Inconclusive => NonSuccessKind::Failure,
                _ => NonSuccessKind::Error,
            };
            let mut st = TestCaseStatus::non_success(kind);
            st.set_type(s.name());
            st.set_message(report.verdict.lines.first().cloned().unwrap_or_default());
            st.set_description(report.verdict.lines.join("\n"));
            st
        }
    };
    let mut verdict = TestCase::new("verdict", status);
    verdict.set_classname(format!("torn.{}", report.scenario.name));
    verdict.set_time(Duration::ZERO);
    verdict.set_system_out(format!(
        "verdict: {} (exit {})",
        report.verdict.status.name(),
        report.verdict.exit_code
    ));
    suite.add_test_case(verdict);
    suite.set_time(total);
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&report.created) {
        suite.set_timestamp(t);
    }
    (suite, total)
}
