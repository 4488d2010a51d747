//! The explorer on hand-built traces of each strategy's shape, under both
//! models: the expected results of issue 12.

use std::path::{Path, PathBuf};

use super::*;
use crate::format::Template;
use crate::token::TokenCodec;

fn classifier() -> Classifier {
    Classifier::new(Template::builtin("hermes").unwrap(), TokenCodec::new(1), u64::MAX)
}

struct Case {
    _dir: tempfile::TempDir,
    target: PathBuf,
    scratch: PathBuf,
    c: Classifier,
}

impl Case {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("home/.hermes/config.yaml");
        let scratch = dir.path().join("scratch");
        std::fs::create_dir(&scratch).unwrap();
        Self {
            _dir: dir,
            target,
            scratch,
            c: classifier(),
        }
    }

    fn versions(&self, writes: u64) -> Vec<Vec<u8>> {
        (1..=writes)
            .map(|v| self.c.template.render_vec(&self.c.codec, v))
            .collect()
    }

    fn v0(&self) -> Vec<InitialFile> {
        initial_target(&self.target, &self.c.template.render_vec(&self.c.codec, 0))
    }

    fn explore_with(
        &self,
        shape: &str,
        model: Model,
        initial: &[InitialFile],
        limits: Limits,
        seed: u64,
    ) -> CrashReport {
        self.explore_writes(shape, 3, model, initial, limits, seed)
    }

    fn explore_writes(
        &self,
        shape: &str,
        writes: u64,
        model: Model,
        initial: &[InitialFile],
        limits: Limits,
        seed: u64,
    ) -> CrashReport {
        let s = shapes::build(shape, &self.target, &self.versions(writes)).unwrap();
        let input = Input {
            trace: &s.events,
            target: &self.target,
            initial,
            acks: &s.acks,
        };
        explore(&input, model, limits, &self.scratch, &self.c, seed).unwrap()
    }

    fn explore(&self, shape: &str, model: Model) -> CrashReport {
        let r = self.explore_with(shape, model, &self.v0(), Limits::default(), 1);
        eprintln!("{}", render(shape, &r));
        r
    }
}

fn n(r: &CrashReport, o: CrashOutcome) -> u64 {
    r.outcomes[&o]
}

fn torn(r: &CrashReport) -> u64 {
    n(r, CrashOutcome::TornParseable) + n(r, CrashOutcome::TornUnparseable)
}

#[test]
fn naive_truncate_loses_the_file_under_both_models() {
    let case = Case::new();
    for model in Model::ALL {
        let r = case.explore("naive-truncate", model);
        assert!(r.exhaustive);
        assert!(
            n(&r, CrashOutcome::Empty) > 0,
            "{model:?}: an empty target after a crash"
        );
        assert!(!r.verdict.atomic && r.verdict.status == CrashStatus::Fail);
        let first = &r.first[&CrashOutcome::Empty];
        assert!(
            first
                .steps
                .iter()
                .any(|s| s.op == "truncate(config.yaml, 0)" && s.persisted),
            "{:?}",
            first.steps
        );
    }
    let strict = case.explore("naive-truncate", Model::Strict);
    assert!(
        torn(&strict) > 0,
        "strict: a size without its data reads as zeros"
    );
    let ext4 = case.explore("naive-truncate", Model::Ext4Ordered);
    assert!(
        torn(&ext4) > 0,
        "dioread_nolock: the size commits with an unwritten extent, which reads as zeros"
    );
    let first = &ext4.first[&CrashOutcome::TornUnparseable];
    assert!(first.found.contains("all zeros"), "{}", first.found);
}

#[test]
fn rename_unique_tmp_is_neither_atomic_nor_durable_under_strict() {
    let case = Case::new();
    let r = case.explore("rename-unique-tmp", Model::Strict);
    assert!(n(&r, CrashOutcome::Empty) > 0, "rename persisted, data lost");
    assert!(torn(&r) > 0, "rename and size persisted, data lost: zeros");
    assert!(
        n(&r, CrashOutcome::LostAck) > 0,
        "rename lost after the write returned"
    );
    assert!(!r.verdict.atomic && !r.verdict.durable);
    assert!(r.litter_states > 0);
    let first = &r.first[&CrashOutcome::Empty];
    let summary = first.summary();
    assert!(
        summary.contains("rename(.config.yaml.000001.tmp → config.yaml) persisted"),
        "{summary}"
    );
    assert!(summary.contains("write(.config.yaml.000001.tmp, 0..") && summary.contains(") lost"));
    let lost = &r.first[&CrashOutcome::LostAck];
    assert!(lost.acknowledged.is_some() && lost.found.starts_with("version "));
}

