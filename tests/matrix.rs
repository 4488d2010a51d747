//! Matrix runs, merging, and the HTML report.

mod common;

use std::path::{Path, PathBuf};

use common::torn;

/// Parses XHTML (which starts with a DOCTYPE) as XML.
fn parse_xhtml(text: &str) -> Result<roxmltree::Document<'_>, roxmltree::Error> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(text, opts)
}

/// A short `torn repro codex` writing its report under `reports`.
fn quick_codex_run(reports: &str) {
    torn()
        .args([
            "repro",
            "codex",
            "--duration",
            "150ms",
            "-q",
            "--reports-dir",
            reports,
        ])
        .assert()
        .code(predicates::prelude::predicate::in_iter([0, 2]));
}

fn only_dir(parent: &Path) -> PathBuf {
    let dirs: Vec<_> = std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

#[test]
fn html_report_is_well_formed_and_has_the_plots() {
    let reports = tempfile::tempdir().unwrap();
    quick_codex_run(reports.path().to_str().unwrap());
    let html = std::fs::read_to_string(only_dir(reports.path()).join("report.html")).unwrap();
    let doc = parse_xhtml(&html).expect("report.html is well-formed XHTML");
    let svgs = doc.descendants().filter(|n| n.has_tag_name("svg")).count();
    // Anomaly rates, write latency, and one timeline per strategy (5).
    assert_eq!(svgs, 2 + 5, "plots in the page");
    assert!(!html.contains("plot failed"), "every plot drew");
    assert!(html.contains("naive-truncate: anomalies against writes"));
    // What report.md has, a glossary, numbers that never wrap, stated buckets.
    for part in [
        "<h2>Evidence</h2>",
        "<h2>Environment</h2>",
        "<h2>What the columns mean</h2>",
        "<dt>exposed</dt>",
        "<dt>foreign</dt>",
        "white-space:nowrap",
        "ms bucket",
    ] {
        assert!(html.contains(part), "report.html lacks {part}");
    }
    // Tick labels read like numbers: no "10000.0", no "5.0" on a count axis.
    let ticks: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect();
    assert!(!ticks.is_empty());
    for t in ticks {
        assert!(!t.ends_with(".0"), "tick {t}");
    }
}

#[test]
fn matrix_and_merge_round_trip() {
    let work = tempfile::tempdir().unwrap();
    let (a, b) = (work.path().join("a"), work.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let reports = work.path().join("reports");
    let out = torn()
        .args(["matrix", "databricks", "--duration", "150ms"])
        .args([
            "--fs",
            &format!("first={}", a.display()),
            "--fs",
            &format!("second={}", b.display()),
        ])
        .args(["--reports-dir", reports.to_str().unwrap()])
        .assert()
        .code(predicates::prelude::predicate::in_iter([0, 2]))
        .get_output()
        .clone();
    // Each progress line names the filesystem it is about.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("first [1/") && stderr.contains("second [1/"),
        "{stderr}"
    );
    let matrix_dir = only_dir(&reports);
    assert!(
        matrix_dir
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .contains("-matrix-databrickscfg-ini")
    );
    let m = torn::matrix::Matrix::load_reports(&matrix_dir.join("matrix.json")).unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].environment.fs_label, "first");
    assert_eq!(m[1].environment.fs_label, "second");
    let md = std::fs::read_to_string(matrix_dir.join("matrix.md")).unwrap();
    assert!(md.contains("| first |") && md.contains("| second |"));
    assert!(
        !a.join("torn").exists(),
        "matrix removes the scratch dirs it made"
    );

    // A single run's report.json merges with the matrix.
    let single = work.path().join("single");
    quick_codex_run(single.to_str().unwrap());
    let single_json = only_dir(&single).join("report.json");
    let out = work.path().join("merged");
    torn()
        .args([
            "merge",
            matrix_dir.join("matrix.json").to_str().unwrap(),
            single_json.to_str().unwrap(),
        ])
        .args(["--out", out.to_str().unwrap(), "-q"])
        .assert()
        .code(predicates::prelude::predicate::in_iter([0, 2]));
    let merged = torn::matrix::Matrix::load_reports(&out.join("matrix.json")).unwrap();
    assert_eq!(merged.len(), 3);
    // Nothing is lost or changed on the way through.
    let before: Vec<serde_json::Value> = m
        .iter()
        .chain(torn::matrix::Matrix::load_reports(&single_json).unwrap().iter())
        .map(|r| serde_json::to_value(r).unwrap())
        .collect();
    let after: Vec<serde_json::Value> = merged.iter().map(|r| serde_json::to_value(r).unwrap()).collect();
    assert_eq!(before, after);
    // And merging the merged matrix again is the identity on its reports.
    let again = torn::matrix::Matrix::merge("again", &[out.join("matrix.json")]).unwrap();
    assert_eq!(
        serde_json::to_value(&again.reports).unwrap(),
        serde_json::to_value(&merged).unwrap()
    );
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(parse_xhtml(&page).is_ok());
    // The page starts with the filesystem × strategy summary.
    let first_h2 = page.find("<h2>").unwrap();
    assert!(page[first_h2..].starts_with("<h2>Summary: strategy × filesystem</h2>"));
}

