//! The `torn` binary: exit codes, error messages, reports.

mod common;

use assert_cmd::Command;
use common::torn;
use predicates::prelude::*;

fn scenario_file(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let p = dir.path().join("s.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn unknown_key_names_file_line_and_column() {
    let d = tempfile::tempdir().unwrap();
    let f = scenario_file(
        &d,
        "name: t\nformat: yaml\nstrategies:\n  - strategy: naive-truncate\n    chunkz: 4\n",
    );
    torn()
        .args(["run", f.to_str().unwrap(), "--no-report"])
        .assert()
        .code(64)
        .stderr(predicate::str::contains("s.yaml"))
        .stderr(predicate::str::contains("line 5 column 5"))
        .stderr(predicate::str::contains("chunkz"))
        .stderr(predicate::str::contains("chunks"));
}

#[test]
fn bad_values_are_usage_errors_with_the_allowed_values() {
    let d = tempfile::tempdir().unwrap();
    let f = scenario_file(
        &d,
        "name: t\nformat: yaml\nwrite_rate: often\nstrategies:\n  - strategy: naive-truncate\n",
    );
    torn()
        .args(["run", f.to_str().unwrap()])
        .assert()
        .code(64)
        .stderr(predicate::str::contains("line 3"))
        .stderr(predicate::str::contains("`max` or a positive rate like `200hz`"));
    let f = scenario_file(
        &d,
        "name: t\nformat: xml\nstrategies:\n  - strategy: naive-truncate\n",
    );
    torn()
        .args(["run", f.to_str().unwrap()])
        .assert()
        .code(64)
        .stderr(predicate::str::contains("xml").and(predicate::str::contains("yaml")));
}

#[test]
fn missing_scenario_file_is_named() {
    torn()
        .args(["run", "no/such/scenario.yaml"])
        .assert()
        .code(64)
        .stderr(predicate::str::contains(
            "cannot read scenario file no/such/scenario.yaml",
        ));
}

#[test]
fn bad_arguments_are_usage_errors() {
    torn()
        .args(["run"])
        .assert()
        .code(64)
        .stderr(predicate::str::contains("<SCENARIO>"));
    torn()
        .args(["repro", "hermez"])
        .assert()
        .code(64)
        .stderr(predicate::str::contains("hermes"));
    torn()
        .args(["repro", "hermes", "--duration", "soon"])
        .assert()
        .code(64)
        .stderr(predicate::str::contains("--duration"));
    torn().args(["frobnicate"]).assert().code(64);
}

#[test]
fn foreign_dir_is_refused_and_left_alone() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("notes.txt"), b"mine").unwrap();
    torn()
        .args([
            "repro",
            "hermes",
            "--no-report",
            "--dir",
            d.path().to_str().unwrap(),
        ])
        .assert()
        .code(64)
        .stderr(predicate::str::contains("not made by torn"));
    assert_eq!(std::fs::read(d.path().join("notes.txt")).unwrap(), b"mine");
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
}

#[test]
fn list_names_strategies_formats_and_scenarios() {
    torn()
        .arg("list")
        .assert()
        .success()
        .stdout(predicate::str::contains("rename-durable"))
        .stdout(predicate::str::contains("dotenv"))
        .stdout(predicate::str::contains("hermes-rotation.yaml"));
}

/// `torn`, run under umask 022 (as most shells are), so files created with
/// the default mode are group/other-readable.
fn torn_umask_022() -> Command {
    use std::os::unix::process::CommandExt;
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("torn"));
    for (key, _) in std::env::vars() {
        if key.starts_with("TORN_") || key.starts_with("GITHUB_") {
            c.env_remove(key);
        }
    }
    // SAFETY: umask is async-signal-safe and touches no memory.
    unsafe {
        c.pre_exec(|| {
            nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
            Ok(())
        });
    }
    Command::from_std(c)
}

