//! `torn crash` end to end on trace files: hand-built traces in the shapes
//! of the built-in strategies, written as JSON, crashed at every point.

mod common;

use std::path::{Path, PathBuf};

use common::torn;
use predicates::prelude::*;
use torn::classify::Classifier;
use torn::crash::input::TraceFile;
use torn::crash::shapes;
use torn::format::Template;
use torn::token::TokenCodec;

/// Where the traced writer wrote: a path that does not exist here, since
/// crash states are built in the scratch directory, never at the target.
const TARGET: &str = "/nonexistent-torn-home/.hermes/config.yaml";

/// Writes `shape`'s trace (3 writes, seed 1, Hermes template) to `dir`; with
/// `bare`, as a plain array of events (target and acks inferred).
fn trace_file(dir: &Path, shape: &str, bare: bool) -> PathBuf {
    let c = Classifier::new(Template::builtin("hermes").unwrap(), TokenCodec::new(1), u64::MAX);
    let versions: Vec<Vec<u8>> = (1..=3).map(|v| c.template.render_vec(&c.codec, v)).collect();
    let s = shapes::build(shape, Path::new(TARGET), &versions).unwrap();
    let path = dir.join(format!("{shape}.json"));
    let json = if bare {
        serde_json::to_string(&s.events).unwrap()
    } else {
        serde_json::to_string(&TraceFile {
            schema: None,
            source: None,
            seed: None,
            events: s.events,
            target: Some(TARGET.into()),
            initial_version: Some(0),
            acks: Some(s.acks),
            shape: None,
        })
        .unwrap()
    };
    std::fs::write(&path, json).unwrap();
    path
}

fn crash(trace: &Path) -> assert_cmd::Command {
    let mut c = torn();
    c.args(["crash", "--no-report", "--trace", trace.to_str().unwrap()]);
    c
}

