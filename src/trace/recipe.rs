//! Recipes: the sequence of calls one write made, and what they reveal.
//!
//! A write's events are turned into a normalised recipe — the target by its
//! name, the directory as `{dir}`, any other file in the directory as
//! `{tmp}` — such as `open(config.yaml, O_WRONLY|O_CREAT|O_TRUNC) → write
//! 1196 B → close` or `open({tmp}, O_RDWR|O_CREAT|O_EXCL, 0600) → write
//! 1196 B → fsync({tmp}) → rename({tmp} → config.yaml) → fsync({dir})`.
//! A [`RecipeBook`] counts the distinct recipes of a run (bounded), the
//! findings they show — each with the file and the calls that prove it —
//! and how many writes fall in a [`RecipeClass`] that is atomic for readers.
//!
//! Findings rest on the files' **real state** ([`crate::trace::FileState`],
//! read at each call's exit), followed inode by inode through the write: the
//! mode a file really has (an `O_CREAT` of a file that exists creates
//! nothing; a `chmod` before the first byte narrows it; the writer's own
//! `umask`), whether an open created it, the locks held, and which inode is
//! the target's (a descriptor renamed over the target writes the target).
//! Only files tied to the target count: those renamed onto or away from it,
//! and those created in its directory; a writer's logs and caches elsewhere
//! are none of the file's readers' business.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::event::{Call, Event, LockOp};

/// Distinct recipes a book keeps; more are counted as "other".
pub const MAX_RECIPES: usize = 16;
/// Temp paths remembered to spot a fixed temp name.
const MAX_TEMPS: usize = 64;
/// Lock files and tied paths remembered (for litter).
const MAX_PATHS: usize = 64;
/// Locks remembered as held across writes.
const MAX_HELD: usize = 16;

/// What a write's recipe shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Finding {
    /// The target opened with O_TRUNC or truncated: readers can see it empty.
    TruncatesTarget,
    /// The target's inode written in place (through any name or descriptor,
    /// or mapped shared and writable): readers can see two versions mixed.
    WritesTargetInPlace,
    /// The target renamed away or unlinked before the new version took its
    /// place: until then readers find no file at all.
    RemovesTarget,
    /// The same temp path renamed onto the target in two writes, opened
    /// without `O_EXCL` and with no exclusive lock held: two writers share it.
    FixedTempName,
    /// A file tied to the target (renamed onto it, or created in its
    /// directory) really had permissions wider than the target's when a byte
    /// went into it or when it was renamed over the target: the token was
    /// readable by others.
    TempWiderThanTarget,
    /// A rename onto the target from another directory: not atomic across
    /// file systems (EXDEV, then copy).
    RenameFromOtherDir,
    /// Durability only: the file renamed onto the target was not fsynced
    /// before the rename (a crash can leave the target empty).
    NoFsyncBeforeRename,
    /// Durability only: the directory was not fsynced after the rename (a
    /// crash can undo the rename).
    NoDirFsync,
}

impl Finding {
    /// Whether readers can be hurt (an anomaly), rather than durability only.
    pub fn is_anomaly(self) -> bool {
        !matches!(self, Finding::NoFsyncBeforeRename | Finding::NoDirFsync)
    }

    pub fn describe(self) -> &'static str {
        match self {
            Finding::TruncatesTarget => "truncates the target in place (readers can see it empty)",
            Finding::WritesTargetInPlace => "writes the target in place (readers can see two versions mixed)",
            Finding::RemovesTarget => {
                "renames the target away or unlinks it before the new version takes its place (readers can find no file)"
            }
            Finding::FixedTempName => "uses the same temp file name on every write (two writers share it)",
            Finding::TempWiderThanTarget => "creates its temp file with a wider mode than the target's",
            Finding::RenameFromOtherDir => {
                "renames onto the target from another directory (not atomic across file systems)"
            }
            Finding::NoFsyncBeforeRename => "does not fsync the new file before the rename (not durable)",
            Finding::NoDirFsync => "does not fsync the directory after the rename (not durable)",
        }
    }
}

/// The recipe classes that are atomic for readers: a write whose traced
/// calls fall in one of these cannot show a reader anything but the old
/// version whole or the new version whole. This is the one place they are
/// defined ([`classify`] decides membership); each holds only if all of
/// the following hold for the write, which is why each is sound:
///
/// - the new version is written into an inode that is **not the
///   target's** (created or opened under another name), and every write to
///   it **returned before the rename began**: a reader that opens the target
///   before the rename gets the old inode, which nothing touches; one that
///   opens it after gets an inode no call is still writing;
/// - **one** successful rename puts it at the target's name: the kernel
///   swaps the directory entry in one step, so there is no instant without
///   a file at that name (unlike unlink + rename, or rename away + rename in);
/// - **no open for writing, truncate or write of the target's inode** — by
///   any name, before or after the rename (after it, the renamed inode *is*
///   the target's), and no shared writable mapping of any watched file (its
///   stores are invisible to the trace);
/// - **no reader-visible finding**: the temp file's real mode was never
///   wider than the target's while it held the new version (else the token
///   leaked, however atomic the swap), and no other anomaly of
///   [`Finding::is_anomaly`] showed.
///
/// What the trace could not see at all — writes by untraced processes,
/// `io_uring` submissions, shared mappings, dropped events — keeps every
/// write of the run out of the proof: see
/// [`crate::engine::tally::TraceReport::blind_spots`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecipeClass {
    /// `rename`/`renameat`/`renameat2` (without `RENAME_EXCHANGE`) of the
    /// completely written new file over the target: POSIX requires the
    /// target name to refer to the old or the new file at every instant.
    RenameOver,
    /// `renameat2(RENAME_EXCHANGE)` of the new file with the target: both
    /// names swap in one step (the old version ends at the temp name, which
    /// no reader opens).
    ExchangeOver,
}

impl RecipeClass {
    pub fn describe(self) -> &'static str {
        match self {
            RecipeClass::RenameOver => {
                "replaces the file by rename (new inode written completely, then one rename)"
            }
            RecipeClass::ExchangeOver => {
                "swaps the file in by renameat2(RENAME_EXCHANGE) (new inode written completely, then one exchange)"
            }
        }
    }
}

/// Writes in one atomic class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassCount {
    pub class: RecipeClass,
    pub writes: u64,
}

/// The first write in no atomic class, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outside {
    /// Its index among the writes judged (1 = the first).
    pub write: u64,
    /// Why it is in no class, in words.
    pub why: String,
    /// Its calls, with real paths (relative to the scratch HOME).
    pub calls: Vec<String>,
}

/// How many of a run's writes fall in an atomic [`RecipeClass`], by class,
/// and the first that does not. Only slices of calls that changed a file
/// are judged (the calls after a writer's last write, such as closing a
/// lock file, are not a write).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AtomicTally {
    /// Writes judged.
    pub writes: u64,
    /// Writes in each class.
    pub classes: Vec<ClassCount>,
    /// Writes in no class.
    pub outside: u64,
    pub first_outside: Option<Outside>,
}

impl AtomicTally {
    /// Writes in some atomic class.
    pub fn atomic(&self) -> u64 {
        self.classes.iter().map(|c| c.writes).sum()
    }