#[test]
fn under_ext4_the_rename_replace_rule_saves_the_size_not_the_data() {
    // auto_da_alloc allocates the temp file's blocks before the rename
    // commits, so the target is never empty; with dioread_nolock they may
    // still be unwritten, so it can be zeros (as real power cuts of Linux
    // 6.1 show: harness/powercut.sh).
    let case = Case::new();
    let r = case.explore("rename-unique-tmp", Model::Ext4Ordered);
    assert_eq!(
        n(&r, CrashOutcome::Empty),
        0,
        "auto_da_alloc: the size goes before the rename"
    );
    assert!(torn(&r) > 0 && !r.verdict.atomic, "the data need not");
    assert!(
        r.first[&CrashOutcome::TornUnparseable]
            .found
            .contains("all zeros")
    );
    assert!(!r.verdict.durable && n(&r, CrashOutcome::LostAck) > 0);
    assert!(r.litter_states > 0, "a temp file whose rename did not commit");
}

#[test]
fn under_ext4_a_rename_onto_a_new_name_gets_no_help() {
    // No old file to replace: auto_da_alloc does not apply, and the
    // delayed-allocation zero-length file appears.
    let case = Case::new();
    let r = case.explore_with("rename-unique-tmp", Model::Ext4Ordered, &[], Limits::default(), 1);
    assert!(n(&r, CrashOutcome::Empty) > 0);
    let first = &r.first[&CrashOutcome::Empty];
    assert_eq!(first.crash_after, 2, "right after the first rename: {first:?}");
}

#[test]
fn rename_durable_is_atomic_and_durable_under_both_models() {
    let case = Case::new();
    for model in Model::ALL {
        let r = case.explore("rename-durable", model);
        assert!(r.exhaustive);
        assert_eq!(
            r.states_explored,
            r.outcomes[&CrashOutcome::Ok],
            "{model:?}: {:?}",
            r.first
        );
        assert!(r.verdict.atomic && r.verdict.durable);
        assert_eq!(r.verdict.status, CrashStatus::Pass);
        assert_eq!(r.verdict.exit_code, crate::exit::OK);
    }
}

#[test]
fn fsync_of_the_file_but_not_the_directory_is_flagged_for_durability_only() {
    let case = Case::new();
    for model in Model::ALL {
        let r = case.explore("fsync-file-only", model);
        assert!(
            r.verdict.atomic,
            "{model:?}: the data is synced before every rename"
        );
        assert!(!r.verdict.durable, "{model:?}: the rename itself may be lost");
        let first = &r.first[&CrashOutcome::LostAck];
        assert!(first.summary().contains("rename(") && first.summary().contains("→ config.yaml) lost"));
    }
}

#[test]
fn a_new_target_may_be_missing_until_acknowledged() {
    let case = Case::new();
    let r = case.explore_with("rename-durable", Model::Strict, &[], Limits::default(), 1);
    assert!(r.verdict.atomic && r.verdict.durable, "{:?}", r.first);
    let r = case.explore_with("fsync-file-only", Model::Strict, &[], Limits::default(), 1);
    assert!(
        n(&r, CrashOutcome::Missing) > 0,
        "version 1 acknowledged, then gone"
    );
}

#[test]
fn over_the_cap_it_samples_reports_so_and_replays_from_the_seed() {
    let case = Case::new();
    let limits = Limits::new(8, 1_000);
    let a = case.explore_with("rename-unique-tmp", Model::Strict, &case.v0(), limits, 5);
    assert!(!a.exhaustive && a.sampled_points > 0);
    assert!(a.not_explored_estimate > 0);
    assert!(a.generated <= 1_000);
    let b = case.explore_with("rename-unique-tmp", Model::Strict, &case.v0(), limits, 5);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap(),
        "same seed, same exploration"
    );
    let durable = case.explore_with(
        "rename-durable",
        Model::Strict,
        &case.v0(),
        Limits::new(2, 1_000),
        5,
    );
    assert!(!durable.exhaustive);
    assert_eq!(durable.verdict.status, CrashStatus::Inconclusive);
    assert_eq!(durable.verdict.exit_code, crate::exit::INCONCLUSIVE);
}

#[test]
fn a_long_durable_trace_costs_only_its_unsynced_tail() {
    // 80 writes, 720 crash points: synced pieces are folded into the
    // durable image once, so each crash point costs its few unsynced pieces.
    let case = Case::new();
    for model in Model::ALL {
        let r = case.explore_writes("rename-durable", 80, model, &case.v0(), Limits::default(), 1);
        assert_eq!(r.crash_points, 720);
        assert!(r.exhaustive);
        assert_eq!(r.verdict.status, CrashStatus::Pass, "{model:?}");
        assert!(r.generated < 20 * 720, "{}", r.generated);
    }
}

