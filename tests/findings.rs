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
    assert_eq!(locked.findings(), 0, "{locked:?}");
    assert_eq!(locked.regressions, 0);
    assert!(locked.writes.committed > 10 && locked.exposed_reads > 1000);
    assert_eq!(locked.status, CaseStatus::Pass);
    assert_eq!(r.verdict.status, RunStatus::Pass);
}

#[test]
fn a_default_mode_temp_file_widens_a_credentials_file_and_rename_durable_does_not() {
    // The flaw needs a permissive umask (the usual 022), as real shells have.
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    let r = run_text(
        "name: modes\nformat: ini\ntarget_mode: \"0600\"\nwatch_modes: true\nduration: 600ms\nstrategies:\n  \
         - strategy: naive-truncate\n  - strategy: rename-fixed-tmp\n  - strategy: rename-durable\n",
    );
    nix::sys::stat::umask(old);
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
