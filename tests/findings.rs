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