    fn count(&mut self, class: RecipeClass, n: u64) {
        match self.classes.iter_mut().find(|c| c.class == class) {
            Some(c) => c.writes += n,
            None => {
                self.classes.push(ClassCount { class, writes: n });
                self.classes.sort_by_key(|c| c.class);
            }
        }
    }

    fn merge(&mut self, other: AtomicTally) {
        self.writes += other.writes;
        self.outside += other.outside;
        for c in other.classes {
            self.count(c.class, c.writes);
        }
        if self.first_outside.is_none() {
            self.first_outside = other.first_outside;
        }
    }
}

/// One recipe and how many writes used it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipeCount {
    pub recipe: String,
    pub writes: u64,
}

/// A finding, how many writes showed it, and the evidence of the first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingCount {
    pub finding: Finding,
    pub writes: u64,
    /// The file that showed it (relative to the scratch HOME), if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The calls that prove it in the first write that showed it — the open
    /// with its result and the file's real state, a chmod, the first write,
    /// the rename — with real paths.
    pub example: Vec<String>,
}

/// An exclusive lock the writer holds, by the file's key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Held {
    key: Key,
    path: PathBuf,
}

/// The recipes and findings of a run: bounded, however many writes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipeBook {
    /// Writes analysed.
    pub writes: u64,
    /// The most used distinct recipes.
    pub recipes: Vec<RecipeCount>,
    /// Writes whose recipe was not among those kept.
    pub other_recipes: u64,
    pub findings: Vec<FindingCount>,
    /// How many writes fall in an atomic recipe class.
    #[serde(default)]
    pub atomic: AtomicTally,
    /// Temp paths renamed onto the target without `O_EXCL` or a lock.
    #[serde(skip)]
    temps: BTreeMap<PathBuf, u64>,
    /// Files the writer only locked (never wrote a byte into, never renamed
    /// onto the target): lock files, neither temp files nor litter.
    #[serde(skip)]
    lock_files: Vec<PathBuf>,
    /// Files renamed onto or away from the target.
    #[serde(skip)]
    tied: Vec<PathBuf>,
    /// What carries from one write to the next: the target's inode, the
    /// writer's umask, the exclusive locks it holds.
    #[serde(skip)]
    carry: Carry,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Carry {
    target: Option<(u64, u64)>,
    umask: Option<u32>,
    held: Vec<Held>,
}

impl RecipeBook {
    /// Adds one write's events (its calls in order) on `target`, whose mode
    /// before the write was `target_mode`; `umask` is the writer's as
    /// inherited (the trace's own `umask` calls override it). Returns the
    /// findings of this write.
    pub fn add(
        &mut self,
        events: &[Event],
        target: &Path,
        target_mode: Option<u32>,
        umask: u32,
    ) -> Vec<Finding> {
        if events.is_empty() {
            return Vec::new();
        }
        self.writes += 1;
        let r = analyse(events, target, target_mode, umask, &mut self.carry);
        let full = self.recipes.len() >= MAX_RECIPES;
        match self.recipes.iter_mut().find(|c| c.recipe == r.recipe) {
            Some(c) => c.writes += 1,
            None if !full => self.recipes.push(RecipeCount {
                recipe: r.recipe.clone(),
                writes: 1,
            }),
            None => self.other_recipes += 1,
        }
        self.recipes.sort_by_key(|c| std::cmp::Reverse(c.writes));
        let mut found = r.findings;
        if let Some(rn) = &r.renamed
            && !rn.guarded
        {
            let seen = self.temps.get(&rn.from).copied().unwrap_or(0);
            if seen > 0 {
                found.push(Found {
                    finding: Finding::FixedTempName,
                    file: Some(rn.from.clone()),
                    calls: rn.evidence.clone(),
                });
            }
            if seen > 0 || self.temps.len() < MAX_TEMPS {
                *self.temps.entry(rn.from.clone()).or_default() += 1;
            }
        }
        for p in r.lock_files {
            if !self.lock_files.contains(&p) && self.lock_files.len() < MAX_PATHS {
                self.lock_files.push(p);
            }
        }
        for p in r.tied {
            if !self.tied.contains(&p) && self.tied.len() < MAX_PATHS {
                self.tied.push(p);
            }
        }
        // One entry per finding per write, with the first proof found.
        found.sort_by_key(|f| f.finding);
        found.dedup_by_key(|f| f.finding);
        let rel = |p: &Path| relative(&p.display().to_string(), target);
        for f in &found {
            match self.findings.iter_mut().find(|c| c.finding == f.finding) {
                Some(c) => c.writes += 1,
                None => self.findings.push(FindingCount {
                    finding: f.finding,
                    writes: 1,
                    file: f.file.as_deref().map(rel),
                    example: f
                        .calls
                        .iter()
                        .map(|&i| relative(&describe_evidence(&events[i]), target))
                        .collect(),
                }),
            }
        }
        self.findings.sort_by_key(|c| c.finding);
        if r.changes {
            self.atomic.writes += 1;
            let anomaly = found.iter().find(|f| f.finding.is_anomaly());
            match (r.class, anomaly) {
                (Ok(class), None) => self.atomic.count(class, 1),
                (class, anomaly) => {
                    self.atomic.outside += 1;
                    if self.atomic.first_outside.is_none() {
                        let why = match (anomaly, class) {
                            (Some(f), _) => format!("recipe {}", f.finding.describe()),
                            (None, Err(why)) => why,
                            (None, Ok(_)) => unreachable!("in a class without a finding"),
                        };
                        self.atomic.first_outside = Some(Outside {
                            write: self.atomic.writes,
                            why: relative(&why, target),
                            calls: events
                                .iter()
                                .map(|e| relative(&describe_evidence(e), target))
                                .collect(),
                        });
                    }
                }
            }
        }
        found.into_iter().map(|f| f.finding).collect()
    }

    /// Folds another writer's book into this one (bounded like `add`).
    pub fn merge(&mut self, other: RecipeBook) {
        self.writes += other.writes;
        self.other_recipes += other.other_recipes;
        for r in other.recipes {
            let full = self.recipes.len() >= MAX_RECIPES;
            match self.recipes.iter_mut().find(|c| c.recipe == r.recipe) {
                Some(c) => c.writes += r.writes,
                None if !full => self.recipes.push(r),
                None => self.other_recipes += r.writes,
            }
        }
        self.recipes.sort_by_key(|c| std::cmp::Reverse(c.writes));
        for f in other.findings {
            match self.findings.iter_mut().find(|c| c.finding == f.finding) {
                Some(c) => c.writes += f.writes,
                None => self.findings.push(f),
            }
        }
        self.findings.sort_by_key(|c| c.finding);
        // Two writers renaming the same unguarded temp path: a shared fixed name.
        for (tmp, n) in other.temps {
            if self.temps.contains_key(&tmp)
                && !self.findings.iter().any(|f| f.finding == Finding::FixedTempName)
            {
                self.findings.push(FindingCount {
                    finding: Finding::FixedTempName,
                    writes: 1,
                    file: Some(tmp.display().to_string()),
                    example: vec![format!("two writers renamed {} onto the target", tmp.display())],
                });
                self.findings.sort_by_key(|c| c.finding);
            }
            if self.temps.len() < MAX_TEMPS {
                *self.temps.entry(tmp).or_default() += n;
            }
        }
        for p in other.lock_files {
            if !self.lock_files.contains(&p) && self.lock_files.len() < MAX_PATHS {
                self.lock_files.push(p);
            }
        }
        for p in other.tied {
            if !self.tied.contains(&p) && self.tied.len() < MAX_PATHS {
                self.tied.push(p);
            }
        }
        self.atomic.merge(other.atomic);
    }

