//! JUnit XML (via quick-junit): one test case per strategy / subject / control.

use quick_junit::{NonSuccessKind, Report as Junit, TestCase, TestCaseStatus, TestSuite};

use super::{CaseStatus, Report};

/// Renders `report` as JUnit XML.
pub fn render(report: &Report) -> anyhow::Result<String> {
    let mut suite = TestSuite::new(format!("torn: {}", report.scenario.name));
    for c in &report.cases {
        let mut status = match c.status {
            CaseStatus::Pass | CaseStatus::Reproduced | CaseStatus::Info => TestCaseStatus::success(),
            CaseStatus::Fail => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_type("anomalies-found");
                s
            }
            CaseStatus::Inconclusive => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_type("inconclusive");
                s
            }
            CaseStatus::SubjectError => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                s.set_type("subject-error");
                s
            }
        };
        if !matches!(
            c.status,
            CaseStatus::Pass | CaseStatus::Reproduced | CaseStatus::Info
        ) {
            status.set_message(c.reason.clone());
            status.set_description(super::verdict::summary(c));
        }
        let mut case = TestCase::new(c.label.clone(), status);
        case.set_classname(format!("torn.{}", report.scenario.name));
        case.set_time(std::time::Duration::from_secs_f64(c.elapsed_s));
        case.set_system_out(format!(
            "{}: {} reads, {} exposed; {}",
            c.label, c.reads, c.exposed_reads, c.reason
        ));
        if let Some(tail) = &c.writer_stderr {
            case.set_system_err(tail.clone());
        }
        suite.add_test_case(case);
    }
    let mut junit = Junit::new("torn");
    junit.add_test_suite(suite);
    Ok(junit.to_string()?)
}
