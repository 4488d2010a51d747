//! Careless and hostile input: every limit is named where it is set, files
//! torn is pointed at are read only if they are small regular files, output
//! places are checked before the run, and what a writer points the target at
//! is never copied into reports or logs.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::torn;
use predicates::prelude::*;

fn scenario_file(dir: &std::path::Path, body: &str) -> std::path::PathBuf {
    let p = dir.join("s.yaml");
    std::fs::write(&p, body).unwrap();
    p
}

#[test]
fn limits_are_named_where_they_are_set() {
    let d = tempfile::tempdir().unwrap();
    for (body, needle) in [
        (
            "readers: 100000\n",
            "field `readers`: 100000 readers: torn runs at most 256 per case",
        ),
        ("writers: 1000\n", "field `writers`"),
        (
            "evidence: 1000000000\n",
            "field `evidence`: 1000000000 anomalous reads kept per outcome: at most 100",
        ),
        (
            "strategies:\n  - strategy: naive-truncate\n    readers: 300\n",
            "field `readers`: entry 1: 300 readers",
        ),
    ] {
        let text = if body.starts_with("strategies") {
            format!("name: t\nformat: yaml\n{body}")
        } else {
            format!("name: t\nformat: yaml\n{body}strategies:\n  - strategy: naive-truncate\n")
        };
        let p = scenario_file(d.path(), &text);
        torn()
            .args(["run", p.to_str().unwrap(), "--no-report"])
            .assert()
            .code(64)
            .stderr(predicate::str::contains(needle));
    }
    torn()
        .args([
            "gate",
            "--format",
            "yaml",
            "--strategy",
            "rename-durable",
            "--readers",
            "100000",
            "--no-report",
        ])
        .assert()
        .code(64)
        .stderr(predicate::str::contains(
            "--readers: 100000 readers: torn runs at most 256",
        ));
}

#[test]
fn a_device_or_huge_file_is_not_read() {
    let d = tempfile::tempdir().unwrap();
    let p = scenario_file(
        d.path(),
        "name: t\nformat: yaml\ntemplate: /dev/zero\nclient_key: model.api_key\nstrategies:\n  - strategy: naive-truncate\n",
    );
    torn()
        .args(["run", p.to_str().unwrap(), "--no-report"])
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .code(64)
        .stderr(predicate::str::contains("/dev/zero is not a regular file"));
    torn()
        .args(["merge", "/dev/zero", "--out"])
        .arg(d.path().join("m"))
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .failure()
        .stderr(predicate::str::contains("not a regular file"));
}

#[test]
fn output_places_are_checked_before_the_run() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    torn()
        .args(["repro", "hermes", "--duration", "50ms", "--reports-dir"])
        .arg(&file)
        .assert()
        .failure()
        .stderr(predicate::str::contains(format!(
            "--reports-dir {}: not a directory",
            file.display()
        )))
        // Refused before the first case ran.
        .stderr(predicate::str::contains("[1/").not());
    torn()
        .args(["repro", "hermes", "--duration", "50ms", "--no-report", "--junit"])
        .arg(file.join("junit.xml"))
        .assert()
        .failure()
        .stderr(predicate::str::contains("--junit"))
        .stderr(predicate::str::contains("[1/").not());
    torn()
        .args(["repro", "hermes", "--duration", "50ms", "--no-report", "--dir"])
        .arg(&file)
        .assert()
        .code(64)
        .stderr(predicate::str::contains("not a directory"));
}

#[test]
fn merge_does_not_overwrite_a_users_directory() {
    let d = tempfile::tempdir().unwrap();
    let reports = d.path().join("r");
    let _ = torn()
        .args(["repro", "hermes", "--duration", "30ms", "--reports-dir"])
        .arg(&reports)
        .assert();
    let report = std::fs::read_dir(&reports)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("report.json");
    let users = d.path().join("mine");
    std::fs::create_dir(&users).unwrap();
    std::fs::write(users.join("matrix.md"), b"my notes").unwrap();
    torn()
        .arg("merge")
        .arg(&report)
        .arg("--out")
        .arg(&users)
        .assert()
        .failure()
        .stderr(predicate::str::contains("does not overwrite files of yours"));
    assert_eq!(std::fs::read(users.join("matrix.md")).unwrap(), b"my notes");
}

#[test]
fn usage_mistakes_say_what_to_do() {
    torn()
        .args([
            "gate",
            "--format",
            "yaml",
            "--strategy",
            "rename-durable",
            "--max-rate",
            "0",
            "--min-windows",
            "0",
            "--no-report",
        ])
        .assert()
        .code(64)
        .stderr(predicate::str::contains("nothing to prove"));
    let d = tempfile::tempdir().unwrap();
    let p = scenario_file(
        d.path(),
        "name: t\nformat: yaml\nformat: json\nstrategies:\n  - strategy: naive-truncate\n",
    );
    torn()
        .args(["run", p.to_str().unwrap(), "--no-report"])
        .assert()
        .code(64)
        .stderr(predicate::str::contains(
            "duplicate mapping key: format (each field may appear once)",
        ))
        .stderr(predicate::str::contains("DuplicateKeyPolicy").not());
}

#[test]
fn a_target_linked_out_of_scratch_is_a_finding_and_is_not_copied() {
    let d = tempfile::tempdir().unwrap();
    let secret = d.path().join("shadow");
    std::fs::write(&secret, "root:SECRET-4f1c9e:19000:0:99999:7:::\n").unwrap();
    let reports = d.path().join("reports");
    let out = torn()
        .args([
            "gate",
            "--format",
            "yaml",
            "--control",
            "200ms",
            "--budget",
            "3s",
            "--shell",
        ])
        .arg("--writer-cmd")
        .arg(format!("ln -sfn {} {{path}}", secret.display()))
        .arg("--reports-dir")
        .arg(&reports)
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("foreign"), "{stderr}");
    assert!(!stderr.contains("SECRET"), "the secret reached stderr: {stderr}");
    let mut files = 0;
    for e in walk(&reports) {
        let bytes = std::fs::read(&e).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("SECRET"),
            "{} holds the secret",
            e.display()
        );
        let mode = std::fs::metadata(&e).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} of a credentials run is private", e.display());
        files += 1;
    }
    assert!(files >= 3, "reports were written");
}

#[test]
fn a_fifo_in_the_targets_place_hangs_no_reader() {
    let out = torn()
        .args([
            "gate",
            "--format",
            "yaml",
            "--control",
            "200ms",
            "--budget",
            "2s",
            "--no-report",
            "--shell",
        ])
        .args(["--writer-cmd", "rm -f {path} && mkfifo {path}"])
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("foreign"), "{stderr}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