    /// Writes that showed an anomaly-class finding.
    pub fn anomalies(&self) -> u64 {
        self.findings
            .iter()
            .filter(|f| f.finding.is_anomaly())
            .map(|f| f.writes)
            .sum()
    }

    /// Whether `path` is a file the writer only locked (a lock file: not
    /// litter when left behind).
    pub fn is_lock_file(&self, path: &Path) -> bool {
        self.lock_files.iter().any(|p| p == path)
    }

    /// Whether a file tied to the target (renamed onto or away from it) was
    /// `path` or lay under it: a directory the writer left behind counts as
    /// litter only then.
    pub fn holds_tied(&self, path: &Path) -> bool {
        self.tied.iter().any(|p| p.starts_with(path))
    }
}

/// A file as the analysis knows it: its inode where the trace read it,
/// else its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    Ino(u64, u64),
    Path(PathBuf),
}

/// What one write did to one file, in the order the calls came.
#[derive(Debug, Default)]
struct FileTrack {
    /// The file's name now.
    path: PathBuf,
    /// Its permission bits as last read (or, for a trace without real
    /// state, as a create asked for them under the writer's umask).
    mode: Option<u32>,
    /// Created in the target's directory in this write.
    created_in_dir: bool,
    /// The open that created or opened it, and the chmods since.
    opened: Option<usize>,
    chmods: Vec<usize>,
    /// Opened with `O_CREAT|O_EXCL` (or `O_TMPFILE`): no other writer can
    /// have it open.
    excl: bool,
    /// An exclusive lock on another file was held when it was opened.
    lock_at_open: bool,
    locked: bool,
    /// The first write into it, and the first while its mode was wider
    /// than the target's.
    first_write: Option<usize>,
    wide_write: Option<usize>,
    bytes: u64,
    /// When the last write into it returned.
    last_write_end: u64,
    synced: bool,
    renamed_onto: bool,
}

struct Found {
    finding: Finding,
    file: Option<PathBuf>,
    calls: Vec<usize>,
}

/// The rename onto the target, as the book needs it for a fixed temp name.
struct Renamed {
    from: PathBuf,
    /// Opened `O_EXCL`, or under an exclusive lock still held at the rename.
    guarded: bool,
    evidence: Vec<usize>,
}

struct Analysis {
    recipe: String,
    findings: Vec<Found>,
    renamed: Option<Renamed>,
    /// The write changed some file (judged for the atomic classes).
    changes: bool,
    class: Result<RecipeClass, String>,
    lock_files: Vec<PathBuf>,
    tied: Vec<PathBuf>,
}

