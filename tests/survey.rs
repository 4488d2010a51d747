//! harness/survey.sh end to end on two shell idioms (no installs, ext4
//! only, short gates): a row per tool in README.md and survey.json, with the
//! evidence of a failure linked.

use std::process::Command;

#[test]
fn the_survey_tabulates_a_failing_and_a_passing_tool() {
    let out = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let status = Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/harness/survey.sh"))
        .args(["cat-redirect", "sed-i"])
        .env("TORN_BIN", env!("CARGO_BIN_EXE_torn"))
        .env("TORN_SURVEY_INSTALL", "0")
        .env("TORN_SURVEY_FS", "ext4")
        .env("TORN_SURVEY_OUT", out.path())
        .env("TORN_SURVEY_DIR", work.path())
        .env("TORN_SURVEY_BUDGET", "4s")
        .env("TORN_SURVEY_WINDOWS", "30")
        .env("TORN_SURVEY_KILLS", "3")
        .status()
        .unwrap();
    assert!(status.success());
    let readme = std::fs::read_to_string(out.path().join("README.md")).unwrap();
    let row = |tool: &str| {
        readme
            .lines()
            .find(|l| l.starts_with(&format!("| {tool} |")))
            .unwrap_or_else(|| panic!("no row for {tool}:\n{readme}"))
            .to_string()
    };
    let cat = row("cat-redirect");
    assert!(
        cat.contains("runs/cat-redirect/ext4-single/report.md") && cat.contains("| fail |"),
        "{cat}"
    );
    assert!(cat.contains("**empty"), "{cat}");
    let sed = row("sed-i");
    assert!(sed.contains("| exact |") && sed.contains("0600 → 0600"), "{sed}");
    assert!(sed.contains("replaced by a regular file"), "{sed}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("survey.json")).unwrap()).unwrap();
    let tools = json["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 2);
    // The recipe column: the single-writer run's most used recipe and its
    // findings (or why the writer ran untraced, where ptrace is refused).
    for t in tools {
        let trace = &t["runs"]["ext4"]["single"]["trace"];
        assert!(t["recipe"].is_string() || trace["untraced"].is_string(), "{t}");
        assert_eq!(t["recipe"], trace["recipe"], "{t}");
        assert_eq!(t["findings"], trace["findings"], "{t}");
    }
    let cat_json = tools.iter().find(|t| t["tool"] == "cat-redirect").unwrap();
    if cat_json["recipe"].is_string() {
        assert!(
            cat_json["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["finding"] == "truncates-target" && f["anomaly"] == true),
            "{cat_json}"
        );
        assert!(cat.contains("**truncates-target**"), "{cat}");
    }
    assert!(out.path().join("runs/cat-redirect/ext4-single/evidence").is_dir());
}
