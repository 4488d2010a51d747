//! Checking the persistence models against real power cuts.
//!
//! `harness/powercut.sh` boots a real Linux kernel (user-mode Linux) with
//! one file system image per slot, runs a writer [`Pattern`] on each
//! ([`run_writer`]: every acknowledged version logged, durably, outside the
//! guest), kills the whole kernel at a seeded moment (a power cut: its page
//! cache and uncommitted journal are gone, each image keeps what reached its
//! block device), repairs each image with the file system's own tools and
//! extracts the target's directory. This module judges what was extracted
//! exactly as [`super::explore`] judges a modelled state ([`observe`]: the
//! same classifier, the same [`super::check::judge`] against the versions
//! acknowledged before the cut), asks each [`Model`] which outcomes it allows
//! for the same pattern ([`allowed`]: the crash explorer on a recorded trace
//! of the same code), and holds one against the other ([`compare`]):
//!
//! - **soundness**: every outcome observed is one the model allows (an
//!   observation outside it is a model bug, or outside its assumptions);
//! - **tightness**: which allowed outcomes no trial showed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::check::{self, CrashOutcome};
use super::record::record_builtin;
use super::{CrashError, Input, Limits, Model, explore, initial_target};
use crate::classify::Classifier;
use crate::format::Template;
use crate::strategy::ops::Ops;
use crate::strategy::{self, Expect, Setup, Strategy};
use crate::token::TokenCodec;
use crate::trace::Recorder;

/// The directory, below the image's root, that holds the target (so that
/// `fsync(dir)` is a directory of the writer's own, as `~/.hermes` is).
pub const TARGET_DIR: &str = "d";
/// The target's name in [`TARGET_DIR`].
pub const TARGET_NAME: &str = "config.yaml";
/// The template every trial writes: the Hermes config.
pub const TEMPLATE: &str = "hermes";

/// A way of rewriting the target, as the crash model and the guest run it:
/// the same code in both places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pattern {
    /// `open(O_TRUNC)`, write, close: the built-in `naive-truncate`.
    TruncateWrite,
    /// Unique temp file, write, close, rename: `rename-unique-tmp`.
    TempRename,
    /// Unique temp file, write, fsync, close, rename; no fsync of the
    /// directory ([`RenameFsync`]).
    TempFsyncRename,
    /// `rename-durable`: as above, then fsync of the directory.
    TempFsyncRenameFsyncDir,
}

impl Pattern {
    pub const ALL: [Pattern; 4] = [
        Pattern::TruncateWrite,
        Pattern::TempRename,
        Pattern::TempFsyncRename,
        Pattern::TempFsyncRenameFsyncDir,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Pattern::TruncateWrite => "truncate-write",
            Pattern::TempRename => "temp-rename",
            Pattern::TempFsyncRename => "temp-fsync-rename",
            Pattern::TempFsyncRenameFsyncDir => "temp-fsync-rename-fsync-dir",
        }
    }

    pub fn parse(name: &str) -> Option<Pattern> {
        Pattern::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The code that writes it.
    pub fn strategy(self) -> Box<dyn Strategy> {
        let builtin =
            |n: &str| strategy::build(n, &strategy::Params::default()).expect("a built-in strategy");
        match self {
            Pattern::TruncateWrite => builtin("naive-truncate"),
            Pattern::TempRename => builtin("rename-unique-tmp"),
            Pattern::TempFsyncRename => Box::new(RenameFsync),
            Pattern::TempFsyncRenameFsyncDir => builtin("rename-durable"),
        }
    }
}

/// Unique temp file, data `fsync`ed, `rename`d over the target, and no
/// `fsync` of the directory: the usual "durable" write that forgets the
/// rename itself. Not a registry strategy (it is `rename-durable` minus its
/// last step); the power-cut check needs it as its own pattern.
///
/// Recipe: `open(tmp, O_RDWR|O_CREAT|O_EXCL, 0600) → write(tmp) → fsync(tmp)
/// → close(tmp) → rename(tmp, target)`.
pub struct RenameFsync;