fn analyse(
    events: &[Event],
    target: &Path,
    target_mode: Option<u32>,
    umask: u32,
    carry: &mut Carry,
) -> Analysis {
    let dir = target.parent().unwrap_or(Path::new("/"));
    let name = |p: &Path| -> String {
        if p == target {
            target
                .file_name()
                .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
        } else if p == dir {
            "{dir}".into()
        } else if p.parent() == Some(dir) {
            "{tmp}".into()
        } else {
            p.display().to_string()
        }
    };
    let wider = |mode: Option<u32>| match (mode, target_mode) {
        (Some(m), Some(t)) => m & 0o777 & !(t & 0o777) != 0,
        _ => false,
    };
    let mut files: BTreeMap<Key, FileTrack> = BTreeMap::new();
    // Name → the file at that name now, as far as this write shows.
    let mut names: BTreeMap<PathBuf, Key> = BTreeMap::new();
    let key_of = |e: &Event, path: &Path, names: &BTreeMap<PathBuf, Key>| -> Key {
        match e.file {
            Some(f) => Key::Ino(f.dev, f.ino),
            None => names
                .get(path)
                .cloned()
                .unwrap_or_else(|| Key::Path(path.to_path_buf())),
        }
    };
    let mut umask = carry.umask.unwrap_or(umask);
    let mut steps: Vec<String> = Vec::new();
    let mut findings: Vec<Found> = Vec::new();
    let mut renamed: Option<Renamed> = None;
    let mut renames_onto: Vec<(usize, Key, bool)> = Vec::new();
    let mut renamed_at = None;
    let mut dir_synced_after = false;
    let mut changes = false;
    // Why the write is in no atomic class, as soon as one reason shows.
    let mut breaks: Option<String> = None;
    let mut lock_files = Vec::new();
    let mut tied = Vec::new();
    let is_target = |key: &Key, path: &Path, carry: &Carry| match key {
        Key::Ino(d, i) => carry.target == Some((*d, *i)) || (carry.target.is_none() && path == target),
        Key::Path(p) => p == target,
    };
    for (i, e) in events.iter().enumerate().filter(|(_, e)| e.ok()) {
        let step = match &e.call {
            Call::Open {
                path, flags, mode, ..
            } => {
                let key = match e.file {
                    Some(f) => Key::Ino(f.dev, f.ino),
                    None => Key::Path(path.clone()),
                };
                if path == target
                    && let Key::Ino(d, n) = key
                {
                    carry.target = Some((d, n));
                }
                let creates = flags & nix::libc::O_CREAT != 0;
                // A file this open created is new: never the target's inode
                // (even if the number is a freed one's).
                let fresh = e.file.is_some_and(|f| f.created);
                if fresh && carry.target.map(|(d, n)| Key::Ino(d, n)).as_ref() == Some(&key) {
                    // The inode torn took for the target's was replaced
                    // unseen (an untraced process) and its number reused.
                    carry.target = None;
                }
                if !fresh && is_target(&key, path, carry) {
                    if super::window::writes(*flags) {
                        breaks.get_or_insert_with(|| {
                            format!("opens the target for writing: {}", describe_evidence(e))
                        });
                        if flags & nix::libc::O_TRUNC != 0 {
                            changes = true;
                            findings.push(Found {
                                finding: Finding::TruncatesTarget,
                                file: Some(path.clone()),
                                calls: vec![i],
                            });
                        }
                    }
                } else {
                    let created = match e.file {
                        Some(f) => f.created,
                        None => creates && flags & nix::libc::O_EXCL != 0,
                    };
                    let excl = flags & nix::libc::O_TMPFILE == nix::libc::O_TMPFILE
                        || (creates && flags & nix::libc::O_EXCL != 0);
                    let lock_at_open = carry.held.iter().any(|h| h.key != key);
                    let f = files.entry(key.clone()).or_default();
                    f.path = path.clone();
                    f.mode = match e.file.and_then(|s| s.mode) {
                        Some(m) => Some(m),
                        // A trace without real state: what the create asked
                        // for under the writer's umask, if it created.
                        None if creates => Some(mode & !umask & 0o7777),
                        None => f.mode,
                    };
                    f.created_in_dir |= created && path.parent() == Some(dir);
                    f.opened = Some(i);
                    f.chmods.clear();
                    f.excl = excl;
                    f.lock_at_open = lock_at_open;
                    if flags & nix::libc::O_TRUNC != 0 && !created {
                        changes = true;
                    }
                }
                names.insert(path.clone(), key);
                if creates {
                    format!("open({}, {}, {:04o})", name(path), flags_str(*flags), mode)
                } else {
                    format!("open({}, {})", name(path), flags_str(*flags))
                }
            }
            Call::Umask { mask } => {
                umask = *mask;
                carry.umask = Some(*mask);
                format!("umask({mask:04o})")
            }
            Call::Chmod { path, mode } => {
                let key = key_of(e, path, &names);
                if let Some(f) = files.get_mut(&key) {
                    f.mode = e.file.and_then(|s| s.mode).or(Some(*mode));
                    f.chmods.push(i);
                }
                format!("chmod({}, {:04o})", name(path), mode)
            }
            Call::Write { path, len, .. } => {
                let key = key_of(e, path, &names);
                if *len > 0 {
                    changes = true;
                }
                if is_target(&key, path, carry) {
                    if !findings.iter().any(|f| f.finding == Finding::TruncatesTarget) {
                        let mut calls: Vec<usize> =
                            files.get(&key).and_then(|f| f.opened).into_iter().collect();
                        calls.extend(renames_onto.iter().filter(|r| r.1 == key).map(|r| r.0));
                        calls.push(i);
                        findings.push(Found {
                            finding: Finding::WritesTargetInPlace,
                            file: Some(path.clone()),
                            calls,
                        });
                    }
                    breaks.get_or_insert_with(|| {
                        format!("writes the target's inode: {}", describe_evidence(e))
                    });
                } else {
                    let f = files.entry(key).or_insert_with(|| FileTrack {
                        path: path.clone(),
                        ..FileTrack::default()
                    });
                    if *len > 0 {
                        f.first_write.get_or_insert(i);
                        f.bytes += len;
                        if wider(f.mode) {
                            f.wide_write.get_or_insert(i);
                        }
                    }
                    f.last_write_end = f.last_write_end.max(e.end_ns);
                    if f.created_in_dir && f.wide_write.is_some() {
                        findings.push(Found {
                            finding: Finding::TempWiderThanTarget,
                            file: Some(path.clone()),
                            calls: proof(f, f.wide_write),
                        });
                    }
                }
                // Consecutive writes to one file are one step.
                let label = format!("write({})", name(path));
                if let Some(last) = steps.last_mut()
                    && last.starts_with(&label)
                {
                    let (count, bytes) = parse_write(last);
                    *last = format!("{label} ×{} {} B", count + 1, bytes + len);
                    continue;
                }
                format!("{label} {len} B")
            }
            Call::Truncate { path, len } => {
                let key = key_of(e, path, &names);
                changes = true;
                if is_target(&key, path, carry) {
                    if *len == 0 {
                        findings.push(Found {
                            finding: Finding::TruncatesTarget,
                            file: Some(path.clone()),
                            calls: vec![i],
                        });
                    }
                    breaks.get_or_insert_with(|| format!("truncates the target: {}", describe_evidence(e)));
                }
                format!("truncate({}, {len})", name(path))
            }
            Call::Fsync { path, data_only } => {
                let key = key_of(e, path, &names);
                if let Some(f) = files.get_mut(&key) {
                    f.synced = true;
                }
                if renamed_at.is_some() && path == dir {
                    dir_synced_after = true;
                }
                format!(
                    "{}({})",
                    if *data_only { "fdatasync" } else { "fsync" },
                    name(path)
                )
            }
            Call::Rename { from, to, flags } => {
                changes = true;
                let exchange = flags & nix::libc::RENAME_EXCHANGE != 0;
                let key = match e.file {
                    Some(f) => Key::Ino(f.dev, f.ino),
                    None => names
                        .get(from)
                        .cloned()
                        .unwrap_or_else(|| Key::Path(from.clone())),
                };
                if to == target {
                    renamed_at = Some(steps.len());
                    renames_onto.push((i, key.clone(), exchange));
                    if tied.len() < MAX_PATHS {
                        tied.push(from.clone());
                    }
                    let f = files.entry(key.clone()).or_insert_with(|| FileTrack {
                        path: from.clone(),
                        ..FileTrack::default()
                    });
                    f.renamed_onto = true;
                    if let Some(m) = e.file.and_then(|s| s.mode) {
                        f.mode = Some(m);
                    }
                    // The mode rule: wider while it held the new version, or
                    // wider as it became the target.
                    if f.wide_write.is_some() || wider(f.mode) {
                        let mut calls = proof(f, f.wide_write);
                        calls.push(i);
                        findings.push(Found {
                            finding: Finding::TempWiderThanTarget,
                            file: Some(from.clone()),
                            calls,
                        });
                    }
                    if from.parent() != Some(dir) {
                        findings.push(Found {
                            finding: Finding::RenameFromOtherDir,
                            file: Some(from.clone()),
                            calls: vec![i],
                        });
                    }
                    if !f.synced {
                        findings.push(Found {
                            finding: Finding::NoFsyncBeforeRename,
                            file: Some(from.clone()),
                            calls: vec![i],
                        });
                    }
                    if f.last_write_end > e.start_ns {
                        breaks.get_or_insert_with(|| {
                            format!(
                                "a write into {} returned after the rename onto the target began",
                                from.display()
                            )
                        });
                    }
                    let guarded = f.excl
                        || (f.lock_at_open
                            && carry
                                .held
                                .iter()
                                .any(|h| Some(&h.key) != carry.target.map(|(d, n)| Key::Ino(d, n)).as_ref()));
                    let mut evidence: Vec<usize> = f.opened.into_iter().collect();
                    evidence.push(i);
                    renamed = Some(Renamed {
                        from: from.clone(),
                        guarded,
                        evidence,
                    });
                    f.path = to.clone();
                    carry.target = match key {
                        Key::Ino(d, n) => Some((d, n)),
                        Key::Path(_) => None,
                    };
                } else if from == target && !exchange {
                    findings.push(Found {
                        finding: Finding::RemovesTarget,
                        file: Some(target.to_path_buf()),
                        calls: vec![i],
                    });
                    if tied.len() < MAX_PATHS {
                        tied.push(to.clone());
                    }
                    carry.target = None;
                }
                names.remove(from);
                names.insert(to.clone(), key);
                format!("rename({} → {})", name(from), name(to))
            }
            Call::Link { from, to } => {
                changes = true;
                if to == target {
                    breaks.get_or_insert_with(|| {
                        format!("links a file at the target's name: {}", describe_evidence(e))
                    });
                }
                format!("link({} → {})", name(from), name(to))
            }
            Call::Symlink { target: t, to } => {
                changes = true;
                if to == target {
                    breaks.get_or_insert_with(|| {
                        format!("puts a symlink at the target's name: {}", describe_evidence(e))
                    });
                }
                format!("symlink({} → {})", t.display(), name(to))
            }
            Call::Unlink { path } => {
                if path == target {
                    changes = true;
                    findings.push(Found {
                        finding: Finding::RemovesTarget,
                        file: Some(path.clone()),
                        calls: vec![i],
                    });
                    carry.target = None;
                }
                names.remove(path);
                format!("unlink({})", name(path))
            }
            Call::Mkdir { path, .. } => format!("mkdir({})", name(path)),
            Call::Rmdir { path } => format!("rmdir({})", name(path)),
            Call::Chown { path, .. } => format!("chown({})", name(path)),
            Call::Close { path, .. } => {
                // A close drops the locks taken through the file (all of a
                // process's POSIX locks on it; a flock with the last
                // descriptor, which is how lock files are released).
                let key = key_of(e, path, &names);
                carry.held.retain(|h| h.key != key);
                format!("close({})", name(path))
            }
            Call::Lock { path, op, .. } => {
                let key = key_of(e, path, &names);
                match op {
                    LockOp::Exclusive => {
                        if let Some(f) = files.get_mut(&key) {
                            f.locked = true;
                        } else {
                            files.insert(
                                key.clone(),
                                FileTrack {
                                    path: path.clone(),
                                    locked: true,
                                    ..FileTrack::default()
                                },
                            );
                        }
                        if !carry.held.iter().any(|h| h.key == key) && carry.held.len() < MAX_HELD {
                            carry.held.push(Held {
                                key,
                                path: path.clone(),
                            });
                        }
                    }
                    LockOp::Shared => {}
                    LockOp::Unlock => carry.held.retain(|h| h.key != key),
                }
                format!("{}({}, {op:?})", e.call.name(), name(path))
            }
            Call::Mmap { path } => {
                let key = key_of(e, path, &names);
                changes = true;
                if is_target(&key, path, carry) {
                    findings.push(Found {
                        finding: Finding::WritesTargetInPlace,
                        file: Some(path.clone()),
                        calls: vec![i],
                    });
                }
                breaks.get_or_insert_with(|| {
                    format!(
                        "maps {} shared and writable: stores into it are invisible to the trace",
                        path.display()
                    )
                });
                format!("mmap({})", name(path))
            }
        };
        steps.push(step);
    }
    if renamed_at.is_some() && !dir_synced_after {
        findings.push(Found {
            finding: Finding::NoDirFsync,
            file: Some(dir.to_path_buf()),
            calls: renames_onto.last().map(|r| r.0).into_iter().collect(),
        });
    }
    for f in files.values() {
        if f.locked && f.bytes == 0 && !f.renamed_onto && lock_files.len() < MAX_PATHS {
            lock_files.push(f.path.clone());
        }
    }
    let class = match (breaks, renames_onto.as_slice()) {
        (Some(why), _) => Err(why),
        (None, []) => Err("no rename onto the target".to_string()),
        (None, [(_, key, exchange)]) => match files.get(key) {
            Some(f) if f.bytes > 0 => Ok(if *exchange {
                RecipeClass::ExchangeOver
            } else {
                RecipeClass::RenameOver
            }),
            _ => Err("nothing the trace saw was written into the file renamed onto the target".to_string()),
        },
        (None, more) => Err(format!("{} renames onto the target in one write", more.len())),
    };
    Analysis {
        recipe: steps.join(" → "),
        findings,
        renamed,
        changes,
        class,
        lock_files,
        tied,
    }
}

