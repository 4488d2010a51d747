//! Gates on credentials files of every kind, with no template and no
//! client key: torn learns where the token is (a line of `.npmrc` under a
//! key holding `:`, a URL in `.git-credentials` or pip.conf, an htpasswd
//! line, a kubeconfig list element, a base64-encoded password) and judges
//! reads by exact bytes. For each kind the safe writer of
//! `examples/writers/` (unique temp, fsync, rename) passes and the same
//! writer with `--truncate` (open "w", write) fails.

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;

fn writer(name: &str, truncate: bool) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/writers")
        .join(name);
    let mode = if truncate { " --truncate" } else { "" };
    format!("python3 {}{mode} {{path}}", p.display())
}

/// A seed file with `text`, in a directory kept for the test's duration.
fn seed(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Runs a small gate (30 windows, 20 s budget, 500 ms control) and returns
/// its exit code and report.
fn gate(args: &[&str], writer: &str) -> (i32, Value) {
    let out = common::torn()
        .args(["gate", "--no-report", "--json", "--min-windows", "30"])
        .args(["--budget", "20s", "--control", "500ms"])
        .args(args)
        .args(["--writer-stdio", writer])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("gate printed no JSON report ({e}); stderr:\n{stderr}"));
    (out.status.code().unwrap_or(-1), report)
}

/// The subject case's learned shape.
fn shape(report: &Value) -> &Value {
    let case = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["label"].as_str().unwrap_or_default().starts_with("subject"))
        .expect("a subject case");
    &case["shape"]
}

/// The safe writer passes with the expected learned shape; the truncating
/// one fails.
fn check(args: &[&str], script: &str, format: &str, client_key: &str, template_has: &str) {
    let (code, report) = gate(args, &writer(script, false));
    let s = shape(&report);
    assert_eq!(code, 0, "{script}: the safe writer should pass; shape {s:#}");
    assert_eq!(s["kind"], "exact", "{script}: {s:#}");
    assert_eq!(s["format"], format, "{script}: {s:#}");
    assert_eq!(s["client_key"], client_key, "{script}: {s:#}");
    let template = s["template"].as_str().unwrap();
    assert!(template.contains(template_has), "{script}: {template}");
    let (code, report) = gate(args, &writer(script, true));
    assert_eq!(code, 1, "{script} --truncate should fail: {}", report["verdict"]);
}

#[test]
fn npmrc_token_under_a_key_holding_a_colon_outside_any_section() {
    let dir = tempfile::tempdir().unwrap();
    let start = seed(
        &dir,
        "npmrc",
        "registry=https://registry.npmjs.org/\nfund=false\n",
    );
    check(
        &["--target", ".npmrc", "--seed-file", start.to_str().unwrap()],
        "npmrc.py",
        "raw",
        "//registry.npmjs.org/:_authToken=",
        "\n//registry.npmjs.org/:_authToken={{TOKEN}}\n",
    );
}

#[test]
fn git_credentials_token_inside_a_url() {
    let dir = tempfile::tempdir().unwrap();
    let start = seed(&dir, "creds", "https://alice:ghp_other@gitlab.com\n");
    check(
        &[
            "--target",
            ".git-credentials",
            "--seed-file",
            start.to_str().unwrap(),
        ],
        "git_credentials.py",
        "raw",
        "https://torn-bot:",
        "https://alice:ghp_other@gitlab.com\nhttps://torn-bot:{{TOKEN}}@github.com\n",
    );
}

#[test]
fn htpasswd_user_colon_token_lines() {
    let dir = tempfile::tempdir().unwrap();
    let start = seed(&dir, "htpasswd", "admin:$apr1$x1$abcdefghijklmnopqrstu/\n");
    check(
        &["--target", ".htpasswd", "--seed-file", start.to_str().unwrap()],
        "htpasswd.py",
        "raw",
        "deploy:",
        "deploy:{{TOKEN}}\n",
    );
}

#[test]
fn kubeconfig_token_in_a_list_element() {
    check(
        &[
            "--format",
            "yaml",
            "--target",
            ".kube/config",
            "--seed-file",
            "absent",
        ],
        "kubeconfig.py",
        "yaml",
        "users[0].user.token",
        "users:\n- name: ci\n  user:\n    token: {{TOKEN}}\n",
    );
}

#[test]
fn pip_conf_token_inside_a_url_value() {
    let dir = tempfile::tempdir().unwrap();
    let start = seed(&dir, "pip.conf", "[global]\ntimeout = 30\n");
    check(
        &[
            "--target",
            ".config/pip/pip.conf",
            "--seed-file",
            start.to_str().unwrap(),
        ],
        "pip_conf.py",
        "ini",
        "global.index-url",
        "index-url = https://__token__:{{TOKEN}}@pypi.example.com/simple\n",
    );
}

#[test]
fn keyring_password_stored_base64() {
    check(
        &[
            "--target",
            ".local/share/python_keyring/keyring_pass.cfg",
            "--seed-file",
            "absent",
        ],
        "keyring_b64.py",
        "ini",
        "torn-api.ci",
        "ci = {{base64:{{TOKEN}}}}\n",
    );
}

#[test]
fn docker_auth_base64_of_user_colon_token() {
    check(
        &["--target", ".docker/config.json", "--seed-file", "absent"],
        "docker_auth.py",
        "json",
        "auths.\"ghcr.io\".auth",
        "\"auth\": \"{{base64:ci-bot:{{TOKEN}}}}\"",
    );
}

/// A writer whose bytes vary apart from the token in a file no parser
/// fits cannot be judged by meaning: a subject error that says so and
/// names the format to give, never a pass.
#[test]
fn varying_bytes_without_a_parser_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("stamped_lines.py");
    std::fs::write(
        &script,
        format!(
            "import sys, time\nsys.path.insert(0, {:?})\nfrom _kinds import run\n\
             run(lambda old, token: f'# written {{time.time_ns()}}\\ndeploy:{{token}}\\n')\n",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/writers")
        ),
    )
    .unwrap();
    let (code, report) = gate(
        &["--target", ".htpasswd", "--seed-file", "absent"],
        &format!("python3 {} {{path}}", script.display()),
    );
    let s = shape(&report);
    assert_eq!(code, 3, "{s:#}");
    let error = s["error"].as_str().unwrap();
    assert!(
        error.contains("no parser") && error.contains("--format"),
        "{error}"
    );
}