impl Strategy for RenameFsync {
    fn name(&self) -> &'static str {
        "rename-fsync-no-dir"
    }

    fn write_recorded(&self, target: &Path, bytes: &[u8], rec: &dyn Recorder) -> io::Result<()> {
        Ops::new(rec).replace_via_unique_temp(target, bytes, None, true)
    }

    fn expect(&self, setup: &Setup) -> Expect {
        strategy::rename_promise(setup)
    }
}

/// The classifier of every trial: the Hermes template, tokens of `seed`.
pub fn classifier(seed: u64) -> Classifier {
    let template = Template::builtin(TEMPLATE).expect("built-in template");
    Classifier::new(template, TokenCodec::new(seed), u64::MAX)
}

/// Writes version 0 of the target, mode 0600, into `root/d/config.yaml`:
/// the tree a fresh image is made from (durable by construction).
pub fn seed_tree(root: &Path, seed: u64) -> io::Result<PathBuf> {
    let dir = root.join(TARGET_DIR);
    std::fs::create_dir_all(&dir)?;
    let target = dir.join(TARGET_NAME);
    let c = classifier(seed);
    std::fs::write(&target, c.template.render_vec(&c.codec, 0))?;
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600))?;
    Ok(target)
}

/// The guest's writer: writes versions 1, 2, ... of the template onto
/// `target` with `pattern`, one after another, until killed. After each
/// write returns, its version is appended to `acks` as a line and
/// `fdatasync`ed (the file lives on the host through hostfs: the line is on
/// the host before the next write starts). A first line `start` says the
/// writer is running. Returns only on an error.
pub fn run_writer(
    pattern: Pattern,
    target: &Path,
    acks: &Path,
    seed: u64,
    pause: Duration,
) -> io::Result<()> {
    let c = classifier(seed);
    let strategy = pattern.strategy();
    let mut log = std::fs::OpenOptions::new().create(true).append(true).open(acks)?;
    log.write_all(b"start\n")?;
    log.sync_data()?;
    for version in 1.. {
        let bytes = c.template.render_vec(&c.codec, version);
        strategy.write(target, &bytes)?;
        writeln!(log, "{version}")?;
        log.sync_data()?;
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
    }
    Ok(())
}

/// What an ack log says: the newest version acknowledged, and how many.
/// Only whole lines count (the cut may come in the middle of one).
pub fn read_acks(acks: &Path) -> io::Result<(bool, Option<u64>)> {
    let text = std::fs::read(acks)?;
    let whole = match text.iter().rposition(|&b| b == b'\n') {
        Some(end) => &text[..=end],
        None => &[][..],
    };
    let whole = String::from_utf8_lossy(whole);
    let started = whole.lines().next() == Some("start");
    let acked = whole.lines().filter_map(|l| l.parse::<u64>().ok()).max();
    Ok((started, acked))
}

/// One trial's result for one slot, as the harness records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Observation {
    pub pattern: Pattern,
    /// The file system and its options, as the harness names it (`ext4-ordered`, ...).
    pub fs: String,
    pub trial: u64,
    /// The newest version the writer acknowledged before the cut.
    pub acked: Option<u64>,
    /// The crash outcome, judged as the explorer judges a modelled state.
    pub outcome: CrashOutcome,
    /// What the target held, in words.
    pub found: String,
    /// The whole version it held, if any.
    pub version: Option<u64>,
    /// A torn target of nothing but zero bytes.
    pub zeros: bool,
    /// Files left beside the target.
    pub litter: Vec<String>,
    /// Anything the harness adds (fsck's exit code, the cut delay, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub notes: BTreeMap<String, String>,
}

