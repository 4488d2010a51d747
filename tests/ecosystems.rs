//! torn where its users are: the GitHub Action's steps (its script run with
//! the inputs as INPUT_* variables, as the runner sets them from
//! action.yml), and the Python shim's source lines in the verdict.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The action's script with no GitHub, TORN_* or INPUT_* setting inherited
/// from the environment the tests run in; torn is the binary under test.
fn action(step: &str, work: &Path, inputs: &[(&str, &str)]) -> Output {
    let mut c = Command::new("bash");
    c.arg(root().join(".github/actions/torn/run.sh"))
        .arg(step)
        .current_dir(work);
    for (key, _) in std::env::vars() {
        if key.starts_with("TORN_") || key.starts_with("GITHUB_") || key.starts_with("INPUT_") {
            c.env_remove(key);
        }
    }
    c.env("TORN_BIN", env!("CARGO_BIN_EXE_torn"))
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", work.join("output"))
        .env("GITHUB_STEP_SUMMARY", work.join("summary.md"));
    for (k, v) in inputs {
        c.env(k, v);
    }
    c.output().expect("bash runs the action script")
}

/// `key=value` lines the step wrote to $GITHUB_OUTPUT.
fn outputs(work: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(work.join("output"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect()
}

fn output(work: &Path, key: &str) -> String {
    outputs(work)
        .into_iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("no output {key} in {:?}", outputs(work)))
        .1
}

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn action_gate_fails_the_job_by_torns_exit_code_and_leaves_report_and_summary() {
    let work = tempfile::tempdir().unwrap();
    let build = action("build", work.path(), &[]);
    assert!(build.status.success(), "{}", show(&build));
    let naive = root().join("examples/writers/naive.py");
    let writer = format!("python3 {} {{path}}", naive.display());
    let o = action(
        "run",
        work.path(),
        &[
            ("INPUT_COMMAND", "gate"),
            ("INPUT_FORMAT", "yaml"),
            ("INPUT_TEMPLATE", "hermes"),
            ("INPUT_TARGET", ".hermes/config.yaml"),
            ("INPUT_WRITER_STDIO", &writer),
            ("INPUT_MIN_WINDOWS", "30"),
            ("INPUT_BUDGET", "20s"),
            ("INPUT_ARGS", "--control 500ms --seed '7'"),
            ("INPUT_REPORTS_DIR", "torn-reports"),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert_eq!(output(work.path(), "exit-code"), "1");
    assert_eq!(output(work.path(), "status"), "anomalies-found");
    let dir = PathBuf::from(output(work.path(), "report-dir"));
    let dir = if dir.is_absolute() {
        dir
    } else {
        work.path().join(dir)
    };
    let report =
        std::fs::read_to_string(dir.join("report.json")).expect("the report directory holds report.json");
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["verdict"]["exit_code"], 1);
    assert_eq!(report["seed"], 7, "INPUT_ARGS reach torn, split as a shell would");
    let summary = std::fs::read_to_string(work.path().join("summary.md")).unwrap_or_default();
    assert!(
        summary.contains("naive-truncate"),
        "the step summary has the run's table:\n{summary}"
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("::error"),
        "torn annotates the failure:\n{stderr}"
    );
}

#[test]
fn action_refuses_a_gate_without_a_writer_and_an_unknown_command() {
    let work = tempfile::tempdir().unwrap();
    let o = action(
        "run",
        work.path(),
        &[("INPUT_COMMAND", "gate"), ("INPUT_FORMAT", "yaml")],
    );
    assert_eq!(o.status.code(), Some(64), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs the input writer-stdio or writer-cmd"));
    let o = action("run", work.path(), &[("INPUT_COMMAND", "bench")]);
    assert_eq!(o.status.code(), Some(64), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("command must be gate or matrix, not 'bench'"));
    let o = action("build", work.path(), &[("TORN_BIN", "/nonexistent/torn")]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("TORN_BIN=/nonexistent/torn is not an executable file")
    );
}

#[test]
fn action_matrix_runs_on_the_given_filesystems_and_appends_its_table() {
    let work = tempfile::tempdir().unwrap();
    let disk = work.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    let o = action(
        "run",
        work.path(),
        &[
            ("INPUT_COMMAND", "matrix"),
            ("INPUT_SCENARIO", "hermes"),
            ("INPUT_DURATION", "150ms"),
            ("INPUT_FILESYSTEMS", &format!("  disk={}\n", disk.display())),
        ],
    );
    let code = o.status.code().unwrap_or(-1);
    assert!(matches!(code, 0..=2), "{}", show(&o));
    assert_eq!(output(work.path(), "exit-code"), code.to_string());
    let dir = PathBuf::from(output(work.path(), "report-dir"));
    let dir = if dir.is_absolute() {
        dir
    } else {
        work.path().join(dir)
    };
    assert!(dir.join("matrix.json").is_file(), "{}", show(&o));
    let summary = std::fs::read_to_string(work.path().join("summary.md")).unwrap();
    assert!(
        summary.contains("disk"),
        "matrix.md in the step summary:\n{summary}"
    );
}

#[test]
fn action_yml_passes_every_input_the_script_reads() {
    let yml = std::fs::read_to_string(root().join("action.yml")).unwrap();
    let script = std::fs::read_to_string(root().join(".github/actions/torn/run.sh")).unwrap();
    let passed: Vec<&str> = yml
        .lines()
        .filter_map(|l| l.trim().strip_prefix("INPUT_"))
        .filter_map(|l| l.split(':').next())
        .collect();
    assert!(passed.len() >= 10, "{passed:?}");
    for name in &passed {
        assert!(
            script.contains(&format!("INPUT_{name}")),
            "action.yml passes INPUT_{name}, run.sh never reads it"
        );
        let input = name.to_lowercase().replace('_', "-");
        assert!(
            yml.contains(&format!("\n  {input}:\n")),
            "INPUT_{name} is not an input of action.yml"
        );
    }
    let mut read: Vec<&str> = script
        .match_indices("INPUT_")
        .map(|(i, _)| {
            let rest = &script[i + 6..];
            &rest[..rest
                .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
                .unwrap_or(rest.len())]
        })
        .filter(|name| !name.is_empty()) // "INPUT_*" in a comment
        .collect();
    read.sort_unstable();
    read.dedup();
    for name in read {
        assert!(
            passed.contains(&name),
            "run.sh reads INPUT_{name}, action.yml never sets it"
        );
    }
}

/// A Python writer served by the shim: the verdict names the line of the
/// offending call (`ok # where …` from the shim's audit hook).
#[test]
fn python_shim_names_the_source_line_of_the_truncating_call() {
    let python = root().join("python");
    let example = root().join("examples/python");
    let writers = std::fs::read_to_string(example.join("rotator/writers.py")).unwrap();
    let line = writers
        .lines()
        .position(|l| l.contains("with open(path, \"w\")"))
        .expect("update_hermes opens its file with \"w\"")
        + 1;
    let reports = tempfile::tempdir().unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_torn"));
    for (key, _) in std::env::vars() {
        if key.starts_with("TORN_") || key.starts_with("GITHUB_") {
            c.env_remove(key);
        }
    }
    let o = c
        .current_dir(&example)
        .env(
            "PYTHONPATH",
            format!("{}:{}", python.display(), example.display()),
        )
        .args([
            "gate",
            "--format",
            "yaml",
            "--template",
            "hermes",
            "--target",
            ".hermes/config.yaml",
        ])
        .args([
            "--min-windows",
            "30",
            "--budget",
            "20s",
            "--control",
            "300ms",
            "--json",
        ])
        .args([
            "--writer-stdio",
            "python3 -m torn_gate.shim rotator.writers:update_hermes {path}",
        ])
        .arg("--reports-dir")
        .arg(reports.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let first = report["verdict"]["lines"][0].as_str().unwrap();
    let at = "truncates the target in place (readers can see it empty) (";
    assert!(first.starts_with("fail: ") && first.contains(at), "{first}");
    assert!(
        first.contains(&format!("— rotator/writers.py:{line} in update_hermes")),
        "the verdict names writers.py:{line}: {first}"
    );
    let case = &report["cases"][1];
    assert_eq!(
        case["trace"]["sources"]["truncates-target"],
        format!("rotator/writers.py:{line} in update_hermes")
    );
}