#[test]
fn repro_writes_reports_and_json_and_cleans_scratch() {
    let reports = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    // The `<path>.tmp` fix of the Hermes report creates its temp file with the
    // default mode and renames it over the 0600 config: the scenario expects
    // that and says why, so it is no failure. (in-place may not show its rare
    // mix in so short a run: then the run is inconclusive, never a failure.)
    let out = torn_umask_022()
        .args(["repro", "hermes", "--json", "--duration", "150ms"])
        .args(["--reports-dir", reports.path().to_str().unwrap()])
        .args(["--dir", scratch.path().to_str().unwrap()])
        .env("COLUMNS", "200")
        .assert()
        .code(predicate::in_iter([0, 2]))
        .stderr(predicate::str::contains("race reproduced by: naive-truncate"))
        .stderr(predicate::str::contains(
            "expected: rename-fixed-tmp showed recipe uses the same temp file name on every write",
        ))
        .stderr(predicate::str::contains("mode widened 0600 → 0644"))
        .stderr(predicate::str::contains(
            "— the bug report's own fix (write <path>.tmp, rename)",
        ))
        .stderr(predicate::str::contains("expected: "))
        .stderr(predicate::str::contains(
            "/report.html (and report.md, report.json)",
        ))
        .stderr(predicate::str::contains("FAILED").not())
        .get_output()
        .stdout
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(json["schema"], "torn.report/3");
    // Each case records the case it ran, whole.
    assert_eq!(json["cases"][0]["case"]["readers"]["count"], 2);
    assert_eq!(json["cases"][3]["status"], "expected");
    assert!(
        json["cases"][3]["case"]["expect_reason"]
            .as_str()
            .unwrap()
            .contains("default mode")
    );
    assert_eq!(json["cases"].as_array().unwrap().len(), 8);
    assert!(
        json["environment"]["kernel"]
            .as_str()
            .unwrap()
            .starts_with("Linux")
    );
    let dirs: Vec<_> = std::fs::read_dir(reports.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1);
    assert!(
        dirs[0]
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .ends_with("-hermes-rotation")
    );
    let md = std::fs::read_to_string(dirs[0].join("report.md")).unwrap();
    assert!(md.contains("| naive-truncate |") && md.contains("## Environment"));
    let from_file: torn::report::Report =
        serde_json::from_str(&std::fs::read_to_string(dirs[0].join("report.json")).unwrap()).unwrap();
    assert_eq!(from_file.cases.len(), 8);
    let evidence = &from_file.cases[0].evidence;
    assert!(!evidence.is_empty());
    assert!(dirs[0].join(evidence[0].file.as_ref().unwrap()).exists());
    let left: Vec<_> = std::fs::read_dir(scratch.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from(torn::scratch::MARKER)],
        "case directories removed"
    );
}

#[test]
fn ctrl_c_stops_cleans_scratch_and_exits_130() {
    let scratch = tempfile::tempdir().unwrap();
    let reports = tempfile::tempdir().unwrap();
    let bin = assert_cmd::cargo::cargo_bin("torn");
    let mut child = std::process::Command::new(bin)
        .args(["repro", "hermes", "--duration", "30s", "--quiet"])
        .args(["--dir", scratch.path().to_str().unwrap()])
        .args(["--reports-dir", reports.path().to_str().unwrap()])
        .spawn()
        .unwrap();
    // Wait until the first case directory exists, i.e. the run is under way.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::read_dir(scratch.path()).unwrap().count() < 2 {
        assert!(std::time::Instant::now() < deadline, "run never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let left: Vec<_> = std::fs::read_dir(scratch.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from(torn::scratch::MARKER)],
        "scratch cleaned after Ctrl-C"
    );
    let report_dir = std::fs::read_dir(reports.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report_dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["verdict"]["status"], "interrupted");
}