#[test]
fn merge_reads_the_first_schemas_too() {
    // A torn.report/1 and a torn.matrix/1 as the first torn wrote them: no
    // `foreign` outcome (it came later), no `expect_reason`.
    let work = tempfile::tempdir().unwrap();
    let runs = work.path().join("runs");
    quick_codex_run(runs.to_str().unwrap());
    let mut old: serde_json::Value =
        serde_json::from_slice(&std::fs::read(only_dir(&runs).join("report.json")).unwrap()).unwrap();
    old["schema"] = "torn.report/1".into();
    for case in old["cases"].as_array_mut().unwrap() {
        case["outcomes"]
            .as_array_mut()
            .unwrap()
            .retain(|o| o["outcome"] != "foreign");
    }
    let single = work.path().join("old-report.json");
    std::fs::write(&single, serde_json::to_vec(&old).unwrap()).unwrap();
    let matrix = work.path().join("old-matrix.json");
    let old_matrix = serde_json::json!({
        "schema": "torn.matrix/1", "created": "2026-01-01T00:00:00Z", "title": "old", "reports": [old],
    });
    std::fs::write(&matrix, serde_json::to_vec(&old_matrix).unwrap()).unwrap();
    let out = work.path().join("merged");
    torn()
        .args(["merge", single.to_str().unwrap(), matrix.to_str().unwrap(), "-q"])
        .args(["--out", out.to_str().unwrap()])
        .assert()
        .code(predicates::prelude::predicate::in_iter([0, 2]));
    let merged: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("matrix.json")).unwrap()).unwrap();
    assert_eq!(merged["schema"], torn::matrix::SCHEMA);
    let reports = merged["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0]["schema"], "torn.report/1", "each report keeps its own");
    let foreign = &reports[0]["cases"][0]["outcomes"][7];
    assert_eq!(foreign["outcome"], "foreign");
    assert_eq!(
        foreign["estimate"]["count"], 0,
        "an outcome the old torn did not know counts 0"
    );
}

#[test]
fn merge_names_a_bad_file() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("x.json");
    std::fs::write(&f, "{\"schema\": \"something/9\"}").unwrap();
    torn()
        .args([
            "merge",
            f.to_str().unwrap(),
            "--out",
            d.path().join("o").to_str().unwrap(),
        ])
        .assert()
        .code(74)
        .stderr(predicates::str::contains("x.json: unknown schema"));
}

#[test]
fn matrix_on_tmpfs_and_a_loop_filesystem_as_root() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("SKIPPED matrix_on_tmpfs_and_a_loop_filesystem_as_root: mounting filesystems needs root");
        return;
    }
    let guard = common::Harness::new("test");
    let work = guard.work.clone();
    let (fs, why) = guard.up(&["tmpfs", "ext4"]);
    if fs.len() < 2 {
        eprintln!("SKIPPED matrix_on_tmpfs_and_a_loop_filesystem_as_root: could not mount ({why})");
        return;
    }
    let reports = tempfile::tempdir().unwrap();
    let mut cmd = torn();
    cmd.args([
        "matrix",
        "databricks",
        "--duration",
        "200ms",
        "-q",
        "--reports-dir",
        reports.path().to_str().unwrap(),
    ]);
    for f in &fs {
        cmd.args(["--fs", f]);
    }
    cmd.assert().code(predicates::prelude::predicate::in_iter([0, 2]));
    let m = torn::matrix::Matrix::load_reports(&only_dir(reports.path()).join("matrix.json")).unwrap();
    let types: Vec<&str> = m.iter().map(|r| r.environment.fs_type.as_str()).collect();
    assert_eq!(types, ["tmpfs", "ext4"]);
    assert!(
        m[1].environment.mount_source.starts_with("/dev/loop"),
        "{:?}",
        m[1].environment
    );
    for r in &m {
        let naive = r.cases.iter().find(|c| c.label == "naive-truncate").unwrap();
        assert!(
            naive.anomalies.count > 0,
            "the control tore on {}",
            r.environment.fs_type
        );
    }
    drop(guard);
    assert!(!work.exists(), "harness cleaned up");
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(!mounts.contains(work.to_str().unwrap()), "nothing left mounted");
}

#[test]
fn merge_tells_two_runs_on_the_same_filesystem_apart_by_their_source() {
    let work = tempfile::tempdir().unwrap();
    let (a, b) = (work.path().join("job-a"), work.path().join("job-b"));
    quick_codex_run(a.to_str().unwrap());
    quick_codex_run(b.to_str().unwrap());
    let (ja, jb) = (only_dir(&a).join("report.json"), only_dir(&b).join("report.json"));
    // Each in a directory named after its job, as CI artifacts are.
    let (ra, rb) = (a.join("report.json"), b.join("report.json"));
    std::fs::copy(&ja, &ra).unwrap();
    std::fs::copy(&jb, &rb).unwrap();
    let m = torn::matrix::Matrix::merge("t", &[ra, rb]).unwrap();
    let labels: Vec<&str> = m
        .reports
        .iter()
        .map(|r| r.environment.fs_label.as_str())
        .collect();
    assert_ne!(labels[0], labels[1], "{labels:?}");
    assert!(
        labels[0].ends_with("· job-a") && labels[1].ends_with("· job-b"),
        "{labels:?}"
    );
    let page = torn::report::html::render("t", &m.reports);
    assert!(page.contains("· job-a") && page.contains("· job-b"));
}
