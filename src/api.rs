//! Gate a Rust function from a `#[test]`.
//!
//! ```no_run
//! use std::{io, path::Path};
//!
//! fn write_config(path: &Path, token: &str) -> io::Result<()> {
//!     // your code: write a temp file, fsync, rename it over `path`
//! #   std::fs::write(path, token)
//! }
//!
//! #[test]
//! fn config_writes_are_atomic() {
//!     torn::gate!(write_config)
//!         .format("yaml")
//!         .template("hermes")
//!         .target(".hermes/config.yaml")
//!         .run()
//!         .check();
//! }
//! ```
//!
//! [`Gate::run`] starts the `torn` binary (`TORN_BIN`, else `torn` on
//! `PATH`: `cargo install torn`) with `torn gate --writer-stdio`, and the
//! writer torn drives is **this test binary, run again** with a filter that
//! selects the same test (as rusty-fork does): there, [`Gate::run`] finds
//! `TORN_API_SERVE` naming its function and serves torn's line protocol —
//! one token per line in, `ok` or `err <message>` out — instead of gating.
//! So the writer is a fresh, single-threaded-at-start process that torn
//! can trace with ptrace, never a thread of the test harness; and the test
//! harness itself never forks.
//!
//! The function gets the target's path (in torn's scratch HOME; `HOME` is
//! set to it as well) and the token to install; it returns when the token is
//! in the file, or an error, which torn counts as a write error.
//!
//! The child's test harness prints its own lines on stdout ("running 1
//! test"), so the command torn runs moves them to stderr and answers on
//! descriptor 3: `sh -c 'exec TEST-BINARY NAME --exact … 3>&1 1>&2'`.

use std::io::{self, BufRead, Write};
use std::os::fd::FromRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A function torn can gate: install `token` in the file at `path`.
pub type WriteFn = fn(&Path, &str) -> io::Result<()>;

/// The environment variable that tells a re-run test binary which function
/// to serve (its [`Gate`] id).
pub const SERVE_ENV: &str = "TORN_API_SERVE";

/// The descriptor the served function answers on.
const ANSWER_FD: i32 = 3;

/// `torn::gate!(function)`: a [`Gate`] for `function`, named by its path.
///
/// The function must have the type `fn(&Path, &str) -> io::Result<()>`
/// (a closure that captures nothing works too).
#[macro_export]
macro_rules! gate {
    ($f:expr) => {
        $crate::api::Gate::new(
            concat!(module_path!(), "::", stringify!($f)),
            $f as $crate::api::WriteFn,
        )
    };
}

/// One `torn gate` run on a Rust function; build it with [`gate!`].
#[derive(Debug, Clone)]
pub struct Gate {
    id: String,
    f: WriteFn,
    args: Vec<String>,
    torn: Option<PathBuf>,
    test: Option<String>,
    reports_dir: Option<PathBuf>,
}

impl Gate {
    /// A gate on `f`, known as `id` (unique within the test binary).
    pub fn new(id: &str, f: WriteFn) -> Self {
        Self {
            id: id.to_string(),
            f,
            args: Vec::new(),
            torn: None,
            test: None,
            reports_dir: None,
        }
    }

    /// `--format`: yaml, json, dotenv, ini or toml.
    pub fn format(self, format: &str) -> Self {
        self.flag("format", format)
    }

    /// `--template`: a built-in template name or a file.
    pub fn template(self, template: &str) -> Self {
        self.flag("template", template)
    }

    /// `--target`: the file, relative to the scratch HOME.
    pub fn target(self, target: &str) -> Self {
        self.flag("target", target)
    }

    /// `--budget`: how long the subject may run (`20s`).
    pub fn budget(self, budget: &str) -> Self {
        self.flag("budget", budget)
    }

    /// Any `torn gate` flag with a value: `.flag("min-windows", "30")`.
    pub fn flag(mut self, name: &str, value: impl ToString) -> Self {
        self.args.push(format!("--{}", name.trim_start_matches('-')));
        self.args.push(value.to_string());
        self
    }

    /// Any `torn gate` switch: `.switch("reader-procs")`.
    pub fn switch(mut self, name: &str) -> Self {
        self.args.push(format!("--{}", name.trim_start_matches('-')));
        self
    }

    /// The `torn` binary to run (default: `TORN_BIN`, else `torn` on `PATH`).
    pub fn torn_bin(mut self, path: impl Into<PathBuf>) -> Self {
        self.torn = Some(path.into());
        self
    }

