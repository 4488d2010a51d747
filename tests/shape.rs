//! Learned shapes: writers that format the file their own way pass the gate
//! (by exact bytes, or by meaning when their bytes vary), a flawed one
//! fails, and bad input is a clear subject error.

mod common;

use std::path::PathBuf;

use assert_cmd::assert::Assert;
use predicates::prelude::*;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn example(name: &str) -> String {
    format!(
        "python3 {} {{path}}",
        root().join("examples/writers").join(name).display()
    )
}

fn test_writer(mode: &str) -> String {
    format!(
        "python3 {} {mode} {{path}}",
        root().join("tests/writers/shapes.py").display()
    )
}

/// The gate on `format` with a short control, no report files, 40 windows.
fn gate(format: &str, writer: &str, extra: &[&str]) -> Assert {
    common::torn()
        .args([
            "gate",
            "--format",
            format,
            "--no-report",
            "--control",
            "300ms",
            "--min-windows",
            "40",
            "--json",
            "--writer-stdio",
            writer,
        ])
        .args(extra)
        .assert()
}

fn report(a: &Assert) -> serde_json::Value {
    serde_json::from_slice(&a.get_output().stdout).expect("the report on stdout")
}

/// Asserts a pass whose subject's shape is `kind`; returns the shape.
fn passes(format: &str, writer: &str, extra: &[&str], kind: &str) -> serde_json::Value {
    let a = gate(format, writer, extra);
    let stderr = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    let a = a.code(0);
    assert!(stderr.contains("pass: 0 anomalies"), "{stderr}");
    let shape = report(&a)["cases"][1]["shape"].clone();
    assert_eq!(shape["kind"], kind, "{shape}");
    assert!(
        shape["template"].as_str().unwrap().contains("{{TOKEN}}"),
        "{shape}"
    );
    shape
}

#[test]
fn json_dump_with_indent_passes_by_exact_bytes() {
    let shape = passes("json", &example("json_dump.py"), &[], "exact");
    assert!(
        !shape["template"].as_str().unwrap().ends_with('\n'),
        "json.dump adds no newline"
    );
}

#[test]
fn yaml_safe_dump_passes_by_exact_bytes() {
    let shape = passes("yaml", &example("yaml_dump.py"), &[], "exact");
    let t = shape["template"].as_str().unwrap();
    assert!(!t.contains('#'), "comments dropped: {t}");
    assert_eq!(shape["slots"], 2, "model and fallback api_key: {t}");
}

#[test]
fn configparser_passes_by_exact_bytes() {
    let shape = passes("ini", &example("configparser_writer.py"), &[], "exact");
    assert!(
        shape["template"]
            .as_str()
            .unwrap()
            .contains("token = {{TOKEN}}\n")
    );
}

#[test]
fn dotenv_writer_passes_by_exact_bytes() {
    let shape = passes("dotenv", &example("dotenv_writer.py"), &[], "exact");
    assert!(
        shape["template"]
            .as_str()
            .unwrap()
            .contains("OPENAI_API_KEY=\"{{TOKEN}}\"")
    );
}

#[test]
fn toml_writer_passes_by_exact_bytes() {
    passes("toml", &example("toml_writer.py"), &[], "exact");
}

#[test]
fn stamping_writer_passes_by_meaning_with_updated_at_volatile() {
    let shape = passes("json", &example("stamped.py"), &[], "semantic");
    assert_eq!(shape["volatile"], serde_json::json!(["updated_at"]));
    assert_eq!(shape["volatile_given"], false);
}

#[test]
fn stamping_writer_passes_with_reader_processes_too() {
    // The learned document travels to reader processes in their job file.
    passes("json", &example("stamped.py"), &["--reader-procs"], "semantic");
}

#[test]
fn json_dump_into_the_target_fails_in_its_own_format() {
    let a = gate("json", &example("json_dump_inplace.py"), &[]).code(1);
    let stderr = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(stderr.contains("fail: empty"), "{stderr}");
    assert_eq!(report(&a)["cases"][1]["shape"]["kind"], "exact");
}