#[test]
fn a_template_file_of_the_users_own_is_run() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("app.yaml"),
        "creds:\n  token: {{TOKEN}}\n  user: me\n",
    )
    .unwrap();
    let f = scenario_file(
        &d,
        "name: own\nformat: yaml\ntemplate: app.yaml\nclient_key: creds.token\ntarget: .config/app.yaml\n\
         duration: 300ms\nstrategies:\n  - strategy: naive-truncate\n  - strategy: rename-durable\n",
    );
    torn()
        .args(["run", f.to_str().unwrap(), "--json", "-q", "--no-report"])
        .assert()
        .code(predicate::in_iter([0, 2]))
        .stdout(predicate::str::contains("\"version_len\": 64"))
        .stdout(predicate::str::contains("\"target\": \".config/app.yaml\""));
    let f = scenario_file(
        &d,
        "name: own\nformat: yaml\ntemplate: app.yaml\nstrategies:\n  - strategy: naive-truncate\n",
    );
    torn()
        .args(["run", f.to_str().unwrap(), "--no-report"])
        .assert()
        .code(64)
        .stderr(predicate::str::contains("`client_key` is required"));
}

#[test]
fn full_disk_refuses_to_fill_a_real_disk() {
    let st = nix::sys::statvfs::statvfs(&std::env::temp_dir()).unwrap();
    if (st.blocks() as u64) * (st.fragment_size() as u64) <= torn::engine::fault::MAX_FULL_DISK_BYTES {
        eprintln!("SKIPPED full_disk_refuses_to_fill_a_real_disk: the temp dir is on a small filesystem");
        return;
    }
    torn()
        .args(["repro", "full-disk", "--no-report"])
        .assert()
        .code(64)
        .stderr(predicate::str::contains("field `fault`"))
        .stderr(predicate::str::contains("harness/fs.sh up tmpfs-small"));
}

/// Every line of a run's stderr fits `width` columns.
fn assert_fits(stderr: &[u8], width: usize) {
    let text = String::from_utf8_lossy(stderr);
    assert!(text.contains("strategy"), "no table: {text}");
    for line in text.lines() {
        assert!(
            line.chars().count() <= width,
            "{} columns > {width}: {line}\n{text}",
            line.chars().count()
        );
    }
}

#[test]
fn tables_fit_80_and_100_columns_and_wide_prints_every_column() {
    for width in [80, 100] {
        let out = torn_umask_022()
            .args(["repro", "hermes", "--duration", "30ms", "--no-report"])
            .env("COLUMNS", width.to_string())
            .output()
            .unwrap();
        assert_fits(&out.stderr, width);
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(text.contains("95% bound") && text.contains("anomalies"), "{text}");
    }
    let out = torn()
        .args(["repro", "hermes", "--duration", "30ms", "--no-report", "--wide"])
        .env("COLUMNS", "80")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    for column in ["torn-unparse", "would-403", "foreign", "first anomaly", "0 ⇒ p ≤"] {
        assert!(text.contains(column), "--wide lacks {column}: {text}");
    }
}

#[test]
fn a_gates_table_fits_with_its_long_subject_label() {
    let writer = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/writers/durable.py");
    for width in [80, 100] {
        let out = torn()
            .args(["gate", "--format", "yaml", "--no-report"])
            .args(["--control", "100ms", "--budget", "300ms", "--max-rate", "0.5"])
            .arg("--writer-stdio")
            .arg(format!("python3 {writer} {{path}}"))
            .env("COLUMNS", width.to_string())
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap();
        assert_fits(&out.stderr, width);
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(text.contains("…/durable.py"), "label shortened: {text}");
    }
}

#[test]
fn every_command_has_examples_and_repro_lists_every_scenario() {
    for cmd in [
        "run",
        "repro",
        "gate",
        "crash",
        "matrix",
        "merge",
        "list",
        "clean",
        "bench",
        "completions",
        "man",
    ] {
        torn().args([cmd, "--help"]).assert().success().stdout(
            predicate::str::contains("Examples:\n  torn ").or(predicate::str::contains("Examples:\n  #")),
        );
    }
    let help = torn().args(["repro", "--help"]).output().unwrap().stdout;
    let help = String::from_utf8(help).unwrap().replace(['\n', ' '], "");
    for (name, _, _) in torn::run::BUILTIN_SCENARIOS {
        assert!(
            help.contains(&format!("{name},")) || help.contains(&format!("{name}]")),
            "{name}"
        );
    }
    torn()
        .args(["run", "--help"])
        .assert()
        .stdout(predicate::str::contains("report.html"));
}