/// The calls that show a file's mode when a byte went into it: its open,
/// its chmods so far, and the write (`at`) — or its first write.
fn proof(f: &FileTrack, at: Option<usize>) -> Vec<usize> {
    let mut calls: Vec<usize> = f.opened.into_iter().collect();
    calls.extend(f.chmods.iter().copied().filter(|&c| at.is_none_or(|w| c < w)));
    calls.extend(at.or(f.first_write));
    calls.sort_unstable();
    calls.dedup();
    calls
}

/// Splits the calls of several writes made back to back into one slice per
/// write: a write ends with a rename (or link) onto the target, or with the
/// close of a descriptor that had the target open for writing. Calls after
/// the last end form a slice of their own.
pub fn split_writes<'e>(events: &'e [Event], target: &Path) -> Vec<&'e [Event]> {
    let dir = target.parent().unwrap_or(Path::new("/"));
    let on_dir = |e: &Event| match &e.call {
        Call::Open { path, .. } | Call::Fsync { path, .. } | Call::Close { path, .. } => path == dir,
        _ => false,
    };
    let mut out = Vec::new();
    let mut begin = 0;
    let mut writing: Vec<i32> = Vec::new();
    let mut i = 0;
    while i < events.len() {
        let e = &events[i];
        let (ends, renamed) = match &e.call {
            Call::Open { path, flags, fd, .. } => {
                if path == target && super::window::writes(*flags) && *fd >= 0 {
                    writing.push(*fd);
                }
                (false, false)
            }
            Call::Close { path, fd } => (
                path == target && {
                    let was = writing.contains(fd);
                    writing.retain(|f| f != fd);
                    was
                },
                false,
            ),
            Call::Rename { to, .. } | Call::Link { to, .. } => (to == target, to == target),
            _ => (false, false),
        };
        if ends {
            // The directory fsync that makes a rename durable belongs to it.
            let mut end = i;
            if renamed {
                while end + 1 < events.len() && on_dir(&events[end + 1]) {
                    end += 1;
                }
            }
            out.push(&events[begin..=end]);
            begin = end + 1;
            i = end;
        }
        i += 1;
    }
    if begin < events.len() {
        out.push(&events[begin..]);
    }
    out
}

/// (count, bytes) of a merged write step `write(x) ×N B B` or `write(x) B B`.
fn parse_write(step: &str) -> (u64, u64) {
    let rest = step.rsplit_once(") ").map_or("", |(_, r)| r);
    let (count, bytes) = match rest.strip_prefix('×') {
        Some(r) => {
            let mut it = r.split_whitespace();
            (it.next().and_then(|c| c.parse().ok()).unwrap_or(1), it.next())
        }
        None => (1, rest.split_whitespace().next()),
    };
    (count, bytes.and_then(|b| b.parse().ok()).unwrap_or(0))
}

/// `O_WRONLY|O_CREAT|O_TRUNC`.
pub fn flags_str(flags: i32) -> String {
    use nix::libc::*;
    let mut parts = vec![match flags & O_ACCMODE {
        O_WRONLY => "O_WRONLY",
        O_RDWR => "O_RDWR",
        _ => "O_RDONLY",
    }];
    for (bit, name) in [
        (O_CREAT, "O_CREAT"),
        (O_EXCL, "O_EXCL"),
        (O_TRUNC, "O_TRUNC"),
        (O_APPEND, "O_APPEND"),
        (O_TMPFILE & !O_DIRECTORY, "O_TMPFILE"),
    ] {
        if flags & bit == bit && bit != 0 {
            parts.push(name);
        }
    }
    parts.join("|")
}

/// `call` with paths under the target's directory's parent (the scratch
/// HOME, usually) written relative to it: `.hermes/config.yaml`.
fn relative(call: &str, target: &Path) -> String {
    match target.parent().and_then(Path::parent) {
        Some(base) if base != Path::new("/") => call.replace(&format!("{}/", base.display()), ""),
        _ => call.to_string(),
    }
}