#[test]
fn two_writers_agree_on_one_shape() {
    // Two processes rotating the same file: their shape is learned once and
    // agreed on; what they then do to each other (stale reads, a lost
    // update) is judged as for any writer.
    let a = gate("yaml", &example("yaml_dump.py"), &["--writers", "2"]);
    let code = a.get_output().status.code();
    assert!(matches!(code, Some(0 | 1)), "{code:?}");
    let shape = report(&a)["cases"][1]["shape"].clone();
    assert_eq!(shape["kind"], "exact", "{shape}");
    assert_eq!(shape["warm_up"].as_array().unwrap().len(), 4, "{shape}");
}

/// Asserts a subject error whose stderr holds every one of `needles`.
fn subject_error(format: &str, writer: &str, extra: &[&str], needles: &[&str]) {
    let a = gate(format, writer, extra).code(3);
    let stderr = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    for n in needles {
        assert!(stderr.contains(n), "missing {n:?} in:\n{stderr}");
    }
    assert!(!stderr.contains("pass:"), "{stderr}");
}

#[test]
fn output_without_the_token_is_a_subject_error_with_a_diff() {
    subject_error(
        "yaml",
        &test_writer("no-token"),
        &[],
        &[
            "subject error: learning the writer's shape: warm-up write 1 (token dapi",
            "the file does not contain the token torn sent",
            "--- torn's template (version 0)",
            "+++ warm-up write 1",
            "+  api_key: sk-not-the-token",
        ],
    );
}

#[test]
fn output_the_parser_rejects_is_a_subject_error() {
    subject_error(
        "yaml",
        &test_writer("unparseable"),
        &[],
        &[
            "warm-up write 1 (token dapi",
            "the client's parser (yaml) rejects what the writer wrote",
        ],
    );
}

#[test]
fn a_shape_that_drifts_on_every_write_is_a_subject_error() {
    subject_error(
        "yaml",
        &test_writer("growing"),
        &[],
        &[
            "learning the writer's shape: warm-up write 3 (token dapi",
            "changes shape on every write in a way no volatile field explains",
            "warm-up write 2 and warm-up write 3 differ at `note_3`",
            "+++ warm-up write 3",
            "+note_3: added",
        ],
    );
}

#[test]
fn volatile_fields_are_found_or_given() {
    let shape = passes("yaml", &test_writer("rotated-at"), &[], "semantic");
    assert_eq!(shape["volatile"], serde_json::json!(["rotated_at"]));
    let shape = passes(
        "yaml",
        &test_writer("rotated-at"),
        &["--volatile", "rotated_at"],
        "semantic",
    );
    assert_eq!(shape["volatile_given"], true);
    subject_error(
        "yaml",
        &test_writer("rotated-at"),
        &["--volatile", "model.default"],
        &["outside the volatile fields given (`model.default`): at `rotated_at`"],
    );
}

#[test]
fn writers_that_disagree_on_the_shape_are_a_subject_error() {
    subject_error(
        "yaml",
        &test_writer("by-instance"),
        &["--writers", "2"],
        &[
            "warm-up write 4 (writer 1)",
            "the writers must agree on one shape",
        ],
    );
}

#[test]
fn the_start_file_can_be_absent_empty_or_the_users() {
    let shape = passes(
        "yaml",
        &test_writer("creates"),
        &["--seed-file", "absent"],
        "exact",
    );
    assert_eq!(shape["start"], "no file (the writer creates it)");
    passes(
        "yaml",
        &test_writer("creates"),
        &["--seed-file", "empty"],
        "exact",
    );
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("config.yaml");
    std::fs::write(
        &own,
        "# my own config\nmodel:\n  api_key: sk-mine\n  default: my-model\nfallback_providers: []\n",
    )
    .unwrap();
    let shape = passes(
        "yaml",
        &example("yaml_dump.py"),
        &["--seed-file", own.to_str().unwrap()],
        "exact",
    );
    assert!(
        shape["template"].as_str().unwrap().contains("default: my-model"),
        "{shape}"
    );
    common::torn()
        .args([
            "gate",
            "--format",
            "yaml",
            "--no-report",
            "--seed-file",
            "/nonexistent/x.yaml",
        ])
        .args(["--writer-stdio", &example("yaml_dump.py")])
        .assert()
        .code(64)
        .stderr(predicate::str::contains("seed_file").or(predicate::str::contains("seed-file")));
}