/// Judges the extracted target directory `dir` (the image's `d`, or a
/// path that does not exist when the image had none) against the versions
/// in the ack log `acks`.
pub fn observe(
    dir: &Path,
    acks: &Path,
    seed: u64,
    pattern: Pattern,
    fs: &str,
    trial: u64,
) -> Result<Observation, CrashError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CrashError::Io { path, source }
    };
    let (_, acked) = read_acks(acks).map_err(io_err(acks))?;
    let c = classifier(seed);
    let before: BTreeSet<PathBuf> = BTreeSet::new();
    let seen = if dir.is_dir() {
        check::read_state(dir, Path::new(TARGET_NAME), &before, &c)?
    } else {
        // The target's directory itself is gone: the target is missing.
        let empty = tempfile::tempdir().map_err(io_err(dir))?;
        check::read_state(empty.path(), Path::new(TARGET_NAME), &before, &c)?
    };
    // The target held version 0 durably before the writer started.
    let outcome = check::judge(&seen, acked, true);
    Ok(Observation {
        pattern,
        fs: fs.to_string(),
        trial,
        acked,
        outcome,
        found: check::found(&seen),
        version: seen.version,
        zeros: seen.zeros,
        litter: seen.litter,
        notes: BTreeMap::new(),
    })
}

/// What a model allows for a pattern: the outcomes of every crash state
/// it explored on a recorded trace of `writes` writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Allowed {
    pub pattern: Pattern,
    pub model: Model,
    pub writes: u64,
    /// States per outcome (outcomes with none are not allowed).
    pub outcomes: BTreeMap<CrashOutcome, u64>,
    /// States that left litter.
    pub litter_states: u64,
    /// Whether every state the model allows was explored.
    pub exhaustive: bool,
}

impl Allowed {
    pub fn allows(&self, o: CrashOutcome) -> bool {
        self.outcomes.get(&o).is_some_and(|&n| n > 0)
    }
}

/// Records `writes` writes of `pattern` from version 0 under `scratch` (on
/// any file system: only the calls matter) and explores them under `model`.
pub fn allowed(
    pattern: Pattern,
    model: Model,
    seed: u64,
    scratch: &Path,
    writes: u64,
) -> anyhow::Result<Allowed> {
    let c = classifier(seed);
    let case = tempfile::tempdir_in(scratch)?;
    let target = seed_tree(case.path(), seed)?;
    let v0 = std::fs::read(&target)?;
    let rec = record_builtin(&*pattern.strategy(), &target, &c, writes)?;
    let initial = initial_target(&target, &v0);
    let input = Input {
        trace: &rec.events,
        target: &target,
        initial: &initial,
        acks: &rec.acks,
    };
    let states = tempfile::tempdir_in(scratch)?;
    let report = explore(&input, model, Limits::default(), states.path(), &c, seed)?;
    Ok(Allowed {
        pattern,
        model,
        writes,
        outcomes: report.outcomes,
        litter_states: report.litter_states,
        exhaustive: report.exhaustive,
    })
}

/// Which models claim to describe a file system, as the harness names it
/// (`ext4-ordered`, `ext4-writeback`, `xfs`, ...): `strict` claims every
/// file system; `ext4-ordered` only ext4 with `data=ordered`.
pub fn model_claims(model: Model, fs: &str) -> bool {
    match model {
        Model::Strict => true,
        Model::Ext4Ordered => fs == "ext4-ordered",
    }
}

/// One pattern × file system × model: what was seen against what is allowed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    pub pattern: Pattern,
    pub fs: String,
    pub model: Model,
    /// Whether the model claims to describe this file system.
    pub claimed: bool,
    pub trials: u64,
    /// Trials per outcome seen.
    pub observed: BTreeMap<CrashOutcome, u64>,
    /// Trials that left litter.
    pub litter: u64,
    /// Trials whose target was torn and all zeros.
    pub zeros: u64,
    /// Outcomes the model allows, in [`CrashOutcome::ALL`] order.
    pub allowed: Vec<CrashOutcome>,
    pub litter_allowed: bool,
    /// Outcomes seen that the model does not allow (and `litter`, as a
    /// string, if litter was seen where the model allows none).
    pub unsound: Vec<String>,
    /// Allowed outcomes no trial showed (and `litter`).
    pub never_seen: Vec<String>,
}