/// One call with its real paths, for evidence.
pub fn describe_call(e: &Event) -> String {
    let r = if e.ok() {
        String::new()
    } else {
        format!(" = -{}", nix::errno::Errno::from_raw(-e.result as i32))
    };
    let c = match &e.call {
        Call::Open {
            path, flags, mode, ..
        } => {
            format!("open({}, {}, {:04o})", path.display(), flags_str(*flags), mode)
        }
        Call::Write {
            path, len, offset, ..
        } => match offset {
            Some(o) => format!("pwrite({}, {len} B at {o})", path.display()),
            None => format!("write({}, {len} B)", path.display()),
        },
        Call::Truncate { path, len } => format!("truncate({}, {len})", path.display()),
        Call::Fsync { path, data_only } => {
            format!(
                "{}({})",
                if *data_only { "fdatasync" } else { "fsync" },
                path.display()
            )
        }
        Call::Rename { from, to, .. } => format!("rename({} → {})", from.display(), to.display()),
        Call::Link { from, to } => format!("link({} → {})", from.display(), to.display()),
        Call::Symlink { target, to } => format!("symlink({} → {})", target.display(), to.display()),
        Call::Unlink { path } => format!("unlink({})", path.display()),
        Call::Mkdir { path, mode } => format!("mkdir({}, {:04o})", path.display(), mode),
        Call::Rmdir { path } => format!("rmdir({})", path.display()),
        Call::Chmod { path, mode } => format!("chmod({}, {:04o})", path.display(), mode),
        Call::Chown { path, uid, gid } => format!("chown({}, {uid}, {gid})", path.display()),
        Call::Close { path, .. } => format!("close({})", path.display()),
        Call::Umask { mask } => format!("umask({mask:04o})"),
        Call::Lock { path, op, .. } => format!("{}({}, {op:?})", e.call.name(), path.display()),
        Call::Mmap { path } => format!("mmap({}, PROT_WRITE, MAP_SHARED)", path.display()),
    };
    c + &r
}

