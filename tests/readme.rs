//! The README's examples that run in seconds, run as written: each command
//! is taken from the README (the test fails if the README no longer shows
//! it) and must print what the README says it prints.

mod common;

use common::torn;

const README: &str = include_str!("../README.md");

/// Runs `command`, which the README must show verbatim, from the checkout
/// in a scratch reports directory; returns (exit code, stderr).
fn run_readme(command: &str, cwd: &std::path::Path) -> (i32, String, String) {
    assert!(README.contains(command), "the README no longer shows `{command}`");
    let words = shell_words::split(command).unwrap();
    assert_eq!(words[0], "torn");
    let out = torn()
        .current_dir(cwd)
        .env("TORN_REPORTS_DIR", cwd.join("reports"))
        .env("COLUMNS", "200")
        .args(&words[1..])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A scratch copy of what the examples name (examples/), as the README's
/// commands are run from a checkout.
fn checkout() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    std::os::unix::fs::symlink(src.join("examples"), d.path().join("examples")).unwrap();
    d
}

#[test]
fn list_and_man_print_what_the_readme_says() {
    let d = checkout();
    let (code, out, _) = run_readme("torn list", d.path());
    assert_eq!(code, 0);
    for section in ["strategies:", "formats:", "templates:", "scenarios"] {
        assert!(out.contains(section), "{out}");
    }
    let (code, out, _) = run_readme("torn list --json", d.path());
    assert_eq!(code, 0);
    serde_json::from_str::<serde_json::Value>(&out).unwrap();
    let (code, out, _) = run_readme("torn completions bash", d.path());
    assert_eq!(code, 0);
    assert!(out.contains("_torn()"));
}

#[test]
fn the_gate_examples_pass_and_fail_as_the_readme_says() {
    if python_missing() {
        return;
    }
    let d = checkout();
    let (code, _, err) = run_readme(
        "torn gate --format yaml --writer-stdio 'python3 examples/writers/naive.py {path}'",
        d.path(),
    );
    assert_eq!(code, 1, "{err}");
    for said in [
        "── subject: writer-stdio: python3 examples/writers/naive.py {path} (fail): claims safety but showed empty ",
        "recipe truncates the target in place (readers can see it empty)",
        "  first empty at ",
        ": 0 of 1196 bytes",
        "\nfail: empty ",
        "verdict: anomalies-found (exit 1)",
    ] {
        assert!(err.contains(said), "the README says `{said}`: {err}");
    }
    // report.json's command can be pasted back: the writer stays one word.
    let dir = std::fs::read_dir(d.path().join("reports"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    let command = report["command"].as_str().unwrap();
    assert!(
        command.ends_with("gate --format yaml --writer-stdio 'python3 examples/writers/naive.py {path}'"),
        "{command}"
    );
    // fixed_tmp.py fails alone, on its fixed temp name.
    let (code, _, err) = run_readme_like(
        "torn gate --format yaml --writer-stdio 'python3 examples/writers/fixed_tmp.py {path}'",
        d.path(),
    );
    assert!(
        README
            .contains("`fixed_tmp.py` (`<path>.tmp` then\nrename: fails, even alone, on its fixed temp name")
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("recipe uses the same temp file name on every write"),
        "{err}"
    );
    // The swallowed-write example shows swallowed write errors.
    let (code, _, err) = run_readme(
        "torn gate --format yaml --writer-stdio 'python3 examples/writers/swallowing.py {path}' --fault read-only-dir --fault-after 1ms",
        d.path(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("swallowed write errors"), "{err}");
}

#[test]
fn the_crash_examples_record_save_and_replay_a_trace() {
    let d = checkout();
    let (code, _, err) = run_readme(
        "torn crash --strategy rename-unique-tmp --save-trace writer.json",
        d.path(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(d.path().join("writer.json").exists());
    assert!(
        err.contains("rename-unique-tmp [strict]: 12 crash points"),
        "{err}"
    );
    assert!(
        err.trim_end()
            .ends_with("verdict: anomalies-found (exit 1) over 1 exploration"),
        "{err}"
    );
    let (code, _, err) = run_readme(
        "torn crash --trace writer.json --model strict --model ext4-ordered",
        d.path(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("[strict]: 12 crash points") && err.contains("[ext4-ordered]"),
        "{err}"
    );
    assert!(
        err.contains("verdict: anomalies-found (exit 1) over 2 explorations"),
        "{err}"
    );
    let reports: Vec<_> = std::fs::read_dir(d.path().join("reports")).unwrap().collect();
    assert!(!reports.is_empty(), "torn crash writes report files");
}

/// Like [`run_readme`] for a command the README names in prose (a file
/// name), not verbatim.
fn run_readme_like(command: &str, cwd: &std::path::Path) -> (i32, String, String) {
    let words = shell_words::split(command).unwrap();
    let out = torn()
        .current_dir(cwd)
        .args(&words[1..])
        .arg("--no-report")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn python_missing() -> bool {
    let missing = std::process::Command::new("python3")
        .args(["-c", "import yaml"])
        .status()
        .map_or(true, |s| !s.success());
    if missing {
        eprintln!("SKIP: python3 with PyYAML is needed for the example writers");
    }
    missing
}