    /// The name of the test that calls this gate, as the test harness
    /// filters it (default: the current thread's name, which libtest sets
    /// to the test's path).
    pub fn test_name(mut self, name: &str) -> Self {
        self.test = Some(name.to_string());
        self
    }

    /// Where the report directory goes (default: a new directory under the
    /// system temp dir, kept after the test).
    pub fn reports_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.reports_dir = Some(dir.into());
        self
    }

    /// Runs the gate and returns its verdict.
    ///
    /// In the re-run test binary that serves this function, it serves the
    /// line protocol until torn closes stdin and then exits the process; a
    /// gate on another function there does nothing and returns
    /// [`GateResult::skipped`].
    pub fn run(self) -> GateResult {
        match std::env::var(SERVE_ENV) {
            Ok(id) if id == self.id => serve(self.f),
            Ok(_) => return GateResult::skipped(),
            Err(_) => {}
        }
        match self.gate() {
            Ok(r) => r,
            Err(e) => GateResult::error(e),
        }
    }

    fn gate(self) -> Result<GateResult, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find the test binary: {e}"))?;
        // libtest names a test's thread after the test; a plain program
        // (a doctest) runs on `main` and is simply run again.
        let test = self
            .test
            .clone()
            .or_else(|| std::thread::current().name().map(str::to_string))
            .filter(|n| n != "main");
        let torn = self
            .torn
            .clone()
            .or_else(|| std::env::var_os("TORN_BIN").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("torn"));
        let reports = match &self.reports_dir {
            Some(d) => d.clone(),
            None => tempfile::Builder::new()
                .prefix("torn-gate-")
                .tempdir()
                .map_err(|e| {
                    format!(
                        "cannot make a reports directory under {}: {e}",
                        std::env::temp_dir().display()
                    )
                })?
                .keep(),
        };
        let filter = match &test {
            Some(t) => format!(
                " {} --exact --nocapture --test-threads=1 -q",
                shell_words::quote(t)
            ),
            None => String::new(),
        };
        let writer = format!(
            "exec {}{filter} 3>&1 1>&2",
            shell_words::quote(&exe.to_string_lossy()),
        );
        let out = Command::new(&torn)
            .arg("gate")
            .args(&self.args)
            .arg("--shell")
            .arg("--writer-stdio")
            .arg(&writer)
            .arg("--reports-dir")
            .arg(&reports)
            .arg("--json")
            .env(SERVE_ENV, &self.id)
            .output()
            .map_err(|e| {
                format!(
                    "cannot run {} (install it with `cargo install torn`, or set TORN_BIN): {e}",
                    torn.display()
                )
            })?;
        Ok(GateResult::from_output(
            &out.stdout,
            &out.stderr,
            out.status.code(),
            reports,
        ))
    }
}

/// Serves the line protocol for `f` on stdin and descriptor 3, then exits.
fn serve(f: WriteFn) -> ! {
    let target = std::env::var_os("TORN_TARGET").map(PathBuf::from);
    // SAFETY: torn's command line opens descriptor 3 (`3>&1`) for this
    // process and nothing else in it uses that number.
    let mut answers = unsafe { std::fs::File::from_raw_fd(ANSWER_FD) };
    let Some(target) = target else {
        eprintln!("torn::api: TORN_TARGET is not set: this process was not started by torn gate");
        std::process::exit(3);
    };
    for line in io::stdin().lock().lines() {
        let Ok(token) = line else { break };
        let answer = match f(&target, token.trim()) {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("err {}", e.to_string().replace('\n', " ")),
        };
        if writeln!(answers, "{answer}")
            .and_then(|()| answers.flush())
            .is_err()
        {
            break;
        }
    }
    std::process::exit(0);
}

/// A gate's verdict.
#[derive(Debug, Clone)]
pub struct GateResult {
    /// The run's status as torn names it: `pass`, `anomalies-found`,
    /// `inconclusive`, `subject-error`, `usage-error`, `io-error`,
    /// `interrupted`, or `error` (torn could not be run).
    pub status: String,
    /// torn's exit code (0 pass, 1 anomalies found, 2 inconclusive, 3
    /// subject error, 64 usage, 74 I/O, 130 interrupted), or `None` if torn
    /// did not run.
    pub exit_code: Option<i32>,
    /// The verdict lines, as torn prints them (`fail: empty 1,378 · …`).
    pub lines: Vec<String>,
    /// The report directory (report.json, report.md, report.html).
    pub report_dir: Option<PathBuf>,
    /// The end of torn's stderr, for errors that came before a verdict.
    pub stderr: String,
}