/// Holds every observation against every model's allowed outcomes for its
/// pattern. Rows come in pattern, file system, model order.
pub fn compare(observations: &[Observation], allowed: &[Allowed]) -> Vec<Row> {
    let mut groups: BTreeMap<(Pattern, String), Vec<&Observation>> = BTreeMap::new();
    for o in observations {
        groups.entry((o.pattern, o.fs.clone())).or_default().push(o);
    }
    let mut rows = Vec::new();
    for ((pattern, fs), obs) in groups {
        for a in allowed.iter().filter(|a| a.pattern == pattern) {
            let mut observed = BTreeMap::new();
            for o in &obs {
                *observed.entry(o.outcome).or_insert(0) += 1;
            }
            let litter = obs.iter().filter(|o| !o.litter.is_empty()).count() as u64;
            let zeros = obs.iter().filter(|o| o.zeros).count() as u64;
            let allowed_list: Vec<CrashOutcome> =
                CrashOutcome::ALL.into_iter().filter(|&o| a.allows(o)).collect();
            let litter_allowed = a.litter_states > 0;
            let mut unsound: Vec<String> = observed
                .keys()
                .filter(|o| !a.allows(**o))
                .map(|o| o.name().to_string())
                .collect();
            if litter > 0 && !litter_allowed {
                unsound.push("litter".into());
            }
            let mut never_seen: Vec<String> = allowed_list
                .iter()
                .filter(|o| !observed.contains_key(*o))
                .map(|o| o.name().to_string())
                .collect();
            if litter_allowed && litter == 0 {
                never_seen.push("litter".into());
            }
            rows.push(Row {
                pattern,
                fs: fs.clone(),
                model: a.model,
                claimed: model_claims(a.model, &fs),
                trials: obs.len() as u64,
                observed,
                litter,
                zeros,
                allowed: allowed_list,
                litter_allowed,
                unsound,
                never_seen,
            });
        }
    }
    rows
}

/// Whether any row shows an outcome its model claims to exclude.
pub fn any_unsound(rows: &[Row]) -> bool {
    rows.iter().any(|r| r.claimed && !r.unsound.is_empty())
}

