//! Recipes: the sequence of calls one write made, and what they reveal.
//!
//! A write's events are turned into a normalised recipe — the target by its
//! name, the directory as `{dir}`, any other file in the directory as
//! `{tmp}` — such as `open(config.yaml, O_WRONLY|O_CREAT|O_TRUNC) → write
//! 1196 B → close` or `open({tmp}, O_RDWR|O_CREAT|O_EXCL, 0600) → write
//! 1196 B → fsync({tmp}) → rename({tmp} → config.yaml) → fsync({dir})`.
//! A [`RecipeBook`] counts the distinct recipes of a run (bounded) and the
//! findings they show, each with the calls of its first example as evidence:
//! the target truncated or written in place, a fixed temp name, a temp file
//! created wider than the target, a rename from another directory; and the
//! facts that matter for durability only (no fsync before the rename, no
//! fsync of the directory after it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::event::{Call, Event};

/// Distinct recipes a book keeps; more are counted as "other".
pub const MAX_RECIPES: usize = 16;
/// Temp paths remembered to spot a fixed temp name.
const MAX_TEMPS: usize = 64;

/// What a write's recipe shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Finding {
    /// The target opened with O_TRUNC or truncated: readers can see it empty.
    TruncatesTarget,
    /// The target opened for writing and written without truncating:
    /// readers can see a mix of two versions.
    WritesTargetInPlace,
    /// The same temp path renamed onto the target in two writes: two
    /// writers share it.
    FixedTempName,
    /// A temp file created with permissions wider than the target's (after
    /// the umask): the token is readable by others until the rename, and
    /// after it if the mode is never narrowed.
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

/// One recipe and how many writes used it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipeCount {
    pub recipe: String,
    pub writes: u64,
}

/// A finding, how many writes showed it, and the calls of the first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingCount {
    pub finding: Finding,
    pub writes: u64,
    /// The first write that showed it, call by call with real paths.
    pub example: Vec<String>,
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
    #[serde(skip)]
    temps: BTreeMap<PathBuf, u64>,
}

impl RecipeBook {
    /// Adds one write's events (its calls in order) on `target`, whose mode
    /// before the write was `target_mode`; `umask` is the writer's.
    /// Returns the findings of this write.
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
        let r = analyse(events, target, target_mode, umask);
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
        if let Some(tmp) = r.renamed_from {
            let seen = self.temps.get(&tmp).copied().unwrap_or(0);
            if seen > 0 {
                found.push(Finding::FixedTempName);
            }
            if seen > 0 || self.temps.len() < MAX_TEMPS {
                *self.temps.entry(tmp).or_default() += 1;
            }
        }
        for &f in &found {
            match self.findings.iter_mut().find(|c| c.finding == f) {
                Some(c) => c.writes += 1,
                None => self.findings.push(FindingCount {
                    finding: f,
                    writes: 1,
                    example: events
                        .iter()
                        .map(|e| relative(&describe_call(e), target))
                        .collect(),
                }),
            }
        }
        self.findings.sort_by_key(|c| c.finding);
        found
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
        // Two writers renaming the same temp path: a shared fixed name.
        for (tmp, n) in other.temps {
            if self.temps.contains_key(&tmp)
                && !self.findings.iter().any(|f| f.finding == Finding::FixedTempName)
            {
                self.findings.push(FindingCount {
                    finding: Finding::FixedTempName,
                    writes: 1,
                    example: vec![format!("two writers renamed {} onto the target", tmp.display())],
                });
                self.findings.sort_by_key(|c| c.finding);
            }
            if self.temps.len() < MAX_TEMPS {
                *self.temps.entry(tmp).or_default() += n;
            }
        }
    }

    /// Writes that showed an anomaly-class finding.
    pub fn anomalies(&self) -> u64 {
        self.findings
            .iter()
            .filter(|f| f.finding.is_anomaly())
            .map(|f| f.writes)
            .sum()
    }
}

struct Analysis {
    recipe: String,
    findings: Vec<Finding>,
    renamed_from: Option<PathBuf>,
}

fn analyse(events: &[Event], target: &Path, target_mode: Option<u32>, umask: u32) -> Analysis {
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
    let mut steps: Vec<String> = Vec::new();
    let mut findings = Vec::new();
    let mut renamed_from = None;
    let mut synced: Vec<&Path> = Vec::new();
    let mut renamed_at = None;
    let mut dir_synced_after = false;
    for e in events.iter().filter(|e| e.ok()) {
        let step = match &e.call {
            Call::Open {
                path, flags, mode, ..
            } => {
                if path == target && flags & nix::libc::O_TRUNC != 0 {
                    findings.push(Finding::TruncatesTarget);
                }
                let creates = flags & nix::libc::O_CREAT != 0;
                if creates
                    && path != target
                    && let Some(tm) = target_mode
                    && (mode & !umask & 0o777) & !(tm & 0o777) != 0
                {
                    findings.push(Finding::TempWiderThanTarget);
                }
                if creates {
                    format!("open({}, {}, {:04o})", name(path), flags_str(*flags), mode)
                } else {
                    format!("open({}, {})", name(path), flags_str(*flags))
                }
            }
            Call::Write { path, len, .. } => {
                if path == target && !findings.contains(&Finding::TruncatesTarget) {
                    findings.push(Finding::WritesTargetInPlace);
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
                if path == target && *len == 0 {
                    findings.push(Finding::TruncatesTarget);
                }
                format!("truncate({}, {len})", name(path))
            }
            Call::Fsync { path, data_only } => {
                synced.push(path);
                if renamed_at.is_some() && path == dir {
                    dir_synced_after = true;
                }
                format!(
                    "{}({})",
                    if *data_only { "fdatasync" } else { "fsync" },
                    name(path)
                )
            }
            Call::Rename { from, to, .. } => {
                if to == target {
                    renamed_at = Some(steps.len());
                    if from.parent() != Some(dir) {
                        findings.push(Finding::RenameFromOtherDir);
                    }
                    if !synced.iter().any(|p| p == from) {
                        findings.push(Finding::NoFsyncBeforeRename);
                    }
                    renamed_from = Some(from.clone());
                }
                format!("rename({} → {})", name(from), name(to))
            }
            Call::Link { from, to } => format!("link({} → {})", name(from), name(to)),
            Call::Symlink { target: t, to } => format!("symlink({} → {})", t.display(), name(to)),
            Call::Unlink { path } => format!("unlink({})", name(path)),
            Call::Mkdir { path, .. } => format!("mkdir({})", name(path)),
            Call::Rmdir { path } => format!("rmdir({})", name(path)),
            Call::Chmod { path, mode } => format!("chmod({}, {:04o})", name(path), mode),
            Call::Chown { path, .. } => format!("chown({})", name(path)),
            Call::Close { path, .. } => format!("close({})", name(path)),
        };
        steps.push(step);
    }
    if renamed_at.is_some() && !dir_synced_after {
        findings.push(Finding::NoDirFsync);
    }
    findings.sort();
    findings.dedup();
    Analysis {
        recipe: steps.join(" → "),
        findings,
        renamed_from,
    }
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
    };
    c + &r
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::libc::{O_CREAT, O_EXCL, O_RDWR, O_TRUNC, O_WRONLY};

    fn e(call: Call) -> Event {
        Event {
            start_ns: 0,
            end_ns: 0,
            tid: 1,
            call,
            result: 0,
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
}
