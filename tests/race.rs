//! The engine against real files on the default scratch directory: unsafe
//! strategies must show their anomalies, safe ones none, in the same run,
//! with exposure proving the readers overlapped the writes.

mod common;

use common::{case, count, run_text, torn_reads};
use torn::classify::Outcome;
use torn::report::{CaseStatus, RunStatus};

#[test]
fn naive_truncate_tears_and_rename_unique_tmp_does_not_in_the_same_run() {
    let r = run_text(
        "name: control-vs-fix\nformat: yaml\nduration: 1s\nreads: 150000\nstrategies:\n  \
         - strategy: naive-truncate\n  - strategy: rename-unique-tmp\n",
    );
    let naive = case(&r, "naive-truncate");
    let fixed = case(&r, "rename-unique-tmp");
    assert!(naive.anomalies.count > 0, "control showed nothing: {naive:?}");
    assert!(
        count(naive, Outcome::Empty) > 0,
        "a small single write shows up as empty reads"
    );
    assert!(naive.would_403.count > 0);
    assert!(naive.first_anomaly.is_some());
    assert!(
        !naive.evidence.is_empty(),
        "evidence of the control's anomalies is kept"
    );
    assert_eq!(fixed.anomalies.count, 0, "{fixed:?}");
    assert_eq!(fixed.writes.errors, 0);
    assert!(
        fixed.exposed_reads > 10_000,
        "readers overlapped writes: {}",
        fixed.exposed_reads
    );
    assert!(
        fixed.writes.committed > 10,
        "the fix was exercised: {} writes",
        fixed.writes.committed
    );
    assert!(fixed.anomalies_per_exposed.high < 1e-3);
    assert_eq!(fixed.status, CaseStatus::Pass);
    assert_eq!(r.verdict.status, RunStatus::Pass);
}

#[test]
fn multi_chunk_writes_show_torn_reads_and_in_place_is_caught_by_its_recipe() {
    let r = run_text(
        "name: tearing\nformat: yaml\nduration: 3s\nstrategies:\n  \
         - strategy: naive-chunked\n    chunks: 8\n    duration: 1s\n  - strategy: in-place\n",
    );
    let chunked = case(&r, "naive-chunked");
    assert!(torn_reads(chunked) > 0, "multi-chunk writes tear: {chunked:?}");
    let in_place = case(&r, "in-place");
    // A read mixing two versions needs a read to race one pwrite's copy: a
    // few per million reads, so a short run on a loaded machine may see none.
    // What the writer did is certain: the trace shows every write in place.
    assert_eq!(
        in_place.recipe_anomalies,
        in_place.writes.committed + 1,
        "{in_place:?}"
    );
    assert_eq!(in_place.status, CaseStatus::Reproduced);
    assert_eq!(
        count(in_place, Outcome::Empty),
        0,
        "in-place never truncates to zero"
    );
}

#[test]
fn flock_protects_only_readers_that_lock() {
    let r = run_text(
        "name: flock\nformat: dotenv\nduration: 1s\nstrategies:\n  - strategy: flock-guarded\n  \
         - strategy: flock-guarded\n    label: locking\n    reader_lock: true\n",
    );
    assert!(case(&r, "flock-guarded").anomalies.count > 0);
    let locking = case(&r, "locking");
    assert_eq!(locking.anomalies.count, 0, "{locking:?}");
    assert!(locking.exposed_reads > 0);
    assert_eq!(r.verdict.status, RunStatus::Pass);
}

#[test]
fn two_writers_sharing_a_fixed_tmp_name_break_it() {
    let r = run_text(
        "name: two\nformat: json\nduration: 1500ms\nwriters: 2\nstrategies:\n  - strategy: rename-fixed-tmp\n",
    );
    let c = case(&r, "rename-fixed-tmp");
    assert!(
        c.anomalous_reads() + c.writer_findings() > 0,
        "shared temp name must show torn reads or rename errors: {c:?}"
    );
    assert_eq!(c.status, CaseStatus::Reproduced);
}

#[test]
fn zeros_without_a_control_are_inconclusive() {
    let r = run_text(
        "name: no-control\nformat: ini\nduration: 300ms\nstrategies:\n  - strategy: rename-durable\n",
    );
    assert_eq!(case(&r, "rename-durable").anomalies.count, 0);
    assert_eq!(r.verdict.status, RunStatus::Inconclusive);
    assert_eq!(r.verdict.exit_code, torn::exit::INCONCLUSIVE);
}

#[test]
fn every_format_reproduces_and_fixes() {
    for format in ["yaml", "json", "dotenv", "ini"] {
        let r = run_text(&format!(
            "name: f\nformat: {format}\nduration: 400ms\nstrategies:\n  - strategy: naive-truncate\n  \
             - strategy: rename-durable\n"
        ));
        assert_eq!(
            r.verdict.status,
            RunStatus::Pass,
            "{format}: {:?}",
            r.verdict.lines
        );
    }
}

#[test]
fn reader_profiles_differ_as_real_clients_do() {
    let r = run_text(
        "name: profiles\nformat: yaml\nduration: 1s\nwrite_rate: 200hz\ntoken_grace: 2\nstrategies:\n  \
         - strategy: naive-truncate\n    label: cached\n    reader_profile: cached\n    expect: any\n  \
         - strategy: naive-truncate\n    label: mtime\n    reader_profile: mtime-cached\n",
    );
    let cached = case(&r, "cached");
    assert_eq!(cached.reads, 2, "a caching client reads once per reader");
    assert!(cached.calls_would_403.n > 100);
    assert!(
        cached.calls_would_403.rate > 0.5,
        "its token was revoked: {:?}",
        cached.calls_would_403
    );
    let mtime = case(&r, "mtime");
    assert!(
        mtime.calls_would_403.n > mtime.reads,
        "it calls more often than it reads"
    );
    assert!(
        mtime.reads > 100,
        "it re-reads when the file changes: {}",
        mtime.reads
    );
}