impl GateResult {
    /// What a gate on another function returns in a re-run test binary.
    pub fn skipped() -> Self {
        Self {
            status: "skipped".into(),
            exit_code: Some(0),
            lines: vec!["skipped: this process serves another function".into()],
            report_dir: None,
            stderr: String::new(),
        }
    }

    fn error(why: String) -> Self {
        Self {
            status: "error".into(),
            exit_code: None,
            lines: vec![format!("torn gate could not run: {why}")],
            report_dir: None,
            stderr: String::new(),
        }
    }

    /// Reads a `torn gate --json` run: its stdout (the report), stderr and
    /// exit code; `reports` is the `--reports-dir` it was given.
    pub fn from_output(stdout: &[u8], stderr: &[u8], code: Option<i32>, reports: PathBuf) -> Self {
        let stderr = String::from_utf8_lossy(stderr).into_owned();
        let report: Option<serde_json::Value> = serde_json::from_slice(stdout).ok();
        let verdict = report.as_ref().and_then(|r| r.get("verdict"));
        let lines: Vec<String> = verdict
            .and_then(|v| v.get("lines"))
            .and_then(|l| l.as_array())
            .map(|l| l.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        let status = verdict
            .and_then(|v| v.get("status"))
            .and_then(|s| s.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| status_of(code).to_string());
        let report_dir = std::fs::read_dir(&reports).ok().and_then(|d| {
            d.flatten()
                .map(|e| e.path())
                .find(|p| p.join("report.json").is_file())
        });
        let lines = if lines.is_empty() {
            // No verdict (a usage or I/O error): torn's own error lines say why.
            let tail: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
            let start = tail.len().saturating_sub(6);
            tail[start..].iter().map(|l| l.to_string()).collect()
        } else {
            lines
        };
        Self {
            status,
            exit_code: code,
            lines,
            report_dir,
            stderr,
        }
    }

    /// Whether the gate passed (exit 0).
    pub fn passed(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// The verdict as one message: its lines, then where the report is.
    pub fn message(&self) -> String {
        let mut m = self.lines.join("\n");
        if let Some(d) = &self.report_dir {
            m.push_str(&format!("\nreport: {}", d.join("report.md").display()));
        }
        m
    }

    /// Panics with the verdict unless the gate passed.
    #[track_caller]
    pub fn check(&self) {
        if !self.passed() {
            panic!(
                "torn gate: {} (exit {})\n{}",
                self.status,
                self.exit_code.map_or("none".to_string(), |c| c.to_string()),
                self.message()
            );
        }
    }
}

/// The status name of an exit code (see `torn::exit`).
fn status_of(code: Option<i32>) -> &'static str {
    match code {
        Some(0) => "pass",
        Some(1) => "anomalies-found",
        Some(2) => "inconclusive",
        Some(3) => "subject-error",
        Some(64) => "usage-error",
        Some(74) => "io-error",
        Some(130) => "interrupted",
        _ => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_usage_error_keeps_torns_own_message() {
        let r = GateResult::from_output(
            b"",
            b"error: unexpected argument '--frobnicate' found\n",
            Some(64),
            PathBuf::from("/nonexistent"),
        );
        assert_eq!(r.status, "usage-error");
        assert_eq!(r.lines, vec!["error: unexpected argument '--frobnicate' found"]);
        assert!(!r.passed());
        assert!(r.report_dir.is_none());
    }

    #[test]
    fn the_verdict_lines_come_from_the_report() {
        let json = br#"{"verdict":{"status":"anomalies-found","exit_code":1,"lines":["fail: empty 3","FAILED: x"]}}"#;
        let r = GateResult::from_output(json, b"", Some(1), PathBuf::from("/nonexistent"));
        assert_eq!(r.status, "anomalies-found");
        assert_eq!(r.lines, vec!["fail: empty 3", "FAILED: x"]);
        let panic = std::panic::catch_unwind(|| r.check()).unwrap_err();
        let msg = panic.downcast_ref::<String>().unwrap();
        assert!(msg.contains("fail: empty 3"), "{msg}");
    }
}
