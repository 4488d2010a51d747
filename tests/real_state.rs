//! Recipe findings from the files' real state (issue 16, part 1): each
//! example writer in `examples/writers/` gated alone, its verdict resting on
//! what its files really were — not on what its calls asked for.

mod common;

use std::path::PathBuf;

use predicates::prelude::*;

fn example(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/writers")
        .join(name);
    format!("python3 {} {{path}}", p.display())
}

/// A single-writer gate with a short control and 30 windows to prove: the
/// recipe findings show on the first writes, the rest is the pass's floor.
fn gate(writer: &str) -> assert_cmd::assert::Assert {
    common::torn()
        .args([
            "gate",
            "--format",
            "yaml",
            "--no-report",
            "--control",
            "300ms",
            "--min-windows",
            "30",
            "--writer-stdio",
            &example(writer),
        ])
        .assert()
}

#[test]
fn atomicwrites_reopening_its_0600_temp_with_0666_passes() {
    gate("atomicwrites_reopen.py")
        .code(0)
        .stderr(predicate::str::contains("wider mode").not());
}

#[test]
fn a_git_style_lock_file_chmod_before_its_first_byte_passes() {
    gate("git_lock.py").code(0).stderr(
        predicate::str::contains("wider mode")
            .or(predicate::str::contains("same temp file name"))
            .not(),
    );
}

#[test]
fn a_fixed_temp_name_opened_o_excl_passes() {
    gate("excl_fixed_tmp.py")
        .code(0)
        .stderr(predicate::str::contains("same temp file name").not());
}

#[test]
fn a_fixed_temp_name_under_flock_passes_and_its_lock_file_is_not_litter() {
    gate("flock_fixed_tmp.py").code(0).stderr(
        predicate::str::contains("same temp file name")
            .or(predicate::str::contains("left behind"))
            .not(),
    );
}

#[test]
fn a_correct_writer_with_its_own_logs_and_locks_passes() {
    gate("noisy_home.py").code(0).stderr(
        predicate::str::contains("wider mode")
            .or(predicate::str::contains("left behind"))
            .not(),
    );
}

#[test]
fn a_temp_chmod_0644_after_the_token_went_in_fails_on_its_recipe() {
    gate("chmod_after_write.py")
        .code(1)
        .stderr(predicate::str::contains(
            "recipe creates its temp file with a wider mode",
        ));
}

#[test]
fn renaming_the_target_away_before_the_new_file_is_in_fails() {
    gate("rename_away.py")
        .code(1)
        .stderr(predicate::str::contains("recipe renames the target away"));
}

#[test]
fn writing_through_a_descriptor_renamed_over_the_target_fails() {
    gate("write_after_rename.py")
        .code(1)
        .stderr(predicate::str::contains("recipe writes the target in place"));
}

#[test]
fn writing_the_target_through_a_shared_mapping_fails() {
    gate("mmap_target.py")
        .code(1)
        .stderr(predicate::str::contains("recipe writes the target in place"));
}

/// report.json records, per traced run, how many writes fall in an atomic
/// recipe class and the first that does not, with why.
#[test]
fn the_report_counts_writes_in_an_atomic_class_and_names_the_first_outside() {
    let out = common::torn()
        .args([
            "gate",
            "--format",
            "yaml",
            "--no-report",
            "--json",
            "--control",
            "300ms",
            "--min-windows",
            "30",
            "--writer-stdio",
            &example("durable.py"),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cases = r["cases"].as_array().unwrap();
    let control = &cases[0]["trace"]["recipes"]["atomic"];
    assert_eq!(control["classes"].as_array().unwrap().len(), 0, "{control}");
    assert!(
        control["first_outside"]["why"]
            .as_str()
            .unwrap()
            .contains("truncates the target"),
        "{control}"
    );
    let subject = &cases[1]["trace"]["recipes"]["atomic"];
    let writes = subject["writes"].as_u64().unwrap();
    assert!(writes >= 20, "{subject}");
    assert_eq!(subject["classes"][0]["class"], "rename-over", "{subject}");
    assert_eq!(
        subject["classes"][0]["writes"].as_u64(),
        Some(writes),
        "{subject}"
    );
    assert!(subject["first_outside"].is_null(), "{subject}");
}