#[test]
fn states_are_built_for_real_and_removed() {
    let case = Case::new();
    let r = case.explore("rename-unique-tmp", Model::Strict);
    assert!(r.states_built > 0 && r.states_built <= r.states_explored);
    let left: Vec<_> = std::fs::read_dir(&case.scratch).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_state_that_cannot_be_built_is_an_error_not_a_verdict() {
    let case = Case::new();
    let s = shapes::build("naive-truncate", &case.target, &case.versions(1)).unwrap();
    let input = Input {
        trace: &s.events,
        target: &case.target,
        initial: &case.v0(),
        acks: &s.acks,
    };
    let missing = case.scratch.join("no/such/dir");
    let e = explore(&input, Model::Strict, Limits::default(), &missing, &case.c, 1).unwrap_err();
    assert!(matches!(e, CrashError::Io { .. }), "{e}");
}

#[test]
fn a_write_without_its_payload_is_refused() {
    let case = Case::new();
    let mut s = shapes::build("naive-truncate", &case.target, &case.versions(1)).unwrap();
    for e in &mut s.events {
        if let crate::trace::Call::Write { data, .. } = &mut e.call {
            *data = None;
        }
    }
    let input = Input {
        trace: &s.events,
        target: &case.target,
        initial: &case.v0(),
        acks: &s.acks,
    };
    let e = explore(
        &input,
        Model::Strict,
        Limits::default(),
        &case.scratch,
        &case.c,
        1,
    )
    .unwrap_err();
    assert!(e.to_string().contains("payload"), "{e}");
}

#[test]
fn inferred_acknowledgements_match_the_recorded_ones() {
    let case = Case::new();
    for shape in shapes::NAMES {
        let s = shapes::build(shape, &case.target, &case.versions(3)).unwrap();
        let acks = input::infer_acks(&s.events, &case.target, &case.v0(), &case.c).unwrap();
        let versions: Vec<u64> = acks.iter().map(|a| a.0).collect();
        assert_eq!(versions, vec![1, 2, 3], "{shape}");
        for ((_, inferred), (_, given)) in acks.iter().zip(&s.acks) {
            assert!(inferred <= given, "{shape}: {acks:?} vs {:?}", s.acks);
        }
        let a = case.explore(shape, Model::Strict);
        let input = Input {
            trace: &s.events,
            target: &case.target,
            initial: &case.v0(),
            acks: &acks,
        };
        let b = explore(
            &input,
            Model::Strict,
            Limits::default(),
            &case.scratch,
            &case.c,
            1,
        )
        .unwrap();
        assert_eq!(a.outcomes, b.outcomes, "{shape}");
    }
    assert_eq!(
        input::infer_target(
            &shapes::build("rename-durable", &case.target, &case.versions(2))
                .unwrap()
                .events
        )
        .as_deref(),
        Some(case.target.as_path())
    );
}

#[test]
fn the_models_differ_where_the_documentation_says() {
    // One piece at a time: what each model forces and orders.
    let case = Case::new();
    let s = shapes::build("rename-unique-tmp", &case.target, &case.versions(1)).unwrap();
    let l = ops::Logical::from_trace(&s.events, &case.target, &case.v0()).unwrap();
    let names = |m: Model| -> Vec<(String, Vec<String>)> {
        let micros = m.plan(&l);
        micros
            .iter()
            .map(|x| {
                let deps = x
                    .deps
                    .iter()
                    .map(|&d| describe::piece(&l, &micros[d as usize]))
                    .collect();
                (describe::piece(&l, x), deps)
            })
            .collect()
    };
    let len = case.versions(1)[0].len();
    let tmp = ".config.yaml.000001.tmp";
    let strict = names(Model::Strict);
    assert!(strict.iter().all(|(_, deps)| deps.is_empty()), "{strict:?}");
    assert_eq!(strict.len(), 4, "creat, one block, size, rename: {strict:?}");
    let ext4 = names(Model::Ext4Ordered);
    let rename = &ext4.iter().find(|(op, _)| op.starts_with("rename(")).unwrap().1;
    assert!(!rename.contains(&format!("write({tmp}, 0..{len})")), "{rename:?}");
    assert!(rename.contains(&format!("size({tmp}, 0→{len})")), "{rename:?}");
    assert!(
        rename.contains(&format!("creat({tmp}, 0600)")),
        "journal order: {rename:?}"
    );
}

#[test]
fn writes_split_into_blocks_and_resume_at_the_file_position() {
    let case = Case::new();
    let big = vec![b'x'; 9000];
    let events = vec![
        ev(
            0,
            crate::trace::Call::Open {
                path: case.target.clone(),
                flags: nix::libc::O_WRONLY | nix::libc::O_APPEND,
                mode: 0,
                fd: 3,
            },
            3,
        ),
        ev(
            1,
            crate::trace::Call::Write {
                path: case.target.clone(),
                fd: 3,
                offset: None,
                len: big.len() as u64,
                data: Some(big.into()),
            },
            9000,
        ),
    ];
    let initial = vec![InitialFile {
        path: case.target.clone(),
        data: b"abc".to_vec(),
        mode: 0o644,
    }];
    let l = ops::Logical::from_trace(&events, &case.target, &initial).unwrap();
    let micros = Model::Strict.plan(&l);
    let ranges: Vec<String> = micros.iter().map(|m| describe::piece(&l, m)).collect();
    assert_eq!(
        ranges,
        vec![
            "write(config.yaml, 3..4096)",
            "write(config.yaml, 4096..8192)",
            "write(config.yaml, 8192..9003)",
            "size(config.yaml, 3→9003)",
        ]
    );
}

fn ev(i: u64, call: crate::trace::Call, result: i64) -> Event {
    Event {
        start_ns: i * 10,
        end_ns: i * 10 + 5,
        tid: 1,
        call,
        result,
        file: None,
    }
}

#[test]
fn describe_names_paths_relative_to_the_target_directory() {
    let case = Case::new();
    let l = ops::Logical::from_trace(&[], &case.target, &case.v0()).unwrap();
    assert_eq!(l.show(&case.target), "config.yaml");
    assert_eq!(l.show(Path::new("/elsewhere/x")), "/elsewhere/x");
}

#[test]
fn names_links_directories_and_modes_are_built_as_traced() {
    use crate::trace::Call;
    use nix::libc;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let case = Case::new();
    let root = case.target.parent().unwrap().to_path_buf();
    let (sub, f) = (root.join("sub"), root.join("sub/f"));
    let calls = vec![
        (
            Call::Mkdir {
                path: sub.clone(),
                mode: 0o750,
            },
            0,
        ),
        (
            Call::Open {
                path: f.clone(),
                flags: libc::O_WRONLY | libc::O_CREAT,
                mode: 0o640,
                fd: 3,
            },
            3,
        ),
        (
            Call::Write {
                path: f.clone(),
                fd: 3,
                offset: None,
                len: 5,
                data: Some(std::sync::Arc::from(&b"hello"[..])),
            },
            5,
        ),
        (
            Call::Link {
                from: f.clone(),
                to: root.join("hard"),
            },
            0,
        ),
        (
            Call::Symlink {
                target: PathBuf::from("sub/f"),
                to: root.join("soft"),
            },
            0,
        ),
        (
            Call::Chmod {
                path: f.clone(),
                mode: 0o600,
            },
            0,
        ),
    ];
    let events: Vec<Event> = calls
        .into_iter()
        .enumerate()
        .map(|(i, (c, r))| ev(i as u64, c, r))
        .collect();
    let l = ops::Logical::from_trace(&events, &case.target, &case.v0()).unwrap();
    let micros = Model::Strict.plan(&l);
    let all = disk::Image::initial(&l).with(&l, &micros, &vec![true; micros.len()]);
    let at = case.scratch.join("state");
    let built = materialize::build(&all, &l, &at).unwrap();
    let meta = |p: &str| std::fs::symlink_metadata(at.join(p)).unwrap();
    assert_eq!(meta("sub").permissions().mode() & 0o7777, 0o750);
    assert_eq!(meta("sub/f").permissions().mode() & 0o7777, 0o600);
    assert_eq!(meta("sub/f").nlink(), 2, "hard link kept");
    assert_eq!(std::fs::read(at.join("hard")).unwrap(), b"hello");
    assert_eq!(std::fs::read_link(at.join("soft")).unwrap(), Path::new("sub/f"));
    assert_eq!(meta("config.yaml").permissions().mode() & 0o7777, 0o600);
    let before = [PathBuf::from("config.yaml")].into_iter().collect();
    let seen = check::read_state(built.dir(), Path::new("config.yaml"), &before, &case.c).unwrap();
    assert_eq!(seen.version, Some(0));
    assert_eq!(seen.litter, vec!["hard", "soft", "sub/f"]);
    built.remove().unwrap();
    assert!(!at.exists());
}
