//! Matrix runs: one scenario on several filesystems (or, merged, several
//! machines), combined into one report.
//!
//! `torn matrix` runs a scenario once per `NAME=DIR` filesystem on this
//! machine; `torn merge` combines `report.json` / `matrix.json` files made
//! anywhere (the matrix jobs of a CI system, other kernels) into one matrix.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::report::{self, Report};
use crate::run::{self, RunOptions};
use crate::scenario::Scenario;

/// Identifies the schema of `matrix.json`: `torn.matrix/2` holds
/// `torn.report/2` reports; `torn merge` still reads `torn.matrix/1`.
pub const SCHEMA: &str = "torn.matrix/3";

/// Every `matrix.json` schema this build reads.
pub const SCHEMAS_READ: [&str; 3] = [SCHEMA, "torn.matrix/2", "torn.matrix/1"];

/// Several runs of the same kind, one per filesystem or machine.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Matrix {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// When the matrix was made, RFC 3339 UTC.
    pub created: String,
    pub title: String,
    /// One full report per filesystem (each with its kernel, filesystem type,
    /// mount options and label in `environment`).
    pub reports: Vec<Report>,
    /// The verdict over every run: the most serious of theirs.
    #[serde(default = "report::Verdict::incomplete")]
    pub verdict: report::Verdict,
}

impl Matrix {
    pub fn new(title: &str, reports: Vec<Report>) -> Self {
        Self {
            schema: SCHEMA.into(),
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            title: title.into(),
            verdict: report::verdict::over_runs(&reports),
            reports,
        }
    }

    /// Writes `matrix.json`, `matrix.md` and `report.html` into `dir`.
    pub fn write(&self, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
        let private = self.reports.iter().any(Report::is_private);
        report::files::create_report_dir(dir, private)?;
        let files = [
            ("matrix.json", serde_json::to_string_pretty(self)? + "\n"),
            ("matrix.md", report::markdown::matrix(&self.title, &self.reports)),
            ("report.html", report::html::render(&self.title, &self.reports)),
        ];
        let mut written = Vec::new();
        for (name, text) in files {
            let path = dir.join(name);
            report::files::write(&path, text.as_bytes(), private)?;
            written.push(path);
        }
        Ok(written)
    }

    /// Reads a `report.json` (one run) or `matrix.json` (many) as a list of reports.
    pub fn load_reports(path: &Path) -> anyhow::Result<Vec<Report>> {
        let text = crate::limits::read_text(path, crate::limits::MAX_REPORT_BYTES, "report")
            .with_context(|| format!("reading {}", path.display()))?;
        let mut value: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
        // Reports of older schemas record each case's settings flat.
        if let Some(reports) = value.get_mut("reports").and_then(|r| r.as_array_mut()) {
            reports.iter_mut().for_each(report::migrate);
        } else {
            report::migrate(&mut value);
        }
        match value.get("schema").and_then(|s| s.as_str()) {
            Some(s) if SCHEMAS_READ.contains(&s) => {
                let s = s.to_string();
                Ok(serde_json::from_value::<Matrix>(value)
                    .with_context(|| format!("{}: not a valid {s} file", path.display()))?
                    .reports)
            }
            Some(s) if report::SCHEMAS_READ.contains(&s) => {
                let s = s.to_string();
                Ok(vec![serde_json::from_value(value).with_context(|| {
                    format!("{}: not a valid {s} file", path.display())
                })?])
            }
            other => anyhow::bail!(
                "{}: unknown schema {:?}; expected one of {} (report.json) or {} (matrix.json)",
                path.display(),
                other,
                report::SCHEMAS_READ.join(", "),
                SCHEMAS_READ.join(", ")
            ),
        }
    }

    /// Combines report and matrix files into one matrix.
    ///
    /// Runs that would carry the same name in the tables and plots (two
    /// ext4 runs on one kernel, from two CI jobs) are told apart by the
    /// file they came from: `ext4 · job-a` (the file's directory), else its
    /// path.
    pub fn merge(title: &str, paths: &[PathBuf]) -> anyhow::Result<Self> {
        let mut loaded = Vec::new();
        for p in paths {
            loaded.extend(Self::load_reports(p)?.into_iter().map(|r| (r, p)));
        }
        anyhow::ensure!(!loaded.is_empty(), "nothing to merge");
        let name = |r: &Report| crate::report::html::series_name(r);
        let names: Vec<String> = loaded.iter().map(|(r, _)| name(r)).collect();
        let clash = |n: &String| names.iter().filter(|m| *m == n).count() > 1;
        let source = |p: &Path, whole: bool| {
            let dir = p
                .parent()
                .and_then(|d| d.file_name())
                .map(|d| d.to_string_lossy().into_owned());
            match dir {
                Some(d) if !whole => d,
                _ => p.display().to_string(),
            }
        };
        let short: Vec<String> = loaded.iter().map(|(_, p)| source(p, false)).collect();
        let mut reports = Vec::new();
        for (i, (mut r, p)) in loaded.into_iter().enumerate() {
            if clash(&names[i]) {
                // The directory names the source unless two sources share it.
                let whole = short.iter().filter(|s| **s == short[i]).count() > 1;
                r.environment.fs_label = format!("{} · {}", r.environment.fs_label, source(p, whole));
            }
            reports.push(r);
        }
        Ok(Self::new(title, reports))
    }
}

/// A filesystem to run on: a name for tables and a directory on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filesystem {
    pub label: String,
    pub dir: PathBuf,
}

impl std::str::FromStr for Filesystem {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once('=') {
            Some((label, dir)) if !label.is_empty() && !dir.is_empty() => Ok(Filesystem {
                label: label.into(),
                dir: dir.into(),
            }),
            _ => Err(format!(
                "`{s}`: write NAME=DIR, e.g. tmpfs=/dev/shm (as printed by harness/fs.sh up)"
            )),
        }
    }
}

/// Runs `scenario` once per filesystem, in a `torn/` scratch directory on
/// each, and combines the reports.
pub fn run_matrix(
    scenario: &Scenario,
    source: &str,
    base: &Path,
    filesystems: &[Filesystem],
    opts: &RunOptions,
    cancel: &AtomicBool,
    mut on_report: impl FnMut(&Report),
) -> anyhow::Result<Matrix> {
    let mut reports = Vec::new();
    for fs in filesystems {
        let scratch = fs.dir.join("torn");
        let created = !scratch.exists();
        let opts = RunOptions {
            dir: Some(scratch.clone()),
            reports_dir: None,
            progress_label: Some(fs.label.clone()),
            ..opts.clone()
        };
        let result = run::run(scenario, source, base, &opts, cancel)
            .with_context(|| format!("running {} on {} ({})", scenario.name, fs.label, fs.dir.display()));
        if created {
            let _ = std::fs::remove_file(scratch.join(crate::scratch::MARKER));
            let _ = std::fs::remove_dir(&scratch);
        }
        let mut report = result?.report;
        report.environment.fs_label = fs.label.clone();
        on_report(&report);
        let interrupted = report.verdict.status == report::RunStatus::Interrupted;
        reports.push(report);
        if interrupted {
            break;
        }
    }
    Ok(Matrix::new(&format!("torn matrix: {}", scenario.name), reports))
}
