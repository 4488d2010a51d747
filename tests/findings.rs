//! What the writer gets wrong besides tearing: each finding shown on a
//! subject that has the flaw and absent from one that does not.

mod common;

use common::{case, run_text};
use torn::classify::Outcome;
use torn::report::{CaseStatus, RunStatus};

#[test]
fn rename_without_a_lock_loses_updates_and_the_locked_variant_does_not() {
    let r = run_text(
        "name: lost\nformat: yaml\ntemplate: hermes-two-fields\nduration: 800ms\nrmw: true\nstrategies:\n  \
         - strategy: rename-durable\n  - strategy: rename-durable-locked\n",
    );
    let unlocked = case(&r, "rename-durable");
    assert!(unlocked.outcome(Outcome::Stale).count > 0, "{unlocked:?}");
    assert_eq!(unlocked.status, CaseStatus::Reproduced);
    let locked = case(&r, "rename-durable-locked");
    assert_eq!(
        locked.anomalous_reads() + locked.writer_findings(),
        0,
        "{locked:?}"
    );
    assert_eq!(locked.regressions, 0);
    // Enough writes to lose one; reads overlapped them (how many depends
    // on the machine's load).
    assert!(locked.writes.committed > 10 && locked.exposed_reads > 0);
    assert_eq!(locked.status, CaseStatus::Pass);
    assert_eq!(r.verdict.status, RunStatus::Pass);
}

#[test]
fn a_default_mode_temp_file_widens_a_credentials_file_and_rename_durable_does_not() {
    // The flaw needs a permissive umask (the usual 022), as real shells have.
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    let r = run_text(
        "name: modes\nformat: ini\ntarget_mode: \"0600\"\nwatch_modes: true\nduration: 600ms\nstrategies:\n  \
         - strategy: naive-truncate\n  - strategy: rename-fixed-tmp\n  - strategy: rename-durable\n  \
         - strategy: rename-fixed-tmp\n    label: known flaw\n    expect: anomalies\n    expect_reason: shown on purpose\n",
    );
    nix::sys::stat::umask(old);
    // The same flaw, expected by its entry with a reason: shown, not failed.
    let known = case(&r, "known flaw");
    assert_eq!(known.status, CaseStatus::Expected, "{}", known.reason);
    assert!(
        r.verdict
            .lines
            .iter()
            .any(|l| l.starts_with("expected: known flaw showed ")
                && l.contains("mode widened 0600 → 0644")
                && l.ends_with("— shown on purpose")),
        "{:?}",
        r.verdict.lines
    );
    let flawed = case(&r, "rename-fixed-tmp");
    assert!(flawed.watch.mode_widened, "{:?}", flawed.watch);
    assert_eq!(
        (flawed.watch.mode_before, flawed.watch.mode_after),
        (0o600, 0o644)
    );
    assert!(
        flawed.watch.exposures > 0,
        "the token sat in a 0644 file: {:?}",
        flawed.watch
    );
    assert_eq!(flawed.status, CaseStatus::Fail);
    let durable = case(&r, "rename-durable");
    assert!(
        durable.watch.samples > 10,
        "the directory was watched: {:?}",
        durable.watch
    );
    assert_eq!(durable.watch.count(), 0, "{:?}", durable.watch);
    assert_eq!(durable.watch.mode_after, 0o600);
    assert_eq!(r.verdict.status, RunStatus::AnomaliesFound);
}

#[test]
fn a_symlinked_target_is_replaced_by_rename_and_kept_by_in_place_writes() {
    let r = run_text(
        "name: link\nformat: yaml\ntarget_symlink: true\nduration: 300ms\nstrategies:\n  \
         - strategy: naive-truncate\n  - strategy: rename-durable\n",
    );
    let kept = case(&r, "naive-truncate")
        .watch
        .symlink
        .clone()
        .expect("symlink finding");
    assert!(kept.link_survived && kept.linked_file_current, "{kept:?}");
    let replaced = case(&r, "rename-durable")
        .watch
        .symlink
        .clone()
        .expect("symlink finding");
    assert!(
        !replaced.link_survived && !replaced.linked_file_current,
        "{replaced:?}"
    );
    assert_eq!(replaced.linked_file, Outcome::Stale);
    // Reported, not judged: the rename strategy still passes.
    assert_eq!(case(&r, "rename-durable").status, CaseStatus::Pass);
}