#[test]
fn list_json_completions_and_man_go_to_stdout() {
    let out = torn().args(["list", "--json"]).output().unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("list --json is JSON");
    assert_eq!(
        json["scenarios"].as_array().unwrap().len(),
        torn::run::BUILTIN_SCENARIOS.len()
    );
    assert!(
        json["strategies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "rename-durable")
    );
    torn()
        .args(["completions", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("_torn()"));
    torn()
        .args(["completions", "zsh"])
        .assert()
        .success()
        .stdout(predicate::str::contains("#compdef torn"));
    torn()
        .arg("man")
        .assert()
        .success()
        .stdout(predicate::str::contains(".TH torn 1"))
        .stdout(predicate::str::contains("repro"));
}

#[test]
fn a_closed_pipe_or_a_full_stdout_ends_cleanly() {
    // A pipe whose reader is gone before torn writes: `torn list --json | head -1`.
    let bin = || std::process::Command::new(assert_cmd::cargo::cargo_bin("torn"));
    let (read, write) = nix::unistd::pipe().unwrap();
    drop(read);
    let out = bin()
        .args(["list", "--json"])
        .stdout(std::process::Stdio::from(write))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // A full disk: `torn list > /dev/full`.
    for args in [&["list"][..], &["list", "--json"], &["man"]] {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let out = bin().args(args).stdout(full).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(74), "{args:?}: {stderr}");
        assert!(stderr.contains("No space left on device"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn bench_of_a_per_write_command_gives_its_time_per_write_and_windows_read() {
    // sed -i: a new process per write that writes a temp file and renames it.
    let out = torn()
        .args(["bench", "--duration", "200ms", "--json", "--writer-cmd"])
        .arg(r#"sed -i -e "s/^  api_key: .*/  api_key: {token}/" {path}"#)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["kind"], "per-write-command");
    let r = &json["results"];
    for key in ["alone_s", "spinning_s", "waiting_s"] {
        assert!(r[key]["median"].as_f64().unwrap() > 0.0, "{key}: {r}");
    }
    for key in ["spinning_windows_read", "waiting_windows_read"] {
        let share = r[key]["median"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&share), "{key}: {r}");
    }
    assert!(
        r["writes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n.as_u64() >= Some(1)),
        "{r}"
    );
    assert!(stderr.contains("slowdown against alone: spinning"), "{stderr}");
    assert!(stderr.contains("write windows read: spinning"), "{stderr}");
    // A command that cannot write is named, not measured.
    let out = torn()
        .args([
            "bench",
            "--duration",
            "100ms",
            "--writer-cmd",
            "false {path} {token}",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("failed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bench_json_is_versioned_and_gives_the_spread() {
    let out = torn()
        .args(["bench", "--duration", "30ms", "--format", "ini", "--json", "-q"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["schema"], torn::bench::SCHEMA);
    assert_eq!(json["kind"], "reader-overhead");
    let ratio = &json["results"][0]["ratio"];
    let (min, median, max) = (
        ratio["min"].as_f64().unwrap(),
        ratio["median"].as_f64().unwrap(),
        ratio["max"].as_f64().unwrap(),
    );
    assert!(0.0 < min && min <= median && median <= max, "{ratio}");
    assert!(json["warnings"].is_array());
}

#[test]
fn every_man_page_renders_without_a_groff_warning() {
    if std::process::Command::new("groff")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!(
            "SKIP every_man_page_renders_without_a_groff_warning: no groff (apt-get install groff-base)"
        );
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let out = torn().args(["man", "--dir"]).arg(d.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut pages: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pages.sort();
    let names: Vec<String> = pages
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for cmd in [
        "torn.1",
        "torn-gate.1",
        "torn-crash.1",
        "torn-bench.1",
        "torn-man.1",
    ] {
        assert!(names.iter().any(|n| n == cmd), "{cmd} in {names:?}");
    }
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        // Every page another page names exists.
        for (i, _) in text.match_indices("\\fBtorn\\-") {
            let name: String = text[i + 9..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            assert!(
                names.contains(&format!("torn-{name}.1")),
                "{page:?} names torn-{name}(1)"
            );
        }
        let out = std::process::Command::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-z"])
            .arg(page)
            .output()
            .unwrap();
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && warnings.is_empty(),
            "{page:?}: {warnings}"
        );
    }
    // The gate's page has its options, and its examples kept line by line.
    let gate = std::fs::read_to_string(d.path().join("torn-gate.1")).unwrap();
    assert!(
        gate.contains("\\-\\-min\\-windows") || gate.contains("min-windows"),
        "{gate}"
    );
    assert!(gate.contains(".nf"), "{gate}");
    torn()
        .args(["man", "gate"])
        .assert()
        .success()
        .stdout(predicate::str::contains(".TH torn-gate 1"));
    torn()
        .args(["man", "gaet"])
        .assert()
        .code(64)
        .stderr(predicate::str::contains("no command `gaet`"));
}

#[test]
fn bad_values_name_the_flag_or_variable_in_torns_words() {
    /// Arguments, environment, what stderr must say.
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: &[Case] = &[
        (
            &["repro", "hermes", "--readers", "0"],
            &[],
            &["--readers", "must be at least 1"],
        ),
        (
            &["repro", "hermes", "--duration=-1s"],
            &[],
            &["--duration", "cannot be negative"],
        ),
        (
            &["repro", "hermes", "--duration", "5"],
            &[],
            &["--duration", "needs a unit"],
        ),
        (
            &[
                "gate",
                "--format",
                "yaml",
                "--strategy",
                "naive-truncate",
                "--budget",
                "25h",
            ],
            &[],
            &["--budget", "at most 24h"],
        ),
        (
            &[
                "gate",
                "--format",
                "yaml",
                "--strategy",
                "naive-truncate",
                "--control",
                "25h",
            ],
            &[],
            &["--control", "at most 24h"],
        ),
        (
            &["repro", "hermes"],
            &[("TORN_DURATION", "banana")],
            &["--duration", "TORN_DURATION=banana", "not a duration"],
        ),
        (
            &["repro", "hermes"],
            &[("TORN_SEED", "x")],
            &["--seed", "TORN_SEED=x", "not a whole number"],
        ),
        (
            &[
                "gate",
                "--format",
                "yaml",
                "--strategy",
                "naive-truncate",
                "--max-rate",
                "2",
            ],
            &[],
            &["--max-rate", "probability"],
        ),
        (
            &["crash", "--strategy", "naive-truncate", "--writes", "0"],
            &[],
            &["--writes", "at least 1"],
        ),
    ];
    for (args, env, want) in cases {
        let mut c = torn();
        c.args(*args);
        for (k, v) in *env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {stderr}");
        for w in *want {
            assert!(stderr.contains(w), "{args:?} {env:?}: want {w:?} in {stderr}");
        }
        for leak in ["non-zero type", "expected number at", "invalid digit"] {
            assert!(!stderr.contains(leak), "{args:?}: {stderr}");
        }
    }
}

#[test]
fn a_mistyped_template_says_no_such_file_and_suggests_the_built_in() {
    let d = tempfile::tempdir().unwrap();
    for args in [
        &[
            "gate",
            "--format",
            "yaml",
            "--strategy",
            "naive-truncate",
            "--template",
            "hermez",
            "--no-report",
        ][..],
        &[
            "crash",
            "--strategy",
            "naive-truncate",
            "--template",
            "hermez",
            "--no-report",
        ],
    ] {
        let out = torn().current_dir(d.path()).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{stderr}");
        assert!(stderr.contains("--template"), "{stderr}");
        assert!(stderr.contains("no file `hermez` exists"), "{stderr}");
        assert!(stderr.contains("did you mean the built-in `hermes`"), "{stderr}");
        // Nothing announced before the error: the error is all that is said.
        assert!(
            !stderr.contains("torn gate: needs") && !stderr.contains("torn crash:"),
            "{stderr}"
        );
    }
}

#[test]
fn a_bad_trace_is_named_once_with_its_line_and_column() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("t.json");
    std::fs::write(&f, "{\"events\": [\n  {\"end_ns\": 2, \"tid\": 1, \"result\": 0,\n   \"call\": {\"call\": \"close\", \"path\": \"/a/b\", \"fd\": 3}}\n]}\n").unwrap();
    let out = torn()
        .args(["crash", "--no-report", "--trace"])
        .arg(&f)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{stderr}");
    assert_eq!(stderr.matches("missing field `start_ns`").count(), 1, "{stderr}");
    assert!(stderr.contains("at line 3 column"), "{stderr}");
    assert!(
        !stderr.contains("torn crash:"),
        "no headline before the error: {stderr}"
    );
}

#[test]
fn crash_saves_the_trace_it_reads_writes_reports_and_ends_with_one_verdict() {
    let d = tempfile::tempdir().unwrap();
    let trace = d.path().join("w.json");
    let reports = d.path().join("reports");
    let out = torn()
        .args(["crash", "--strategy", "rename-durable", "--save-trace"])
        .arg(&trace)
        .arg("--reports-dir")
        .arg(&reports)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr
            .trim_end()
            .ends_with("verdict: pass (exit 0) over 1 exploration"),
        "{stderr}"
    );
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&trace).unwrap()).unwrap();
    assert_eq!(saved["schema"], "torn.trace/1");
    assert_eq!(saved["source"], "rename-durable");
    let dirs: Vec<_> = std::fs::read_dir(&reports)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    assert!(dirs[0].join("report.md").exists());
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dirs[0].join("report.json")).unwrap()).unwrap();
    assert_eq!(report["schema"], "torn.crash/1");
    assert_eq!(report["verdict"]["exit_code"], 0);
    // The saved trace, crashed again under two models, with --json: one
    // object with a schema, and one verdict line for both explorations.
    let out = torn()
        .args([
            "crash",
            "--no-report",
            "--json",
            "--model",
            "strict",
            "--model",
            "ext4-ordered",
            "--trace",
        ])
        .arg(&trace)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["schema"], "torn.crash/1");
    assert_eq!(json["results"].as_array().unwrap().len(), 2);
    assert_eq!(
        stderr.matches("verdict: ").count(),
        1 + 2,
        "one per exploration, one overall: {stderr}"
    );
    assert!(
        stderr
            .trim_end()
            .ends_with("verdict: pass (exit 0) over 2 explorations"),
        "{stderr}"
    );
    // A trace recorded with another seed is refused, not misjudged.
    torn()
        .args(["crash", "--no-report", "--seed", "9", "--trace"])
        .arg(&trace)
        .assert()
        .code(64)
        .stderr(predicate::str::contains("--seed 1"));
}

#[test]
fn bench_prints_progress_and_its_table_on_stderr_within_80_columns() {
    let out = torn()
        .env("COLUMNS", "80")
        .args([
            "bench",
            "--duration",
            "20ms",
            "--format",
            "yaml",
            "--format",
            "toml",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(out.stdout.is_empty(), "machine output only with --json");
    assert!(
        stderr.contains("[1/4] yaml exact") && stderr.contains("[4/4] toml semantic"),
        "{stderr}"
    );
    assert!(stderr.contains("ratio min median max"), "{stderr}");
    for line in stderr.lines() {
        assert!(line.chars().count() <= 80, "longer than 80 columns: {line}");
    }
}