/// The rows as a Markdown table.
pub fn render_markdown(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str(
        "| pattern | file system | model | trials | observed (trials) | allowed by the model | sound? | allowed, never observed |\n",
    );
    out.push_str("|---|---|---|---:|---|---|---|---|\n");
    for r in rows {
        let mut observed: Vec<String> = r
            .observed
            .iter()
            .map(|(o, n)| format!("{} {n}", o.name()))
            .collect();
        if r.litter > 0 {
            observed.push(format!("litter {}", r.litter));
        }
        if r.zeros > 0 {
            observed.push(format!("(zeros {})", r.zeros));
        }
        let mut allowed: Vec<&str> = r.allowed.iter().map(|o| o.name()).collect();
        if r.litter_allowed {
            allowed.push("litter");
        }
        let sound = match (r.unsound.is_empty(), r.claimed) {
            (true, _) => "yes".to_string(),
            (false, true) => format!("**NO: {}**", r.unsound.join(", ")),
            (false, false) => format!("outside the model's claim: {}", r.unsound.join(", ")),
        };
        let never = if r.never_seen.is_empty() {
            "—".to_string()
        } else {
            r.never_seen.join(", ")
        };
        let _ = writeln!(
            out,
            "| {} | {} | {}{} | {} | {} | {} | {} | {} |",
            r.pattern.name(),
            r.fs,
            r.model.name(),
            if r.claimed { "" } else { " (not claimed)" },
            r.trials,
            observed.join(", "),
            allowed.join(", "),
            sound,
            never
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(pattern: Pattern, fs: &str, outcome: CrashOutcome, litter: bool) -> Observation {
        Observation {
            pattern,
            fs: fs.into(),
            trial: 0,
            acked: Some(3),
            outcome,
            found: String::new(),
            version: None,
            zeros: false,
            litter: if litter { vec![".x.tmp".into()] } else { vec![] },
            notes: BTreeMap::new(),
        }
    }

    #[test]
    fn compare_finds_unsound_and_unseen_outcomes() {
        let allowed = vec![Allowed {
            pattern: Pattern::TempRename,
            model: Model::Ext4Ordered,
            writes: 3,
            outcomes: [
                (CrashOutcome::Ok, 5),
                (CrashOutcome::LostAck, 2),
                (CrashOutcome::Empty, 0),
            ]
            .into(),
            litter_states: 0,
            exhaustive: true,
        }];
        let seen = vec![
            obs(Pattern::TempRename, "ext4-ordered", CrashOutcome::Ok, false),
            obs(Pattern::TempRename, "ext4-ordered", CrashOutcome::Empty, true),
            obs(Pattern::TempRename, "xfs", CrashOutcome::Ok, false),
        ];
        let rows = compare(&seen, &allowed);
        assert_eq!(rows.len(), 2);
        let ext4 = &rows[0];
        assert_eq!(ext4.fs, "ext4-ordered");
        assert!(ext4.claimed);
        assert_eq!(ext4.unsound, vec!["empty", "litter"]);
        assert_eq!(ext4.never_seen, vec!["lost-ack"]);
        assert!(!rows[1].claimed);
        assert!(any_unsound(&rows));
        assert!(render_markdown(&rows).contains("**NO: empty, litter**"));
    }

    #[test]
    fn acks_count_whole_lines_only() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("acks");
        std::fs::write(&log, b"start\n1\n2\n13").unwrap();
        assert_eq!(read_acks(&log).unwrap(), (true, Some(2)));
        std::fs::write(&log, b"sta").unwrap();
        assert_eq!(read_acks(&log).unwrap(), (false, None));
    }

    /// A writer's run, cut by hand at the process level (no power cut):
    /// the target holds the newest version, judged `ok`; an older one
    /// with a newer ack, `lost-ack`.
    #[test]
    fn observe_judges_against_the_acks() {
        let dir = tempfile::tempdir().unwrap();
        let target = seed_tree(dir.path(), 7).unwrap();
        let c = classifier(7);
        let acks = dir.path().join("acks");
        for (v, expect) in [(2, CrashOutcome::Ok), (1, CrashOutcome::LostAck)] {
            std::fs::write(&target, c.template.render_vec(&c.codec, v)).unwrap();
            std::fs::write(&acks, b"start\n1\n2\n").unwrap();
            let o = observe(target.parent().unwrap(), &acks, 7, Pattern::TruncateWrite, "x", 0).unwrap();
            assert_eq!(o.outcome, expect, "{o:?}");
            assert_eq!(o.version, Some(v));
        }
        std::fs::write(dir.path().join(TARGET_DIR).join(".config.yaml.abc.tmp"), b"").unwrap();
        std::fs::write(&target, b"").unwrap();
        let o = observe(target.parent().unwrap(), &acks, 7, Pattern::TempRename, "x", 0).unwrap();
        assert_eq!(o.outcome, CrashOutcome::Empty);
        assert_eq!(o.litter, vec![".config.yaml.abc.tmp"]);
        let gone = observe(&dir.path().join("nope"), &acks, 7, Pattern::TempRename, "x", 0).unwrap();
        assert_eq!(gone.outcome, CrashOutcome::Missing);
    }

    /// The fourth pattern's model: fsync of the temp file saves atomicity
    /// under both models, and it is still not durable.
    #[test]
    fn rename_fsync_is_atomic_not_durable() {
        let dir = tempfile::tempdir().unwrap();
        for model in Model::ALL {
            let a = allowed(Pattern::TempFsyncRename, model, 1, dir.path(), 2).unwrap();
            assert!(a.exhaustive);
            assert!(a.allows(CrashOutcome::LostAck), "{model:?}: {a:?}");
            assert!(
                !CrashOutcome::ALL
                    .iter()
                    .any(|o| o.breaks_atomicity() && a.allows(*o)),
                "{model:?}: {a:?}"
            );
        }
    }
}