#[test]
fn rename_without_fsync_fails_and_names_the_first_offending_state() {
    let d = tempfile::tempdir().unwrap();
    let f = trace_file(d.path(), "rename-unique-tmp", false);
    crash(&f)
        .args(["--model", "strict", "--model", "ext4-ordered"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("[strict]: 12 crash points"))
        .stderr(predicate::str::contains("(exhaustive;"))
        .stderr(predicate::str::contains(
            "first empty: crash after #2 rename(.config.yaml.000001.tmp → config.yaml)",
        ))
        .stderr(predicate::str::contains(
            "rename(.config.yaml.000001.tmp → config.yaml) persisted",
        ))
        .stderr(predicate::str::contains("not atomic (empty"))
        .stderr(predicate::str::contains("[ext4-ordered]"))
        // ext4: never empty (auto_da_alloc), but zeros (dioread_nolock).
        .stderr(predicate::str::contains("not atomic (torn-unparseable"));
    assert!(!Path::new(TARGET).parent().unwrap().exists());
}

#[test]
fn rename_durable_passes_from_a_bare_array_of_events() {
    let d = tempfile::tempdir().unwrap();
    let f = trace_file(d.path(), "rename-durable", true);
    crash(&f)
        .args(["--model", "ext4-ordered", "--model", "strict"])
        .assert()
        .code(0)
        .stderr(predicate::str::contains("atomic and durable in every state").count(2));
}

#[test]
fn fsync_without_the_directory_fails_durability_only_and_json_says_so() {
    let d = tempfile::tempdir().unwrap();
    let f = trace_file(d.path(), "fsync-file-only", false);
    let out = crash(&f)
        .args(["--json", "-q"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "torn.crash/1");
    let r = &v["results"][0];
    assert_eq!(r["subject"], f.display().to_string());
    assert_eq!(r["model"], "strict");
    assert_eq!(r["verdict"]["atomic"], true);
    assert_eq!(r["verdict"]["durable"], false);
    assert_eq!(r["verdict"]["status"], "fail");
    assert!(r["outcomes"]["lost-ack"].as_u64().unwrap() > 0);
    assert_eq!(r["outcomes"]["empty"], 0);
    let steps = r["first"]["lost-ack"]["steps"].as_array().unwrap();
    assert!(
        steps
            .iter()
            .any(|s| s["persisted"] == false && s["op"].as_str().unwrap().starts_with("rename("))
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "verdict: anomalies-found (exit 1) over 1 exploration\n",
        "quiet: the verdict line only"
    );
}

#[test]
fn naive_truncate_loses_the_file() {
    let d = tempfile::tempdir().unwrap();
    let f = trace_file(d.path(), "naive-truncate", false);
    crash(&f)
        .args(["--model", "ext4-ordered"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "first empty: crash after #0 open(config.yaml, O_WRONLY|O_CREAT|O_TRUNC)",
        ))
        .stderr(predicate::str::contains("target held an empty file"));
}

#[test]
fn a_sampled_pass_is_inconclusive() {
    let d = tempfile::tempdir().unwrap();
    let f = trace_file(d.path(), "rename-durable", false);
    crash(&f)
        .args(["--max-states", "2", "--seed", "1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("sampled at"))
        .stderr(predicate::str::contains("not every state was explored"));
}

#[test]
fn usage_errors() {
    torn()
        .args(["crash"])
        .assert()
        .code(64)
        .stderr(predicate::str::contains("--strategy NAME"));
    torn()
        .args(["crash", "--strategy", "no-such"])
        .assert()
        .code(64)
        .stderr(predicate::str::contains("rename-durable"));
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("bad.json");
    std::fs::write(&bad, "{\"events\": 3}").unwrap();
    crash(&bad)
        .assert()
        .code(64)
        .stderr(predicate::str::contains("bad.json"));
    let f = trace_file(d.path(), "naive-truncate", false);
    let stripped = std::fs::read_to_string(&f).unwrap();
    let stripped = strip_payloads(&stripped);
    std::fs::write(&f, stripped).unwrap();
    crash(&f)
        .assert()
        .code(64)
        .stderr(predicate::str::contains("payload"));
}

/// Drops every `"data":"..."` field.
fn strip_payloads(json: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(json).unwrap();
    for e in v["events"].as_array_mut().unwrap() {
        e["call"].as_object_mut().unwrap().remove("data");
    }
    v.to_string()
}

/// The expected results of `torn crash` on recorded built-in strategies and
/// on the example writers, traced with ptrace (as root in CI; elsewhere the
/// external part says why it skips).
#[test]
fn built_in_strategies_and_example_writers_crash_as_expected() {
    let expect = |args: &[&str], code: i32, needles: &[&str]| {
        let out = torn().args(["crash", "--no-report"]).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        for n in needles {
            assert!(stderr.contains(n), "{args:?} should say `{n}`: {stderr}");
        }
    };
    expect(
        &["--strategy", "naive-truncate"],
        1,
        &["not atomic (empty", "not durable"],
    );
    expect(
        &["--strategy", "rename-unique-tmp", "--model", "ext4-ordered"],
        1,
        // dioread_nolock: the renamed file's size can commit before its data.
        &["verdict: not atomic (torn-unparseable", "not durable"],
    );
    expect(
        &[
            "--strategy",
            "rename-durable",
            "--model",
            "strict",
            "--model",
            "ext4-ordered",
        ],
        0,
        &["atomic and durable in every state"],
    );
    if let Err(why) = torn::trace::ptrace::available() {
        eprintln!("SKIP the example writers: {why}");
        return;
    }
    let example = |name: &str| {
        format!(
            "python3 {}/examples/writers/{name} {{path}}",
            env!("CARGO_MANIFEST_DIR")
        )
    };
    expect(
        &["--writer-stdio", &example("durable.py")],
        0,
        &["atomic and durable in every state"],
    );
    // Fsyncs the file but not the directory: durability only, never torn.
    expect(
        &["--writer-stdio", &example("fsync_no_dir.py")],
        1,
        &["verdict: atomic; not durable"],
    );
    expect(
        &["--writer-stdio", &example("naive.py")],
        1,
        &["not atomic (empty"],
    );
}

/// An external writer's trace keeps the shape learned when it was recorded:
/// its replay judges the states by the writer's own file, as the recording
/// run did, and not by torn's template (PyYAML's layout is not Hermes').
#[test]
fn a_saved_external_trace_is_replayed_against_the_writers_own_shape() {
    if let Err(why) = torn::trace::ptrace::available() {
        eprintln!("SKIPPED a_saved_external_trace_is_replayed_against_the_writers_own_shape: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("yaml_dump.json");
    let writer = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/writers/yaml_dump.py");
    let command = format!("python3 {} {{path}} {{token}}", writer.display());
    let mut record = common::torn();
    record
        .args([
            "crash",
            "--format",
            "yaml",
            "--no-report",
            "--writer-cmd",
            &command,
            "--save-trace",
        ])
        .arg(&saved)
        .assert()
        .code(0);
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(&saved).unwrap()).unwrap();
    assert_eq!(file["shape"]["format"], "yaml", "{}", file["shape"]);
    assert!(file["shape"]["text"].as_str().unwrap().contains("{{TOKEN}}"));
    let replay = |path: &Path| {
        common::torn()
            .args(["crash", "--format", "yaml", "--no-report", "--trace"])
            .arg(path)
            .output()
            .unwrap()
    };
    let out = replay(&saved);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The same trace without its shape is judged by torn's template: the
    // writer's own layout reads as torn-parseable, which is why it is kept.
    let mut bare = file.clone();
    bare.as_object_mut().unwrap().remove("shape");
    let bare_path = dir.path().join("bare.json");
    std::fs::write(&bare_path, serde_json::to_vec(&bare).unwrap()).unwrap();
    let out = replay(&bare_path);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("torn-parseable"));
}