#[test]
fn killed_writers_leave_empty_files_or_temp_files_and_in_place_leaves_neither() {
    // Killed-writer trials run `torn __writer` children: use the real binary.
    let scenario = torn::scenario::Scenario::parse(
        "name: kill\nformat: yaml\nduration: 200ms\nkill_trials: 30\nseed: 4\nstrategies:\n  \
         - strategy: naive-truncate\n  - strategy: in-place\n  - strategy: rename-durable\n",
        "test",
    )
    .unwrap();
    let opts = torn::run::RunOptions {
        reader_exe: Some(env!("CARGO_BIN_EXE_torn").into()),
        ..Default::default()
    };
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let r = torn::run::run(&scenario, "test", std::path::Path::new("."), &opts, &cancel)
        .unwrap()
        .report;
    let kills = |label: &str| case(&r, label).kill_trials.clone().expect("trials ran");
    let naive = kills("naive-truncate");
    assert_eq!(naive.trials, 30);
    assert!(
        naive
            .after_kill
            .iter()
            .any(|(o, n)| *o == Outcome::Empty && *n > 0),
        "{naive:?}"
    );
    let durable = kills("rename-durable");
    assert_eq!(
        durable.after_kill,
        vec![(Outcome::Ok, 30)],
        "always whole: {durable:?}"
    );
    assert!(
        durable.littered > 0,
        "a kill between create and rename leaves the temp: {durable:?}"
    );
    let in_place = kills("in-place");
    assert_eq!(in_place.count(), 0, "{in_place:?}");
}

fn example(name: &str) -> String {
    format!(
        "python3 {}/examples/writers/{name} {{path}}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn a_read_only_directory_catches_a_writer_that_swallows_errors() {
    let swallow = format!(
        "name: ro\nformat: yaml\nduration: 1s\nfault: read-only-dir\nfault_after: 150ms\nstrategies:\n  \
         - strategy: naive-truncate\n  - writer_stdio: {}\n  - writer_stdio: {}\n",
        example("swallowing.py"),
        example("durable.py")
    );
    let r = run_text(&swallow);
    let swallowing = &r.cases[1];
    assert!(swallowing.writes.swallowed > 0, "{:?}", swallowing.writes);
    assert_eq!(swallowing.status, CaseStatus::Fail);
    let durable = &r.cases[2];
    assert!(
        durable.writes.errors > 0,
        "the fault made writes fail: {:?} {:?} {}",
        durable.writes,
        durable.subject_error,
        durable.reason
    );
    assert_eq!(durable.writes.swallowed, 0, "{:?}", durable.writes);
    assert_eq!(durable.writes.broken_after_failure, 0);
    assert_eq!(durable.final_state, Outcome::Ok);
}

#[test]
fn a_full_disk_empties_a_naive_target_and_not_a_renamed_one_as_root() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!(
            "SKIPPED a_full_disk_empties_a_naive_target_and_not_a_renamed_one_as_root: needs root to mount a small tmpfs"
        );
        return;
    }
    let harness = common::Harness::new("full");
    let (mounted, why) = harness.up(&["tmpfs-small"]);
    let Some(dir) = mounted.first().and_then(|l| l.strip_prefix("tmpfs-small=")) else {
        eprintln!("SKIPPED a_full_disk_...: could not mount ({why})");
        return;
    };
    let scenario = torn::scenario::Scenario::parse(
        "name: full\nformat: yaml\nduration: 1s\nfault: full-disk\nfault_after: 100ms\nstrategies:\n  \
         - strategy: naive-truncate\n  - strategy: rename-durable\n",
        "test",
    )
    .unwrap();
    let opts = torn::run::RunOptions {
        dir: Some(std::path::Path::new(dir).join("torn")),
        ..Default::default()
    };
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let r = torn::run::run(&scenario, "test", std::path::Path::new("."), &opts, &cancel)
        .unwrap()
        .report;
    let naive = case(&r, "naive-truncate");
    assert!(
        naive.writes.errors > 0,
        "ENOSPC reached the writer: {:?}",
        naive.writes
    );
    assert!(
        naive.writes.broken_after_failure > 0,
        "naive truncate-and-write lost the file: {:?}",
        naive.writes
    );
    let durable = case(&r, "rename-durable");
    assert!(durable.writes.errors > 0, "{:?}", durable.writes);
    assert_eq!(durable.writes.broken_after_failure, 0, "{:?}", durable.writes);
    assert_eq!(durable.final_state, Outcome::Ok);
}
