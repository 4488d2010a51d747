//! GitHub Actions integration: an annotation when a run does not pass — an
//! `::error` for anomalies found or a broken subject, a `::warning` for an
//! inconclusive or interrupted run — and the Markdown summary appended to
//! `$GITHUB_STEP_SUMMARY`.
//! Active only when `GITHUB_ACTIONS=true`.

use std::io::Write;

use super::{Report, RunStatus, table};

/// Emits the annotation (on stderr, keeping stdout for `--json`) and appends
/// the step summary. Does nothing outside GitHub Actions.
pub fn publish(report: &Report) -> anyhow::Result<()> {
    if std::env::var("GITHUB_ACTIONS").as_deref() != Ok("true") {
        return Ok(());
    }
    if let Some(level) = annotation(report.verdict.status) {
        let message = report.verdict.lines.join("\n");
        eprintln!(
            "::{level} title=torn {}::{}",
            report.verdict.status.name(),
            escape(&message)
        );
    }
    if let Ok(path) = std::env::var("GITHUB_STEP_SUMMARY") {
        use anyhow::Context;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("appending to GITHUB_STEP_SUMMARY {path}"))?;
        writeln!(
            f,
            "### torn: {} — {}\n",
            report.scenario.name,
            report.verdict.status.name()
        )?;
        for line in &report.verdict.lines {
            writeln!(f, "- {}", line.replace('\n', " "))?;
        }
        writeln!(f, "\n{}", table::markdown(report))?;
    }
    Ok(())
}

/// The workflow command for a verdict: a failure is an error; a run that
/// proved nothing either way is a warning.
fn annotation(status: RunStatus) -> Option<&'static str> {
    match status {
        RunStatus::Pass => None,
        RunStatus::AnomaliesFound | RunStatus::SubjectError => Some("error"),
        RunStatus::Inconclusive | RunStatus::Interrupted | RunStatus::Incomplete => Some("warning"),
    }
}

/// Escapes a workflow-command message.
fn escape(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

#[cfg(test)]
mod tests {
    use super::RunStatus;

    #[test]
    fn messages_are_escaped() {
        assert_eq!(super::escape("a%b\nc"), "a%25b%0Ac");
    }

    #[test]
    fn only_failures_are_errors() {
        assert_eq!(super::annotation(RunStatus::Pass), None);
        assert_eq!(super::annotation(RunStatus::AnomaliesFound), Some("error"));
        assert_eq!(super::annotation(RunStatus::SubjectError), Some("error"));
        assert_eq!(super::annotation(RunStatus::Inconclusive), Some("warning"));
    }
}