/// One call with its real paths, its result and the real state of its file
/// as read at its exit: `open(.hermes/x.tmp, O_WRONLY|O_CREAT|O_TRUNC, 0666)
/// = 3 (existing file, mode 0600)`.
pub fn describe_evidence(e: &Event) -> String {
    let mut s = describe_call(e);
    if !e.ok() {
        return s;
    }
    if let Call::Open { fd, .. } = &e.call {
        s.push_str(&format!(" = {fd}"));
    }
    if let Some(f) = e.file
        && let Some(mode) = f.mode
    {
        let what = match &e.call {
            Call::Open { .. } if f.created => "created, ",
            Call::Open { .. } => "existing file, ",
            _ => "",
        };
        s.push_str(&format!(" ({what}mode {mode:04o})"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::libc::{O_CREAT, O_EXCL, O_RDWR, O_TRUNC, O_WRONLY, RENAME_EXCHANGE};

    fn e(call: Call) -> Event {
        Event {
            start_ns: 0,
            end_ns: 0,
            tid: 1,
            call,
            result: 0,
            file: None,
        }
    }

    fn naive(t: &Path) -> Vec<Event> {
        vec![
            e(Call::Open {
                path: t.into(),
                flags: O_WRONLY | O_CREAT | O_TRUNC,
                mode: 0o666,
                fd: 3,
            }),
            e(Call::Write {
                path: t.into(),
                fd: 3,
                offset: None,
                len: 600,
                data: None,
            }),
            e(Call::Write {
                path: t.into(),
                fd: 3,
                offset: None,
                len: 596,
                data: None,
            }),
            e(Call::Close {
                path: t.into(),
                fd: 3,
            }),
        ]
    }

    fn durable(t: &Path, tmp: &Path) -> Vec<Event> {
        let dir = t.parent().unwrap();
        vec![
            e(Call::Open {
                path: tmp.into(),
                flags: O_RDWR | O_CREAT | O_EXCL,
                mode: 0o600,
                fd: 4,
            }),
            e(Call::Write {
                path: tmp.into(),
                fd: 4,
                offset: None,
                len: 1196,
                data: None,
            }),
            e(Call::Fsync {
                path: tmp.into(),
                data_only: false,
            }),
            e(Call::Close {
                path: tmp.into(),
                fd: 4,
            }),
            e(Call::Rename {
                from: tmp.into(),
                to: t.into(),
                flags: 0,
            }),
            e(Call::Fsync {
                path: dir.into(),
                data_only: false,
            }),
        ]
    }

    #[test]
    fn a_truncating_writer_is_a_finding_on_its_first_write() {
        let t = Path::new("/h/.hermes/config.yaml");
        let mut b = RecipeBook::default();
        b.add(&naive(t), t, Some(0o600), 0o022);
        assert_eq!(
            b.recipes[0].recipe,
            "open(config.yaml, O_WRONLY|O_CREAT|O_TRUNC, 0666) → write(config.yaml) ×2 1196 B → close(config.yaml)"
        );
        assert_eq!(b.findings.len(), 1);
        assert_eq!(b.findings[0].finding, Finding::TruncatesTarget);
        assert_eq!(b.anomalies(), 1);
        assert!(b.findings[0].example[0].starts_with("open(.hermes/config.yaml, O_WRONLY|O_CREAT|O_TRUNC"));
    }

    #[test]
    fn a_durable_writer_has_no_finding_and_one_recipe() {
        let t = Path::new("/h/.hermes/config.yaml");
        let mut b = RecipeBook::default();
        for i in 0..5 {
            let tmp = PathBuf::from(format!("/h/.hermes/.config.yaml.{i}.tmp"));
            b.add(&durable(t, &tmp), t, Some(0o600), 0o022);
        }
        assert_eq!(b.recipes.len(), 1);
        assert_eq!(b.recipes[0].writes, 5);
        assert_eq!(
            b.recipes[0].recipe,
            "open({tmp}, O_RDWR|O_CREAT|O_EXCL, 0600) → write({tmp}) 1196 B → fsync({tmp}) → close({tmp}) → rename({tmp} → config.yaml) → fsync({dir})"
        );
        assert!(b.findings.is_empty(), "{:?}", b.findings);
    }

    #[test]
    fn back_to_back_writes_split_into_one_slice_each() {
        let t = Path::new("/h/.hermes/config.yaml");
        let mut events = naive(t);
        events.extend(durable(t, Path::new("/h/.hermes/.a.tmp")));
        events.extend(naive(t));
        let parts = split_writes(&events, t);
        assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), vec![4, 6, 4]);
    }

    #[test]
    fn a_fixed_wide_temp_without_fsync_shows_each_finding() {
        let t = Path::new("/h/.hermes/config.yaml");
        let tmp = Path::new("/h/.hermes/config.yaml.tmp");
        let events = vec![
            e(Call::Open {
                path: tmp.into(),
                flags: O_WRONLY | O_CREAT | O_TRUNC,
                mode: 0o666,
                fd: 3,
            }),
            e(Call::Close {
                path: tmp.into(),
                fd: 3,
            }),
            e(Call::Rename {
                from: tmp.into(),
                to: t.into(),
                flags: 0,
            }),
        ];
        let mut b = RecipeBook::default();
        b.add(&events, t, Some(0o600), 0o022);
        b.add(&events, t, Some(0o600), 0o022);
        let found: Vec<Finding> = b.findings.iter().map(|f| f.finding).collect();
        assert_eq!(
            found,
            vec![
                Finding::FixedTempName,
                Finding::TempWiderThanTarget,
                Finding::NoFsyncBeforeRename,
                Finding::NoDirFsync
            ]
        );
        assert_eq!(
            b.findings[0].writes, 1,
            "the name is fixed from the second write on"
        );
        assert_eq!(b.anomalies(), 1 + 2);
    }

    // ---- Findings from real file state -------------------------------

    const T: &str = "/h/.hermes/config.yaml";

    /// An event whose file's real state was read at its exit.
    fn st(call: Call, ino: u64, mode: Option<u32>, created: bool) -> Event {
        Event {
            file: Some(crate::trace::FileState {
                dev: 1,
                ino,
                mode,
                created,
            }),
            ..e(call)
        }
    }

    fn open(path: &str, flags: i32, mode: u32, fd: i32) -> Call {
        Call::Open {
            path: path.into(),
            flags,
            mode,
            fd,
        }
    }

    fn write(path: &str, fd: i32, len: u64) -> Call {
        Call::Write {
            path: path.into(),
            fd,
            offset: None,
            len,
            data: None,
        }
    }

    fn rename(from: &str, to: &str) -> Call {
        Call::Rename {
            from: from.into(),
            to: to.into(),
            flags: 0,
        }
    }

    fn close(path: &str, fd: i32) -> Call {
        Call::Close {
            path: path.into(),
            fd,
        }
    }

    fn found(b: &RecipeBook) -> Vec<Finding> {
        b.findings
            .iter()
            .map(|f| f.finding)
            .filter(|f| f.is_anomaly())
            .collect()
    }

    /// PyPI atomicwrites 1.4.1: mkstemp (0600), close, reopen by name with
    /// `O_CREAT|O_TRUNC, 0666`, write, fsync, rename.
    fn atomicwrites(tmp: &str, ino: u64, real: bool) -> Vec<Event> {
        let s = |c, mode, created| {
            if real {
                st(c, ino, Some(mode), created)
            } else {
                e(c)
            }
        };
        vec![
            s(open(tmp, O_RDWR | O_CREAT | O_EXCL, 0o600, 3), 0o600, true),
            e(close(tmp, 3)),
            s(open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o666, 3), 0o600, false),
            e(write(tmp, 3, 1196)),
            e(Call::Fsync {
                path: tmp.into(),
                data_only: false,
            }),
            e(close(tmp, 3)),
            s(rename(tmp, T), 0o600, false),
        ]
    }

    #[test]
    fn reopening_an_existing_0600_temp_with_0666_is_not_wider_by_its_real_mode() {
        let mut real = RecipeBook::default();
        real.add(
            &atomicwrites("/h/.hermes/tmpa.tmp", 10, true),
            Path::new(T),
            Some(0o600),
            0o022,
        );
        assert!(found(&real).is_empty(), "{:?}", real.findings);
        assert_eq!(real.atomic.atomic(), 1);
        assert_eq!(real.atomic.classes[0].class, RecipeClass::RenameOver);
        // The same calls judged by their arguments alone (a trace without
        // real state) would take the reopen's 0666 for a create.
        let mut args = RecipeBook::default();
        args.add(
            &atomicwrites("/h/.hermes/tmpa.tmp", 10, false),
            Path::new(T),
            Some(0o600),
            0o022,
        );
        assert_eq!(found(&args), vec![Finding::TempWiderThanTarget]);
        assert_eq!(args.atomic.atomic(), 0);
    }

    fn git_lock(chmod_first: bool) -> Vec<Event> {
        let lock = "/h/.hermes/config.yaml.lock";
        let chmod = st(
            Call::Chmod {
                path: lock.into(),
                mode: 0o600,
            },
            20,
            Some(0o600),
            false,
        );
        let mut v = vec![st(
            open(lock, O_RDWR | O_CREAT | O_EXCL, 0o666, 3),
            20,
            Some(0o644),
            true,
        )];
        if chmod_first {
            v.push(chmod.clone());
        }
        v.push(st(write(lock, 3, 1196), 20, None, false));
        if !chmod_first {
            v.push(chmod);
        }
        v.push(e(close(lock, 3)));
        v.push(st(rename(lock, T), 20, Some(0o600), false));
        v
    }

    #[test]
    fn an_o_excl_lock_file_narrowed_before_its_first_byte_is_no_finding() {
        let mut b = RecipeBook::default();
        for _ in 0..3 {
            b.add(&git_lock(true), Path::new(T), Some(0o600), 0o022);
        }
        assert!(found(&b).is_empty(), "fixed name, but O_EXCL: {:?}", b.findings);
        assert_eq!(b.atomic.atomic(), 3);
    }

    #[test]
    fn a_byte_written_while_the_temp_is_wider_is_a_finding_however_it_ends() {
        let mut b = RecipeBook::default();
        b.add(&git_lock(false), Path::new(T), Some(0o600), 0o022);
        assert_eq!(found(&b), vec![Finding::TempWiderThanTarget]);
        let f = &b.findings[0];
        assert_eq!(f.file.as_deref(), Some(".hermes/config.yaml.lock"));
        assert_eq!(
            f.example,
            vec![
                "open(.hermes/config.yaml.lock, O_RDWR|O_CREAT|O_EXCL, 0666) = 3 (created, mode 0644)",
                "write(.hermes/config.yaml.lock, 1196 B)",
            ],
            "the open with its real mode, and the first byte that went in while it was 0644"
        );
        assert!(
            b.atomic
                .first_outside
                .as_ref()
                .unwrap()
                .why
                .contains("wider mode")
        );
    }

    #[test]
    fn a_temp_chmod_wider_after_the_token_went_in_is_a_finding_with_its_calls_in_order() {
        let tmp = "/h/.hermes/tmpq.tmp";
        let events = vec![
            st(
                open(tmp, O_RDWR | O_CREAT | O_EXCL, 0o600, 3),
                5,
                Some(0o600),
                true,
            ),
            e(write(tmp, 3, 1196)),
            st(
                Call::Chmod {
                    path: tmp.into(),
                    mode: 0o644,
                },
                5,
                Some(0o644),
                false,
            ),
            e(close(tmp, 3)),
            st(rename(tmp, T), 5, Some(0o644), false),
        ];
        let mut b = RecipeBook::default();
        b.add(&events, Path::new(T), Some(0o600), 0o022);
        assert_eq!(found(&b), vec![Finding::TempWiderThanTarget]);
        let ex = &b.findings[0].example;
        assert!(ex[0].starts_with("open(") && ex[1].starts_with("write(") && ex[2].starts_with("chmod("));
        assert!(
            ex[3].starts_with("rename(") && ex[3].ends_with("(mode 0644)"),
            "{ex:?}"
        );
    }

    #[test]
    fn the_writers_own_umask_is_the_one_a_create_is_judged_by() {
        let tmp = "/h/.hermes/.c.tmp";
        let events = vec![
            e(Call::Umask { mask: 0o077 }),
            e(open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0o666, 3)),
            e(write(tmp, 3, 10)),
            e(rename(tmp, T)),
        ];
        let mut b = RecipeBook::default();
        // torn's own umask (022) would make it 0644; the writer's makes it 0600.
        b.add(&events, Path::new(T), Some(0o600), 0o022);
        assert!(found(&b).is_empty(), "{:?}", b.findings);
        assert!(b.recipes[0].recipe.starts_with("umask(0077) → open({tmp}"));
    }

    fn under_lock(lock_op: Option<LockOp>, n: u64) -> Vec<Event> {
        let (lock, tmp) = ("/h/.hermes/config.yaml.lock", "/h/.hermes/config.yaml.tmp");
        let mut v = vec![st(open(lock, O_RDWR | O_CREAT, 0o600, 4), 30, Some(0o600), false)];
        if let Some(op) = lock_op {
            v.push(st(
                Call::Lock {
                    path: lock.into(),
                    kind: crate::trace::LockKind::Flock,
                    op,
                },
                30,
                None,
                false,
            ));
        }
        v.extend([
            st(
                open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o600, 3),
                31 + n,
                Some(0o600),
                true,
            ),
            e(write(tmp, 3, 1196)),
            e(close(tmp, 3)),
            st(rename(tmp, T), 31 + n, Some(0o600), false),
            st(close(lock, 4), 30, None, false),
        ]);
        v
    }

    #[test]
    fn a_fixed_temp_name_under_an_exclusive_lock_is_not_shared_and_its_lock_file_is_no_litter() {
        let t = Path::new(T);
        let mut locked = RecipeBook::default();
        let mut shared = RecipeBook::default();
        let mut unlocked = RecipeBook::default();
        for n in 0..2 {
            locked.add(&under_lock(Some(LockOp::Exclusive), n), t, Some(0o600), 0o022);
            shared.add(&under_lock(Some(LockOp::Shared), n), t, Some(0o600), 0o022);
            unlocked.add(&under_lock(None, n), t, Some(0o600), 0o022);
        }
        assert!(found(&locked).is_empty(), "{:?}", locked.findings);
        assert!(locked.is_lock_file(Path::new("/h/.hermes/config.yaml.lock")));
        assert!(!locked.is_lock_file(Path::new("/h/.hermes/config.yaml.tmp")));
        assert_eq!(
            found(&shared),
            vec![Finding::FixedTempName],
            "a shared lock excludes nothing"
        );
        assert_eq!(found(&unlocked), vec![Finding::FixedTempName]);
        assert!(!unlocked.is_lock_file(Path::new("/h/.hermes/config.yaml.lock")));
    }

    #[test]
    fn renaming_the_target_away_is_its_own_finding_and_no_atomic_class() {
        let tmp = "/h/.hermes/tmpz.tmp";
        let events = vec![
            st(
                open(tmp, O_RDWR | O_CREAT | O_EXCL, 0o600, 3),
                7,
                Some(0o600),
                true,
            ),
            e(write(tmp, 3, 1196)),
            e(close(tmp, 3)),
            st(rename(T, "/h/.hermes/config.yaml.old"), 6, Some(0o600), false),
            st(rename(tmp, T), 7, Some(0o600), false),
        ];
        let mut b = RecipeBook::default();
        b.add(&events, Path::new(T), Some(0o600), 0o022);
        assert_eq!(found(&b), vec![Finding::RemovesTarget]);
        assert_eq!(
            b.findings[0].example,
            vec!["rename(.hermes/config.yaml → .hermes/config.yaml.old) (mode 0600)"]
        );
        assert_eq!((b.atomic.atomic(), b.atomic.outside), (0, 1));
        assert!(b.holds_tied(Path::new("/h/.hermes/config.yaml.old")));
    }

    #[test]
    fn a_write_through_a_descriptor_renamed_over_the_target_writes_the_target_by_its_inode() {
        // The write's path is the temp's old name (as a table that missed the
        // rename would give it): its inode says it is the target now.
        let tmp = "/h/.hermes/tmpw.tmp";
        let events = vec![
            st(
                open(tmp, O_RDWR | O_CREAT | O_EXCL, 0o600, 3),
                8,
                Some(0o600),
                true,
            ),
            st(write(tmp, 3, 598), 8, None, false),
            st(rename(tmp, T), 8, Some(0o600), false),
            st(write(tmp, 3, 598), 8, None, false),
            e(close(tmp, 3)),
        ];
        let mut b = RecipeBook::default();
        b.add(&events, Path::new(T), Some(0o600), 0o022);
        assert_eq!(found(&b), vec![Finding::WritesTargetInPlace]);
        assert_eq!(
            b.findings[0].example.len(),
            3,
            "open, rename, the write: {:?}",
            b.findings[0].example
        );
        assert!(b.atomic.first_outside.is_some());
    }

    #[test]
    fn a_shared_writable_map_of_the_target_writes_it_in_place_and_proves_nothing() {
        let events = vec![
            st(open(T, O_RDWR, 0, 3), 1, Some(0o600), false),
            st(Call::Mmap { path: T.into() }, 1, None, false),
            e(close(T, 3)),
        ];
        let mut b = RecipeBook::default();
        b.add(&events, Path::new(T), Some(0o600), 0o022);
        assert_eq!(found(&b), vec![Finding::WritesTargetInPlace]);
        assert_eq!(b.atomic.outside, 1);
    }

    #[test]
    fn files_not_tied_to_the_target_raise_nothing() {
        // A debug log and a settings file under HOME, 0644, beside a durable write.
        let log = "/h/.hermes/.tool/_logs/1-debug-0.log";
        let mut events = vec![
            st(
                open(log, O_WRONLY | O_CREAT | O_TRUNC, 0o666, 5),
                40,
                Some(0o644),
                true,
            ),
            e(write(log, 5, 100)),
            e(close(log, 5)),
        ];
        events.extend(durable(Path::new(T), Path::new("/h/.hermes/.config.yaml.1.tmp")));
        let mut b = RecipeBook::default();
        b.add(&events, Path::new(T), Some(0o600), 0o022);
        assert!(found(&b).is_empty(), "{:?}", b.findings);
        assert_eq!(b.atomic.atomic(), 1);
        assert!(!b.holds_tied(Path::new("/h/.hermes/.tool")));
        // A file created in the target's directory is tied: wide, it is a finding.
        let side = "/h/.hermes/config.yaml.bak";
        let events = vec![
            st(
                open(side, O_WRONLY | O_CREAT | O_TRUNC, 0o666, 5),
                41,
                Some(0o644),
                true,
            ),
            e(write(side, 5, 1196)),
        ];
        b.add(&events, Path::new(T), Some(0o600), 0o022);
        assert_eq!(found(&b), vec![Finding::TempWiderThanTarget]);
    }

    #[test]
    fn a_rename_exchange_is_its_own_class_and_a_late_write_breaks_any() {
        let tmp = "/h/.hermes/tmpx.tmp";
        let mut events = vec![
            st(
                open(tmp, O_RDWR | O_CREAT | O_EXCL, 0o600, 3),
                9,
                Some(0o600),
                true,
            ),
            e(write(tmp, 3, 1196)),
            e(close(tmp, 3)),
            st(
                Call::Rename {
                    from: tmp.into(),
                    to: T.into(),
                    flags: RENAME_EXCHANGE,
                },
                9,
                Some(0o600),
                false,
            ),
        ];
        let mut b = RecipeBook::default();
        b.add(&events, Path::new(T), Some(0o600), 0o022);
        assert_eq!(b.atomic.classes[0].class, RecipeClass::ExchangeOver);
        // Another thread's write into the temp returned after the rename began.
        events[1].end_ns = 100;
        events[3].start_ns = 50;
        let mut late = RecipeBook::default();
        late.add(&events, Path::new(T), Some(0o600), 0o022);
        assert_eq!(late.atomic.atomic(), 0);
        assert!(
            late.atomic
                .first_outside
                .unwrap()
                .why
                .contains("returned after the rename")
        );
        // Calls that change nothing (a lock file closed after the last write) are no write.
        let mut idle = RecipeBook::default();
        idle.add(
            &[e(close("/h/.hermes/x.lock", 4))],
            Path::new(T),
            Some(0o600),
            0o022,
        );
        assert_eq!(idle.atomic.writes, 0);
    }
}
