//! JUnit XML (via quick-junit): one test case per strategy / subject / control.
//!
//! The report and its suite carry `timestamp` (when the run started) and
//! `time` (seconds the cases ran, added up); each test case its own `time`.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report as Junit, TestCase, TestCaseStatus, TestSuite};

use super::{CaseStatus, Report};

/// Renders `report` as JUnit XML.
pub fn render(report: &Report) -> anyhow::Result<String> {
    let mut suite = TestSuite::new(format!("torn: {}", report.scenario.name));
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
        };
        if matches!(
            c.status,
            CaseStatus::Fail | CaseStatus::Inconclusive | CaseStatus::SubjectError
        ) {
            status.set_message(c.reason.clone());
            status.set_description(super::verdict::summary(c));
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
    let started = chrono::DateTime::parse_from_rfc3339(&report.created).ok();
    suite.set_time(total);
    let mut junit = Junit::new("torn");
    junit.set_time(total);
    if let Some(t) = started {
        suite.set_timestamp(t);
        junit.set_timestamp(t);
    }
    junit.add_test_suite(suite);
    Ok(junit.to_string()?)
}
