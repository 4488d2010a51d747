//! The persistence model: which of a trace's operations may be on disk after
//! a crash, all in one place.
//!
//! A trace's logical operations ([`super::ops`]) are cut into the smallest
//! pieces that can reach disk independently, the **micro-operations**
//! ([`Micro`]), as ALICE does (Pillai et al., "All File Systems Are Not
//! Created Equal", OSDI 2014, §3): a write becomes one piece per 4096-byte
//! block it touches plus, when it makes the file longer, a separate *size*
//! piece; every other operation is one piece. The model then gives each piece
//! - `deps`: pieces that must be on disk for it to be (ordering and
//!   atomicity rules); they always come earlier in the trace;
//! - `synced_at`: the first completed barrier (`fsync`) that forces it to
//!   disk, if any.
//!
//! A **crash state** at crash point *k* (power lost after traced event *k*)
//! is then any set of the pieces from events ≤ *k* that holds every piece
//! synced by a barrier ≤ *k* and, with each piece, all its `deps`; the disk
//! holds those pieces applied in trace order over the initial (durable)
//! state. A piece not in the set was lost. Applying in trace order is what
//! lets two overwrites of one block end with the later one, while leaving a
//! piece out is what reorders it after the crash.
//!
//! The rules of each [`Model`] are listed on its variants.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ops::{Ino, Logical, Op};

/// The block size data reaches disk in: a write may persist in part, one
/// block at a time (page-cache writeback works in pages; 4096 bytes on the
/// usual x86-64 and arm64 configurations).
pub const BLOCK: u64 = 4096;

/// Which file system's promises crash states are built from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Model {
    /// The POSIX minimum: what a program may rely on on any file system.
    ///
    /// - Data not made durable may be lost, or persist in part, one block at
    ///   a time, in any order; a file's new size may persist without the data
    ///   it covers, which then reads as zeros (POSIX promises nothing about
    ///   unsynced data; ALICE's weakest model allows the same).
    /// - Directory operations (create, rename, link, unlink, mkdir, rmdir,
    ///   symlink) not made durable may be lost, and in any order with respect
    ///   to each other and to data.
    /// - `fsync(file)` is a barrier for that file's data, size and attributes
    ///   (`fdatasync`: data and size): POSIX `fsync`, "all data for the open
    ///   file descriptor ... is to be transferred to the storage device". It
    ///   does not make the file's name durable: fsync(2) on Linux, "Calling
    ///   fsync() does not necessarily ensure that the entry in the directory
    ///   containing the file has also reached disk. For that an explicit
    ///   fsync() on a file descriptor for the directory is also needed."
    /// - `fsync(dir)` is a barrier for the entries in that directory (a
    ///   rename is made durable by an fsync of either directory it touches).
    Strict,
    /// ext4 with its defaults, `data=ordered`, `auto_da_alloc` and (for a
    /// 4096-byte block size, since Linux 5.6) `dioread_nolock`, without
    /// `fast_commit`.
    ///
    /// - Metadata (every directory operation, truncate, chmod, chown) goes
    ///   through the journal, which commits in order: a crash keeps a prefix
    ///   of it (ALICE, Table 1: ext4-ordered persists directory operations
    ///   atomically and in order).
    /// - `data=ordered`: "All data are forced directly out to the main file
    ///   system prior to its metadata being committed to the journal"
    ///   (Documentation/admin-guide/ext4.rst) — but with `dioread_nolock`
    ///   writeback allocates *unwritten* extents and journals them, with the
    ///   new size (`mpage_map_and_submit_extent` updates `i_disksize` when it
    ///   submits the I/O), while the data and the extent's conversion to
    ///   written come at I/O completion, possibly in a later transaction.
    ///   So ordering keeps stale blocks from showing, not zeros: a size
    ///   a write adds may persist without its data, which reads as zeros.
    ///   Real power cuts of Linux 6.1 show it (`harness/powercut.sh`: a
    ///   1196-byte target of zeros after temp file + rename, on ext4 with its
    ///   defaults; `reports/reference/powercut/`). The size is committed at
    ///   writeback, after the write, so it implies every journal entry before
    ///   the write; and blocks newly allocated by a write are reachable only
    ///   once those entries are (a write after a lost truncate cannot land in
    ///   the old file). Overwrites of blocks already allocated are not
    ///   ordered at all.
    /// - `auto_da_alloc`: "ext4 will detect the replace-via-rename and
    ///   replace-via-truncate patterns and force that any delayed allocation
    ///   blocks are allocated such that at the next journal commit ... the
    ///   data blocks of the new file are forced to disk before the rename()
    ///   operation is committed" (ext4.rst). `ext4_alloc_da_blocks` only
    ///   starts that writeback (`filemap_flush`): the blocks are allocated,
    ///   and the size committed, before the rename, but with
    ///   `dioread_nolock` their data may still be unwritten. So a rename over
    ///   an existing file carries the renamed file's sizes (and truncates)
    ///   with it, not its data: never an empty target, possibly a zero-filled
    ///   one. After a truncate to zero of a non-empty file, the first close
    ///   does the same (ext4_release_file), ahead of every later journal
    ///   entry. A rename onto a name that did not exist gets no such help:
    ///   the delalloc zero-length file.
    /// - `fsync(file)` and `fdatasync` make the file's data durable and
    ///   commit the journal, so every metadata operation before them is
    ///   durable too (without `fast_commit`, ext4 commits the whole running
    ///   transaction); `fsync(dir)` commits the journal.
    Ext4Ordered,
}

impl Model {
    pub const ALL: [Model; 2] = [Model::Strict, Model::Ext4Ordered];

    pub fn name(self) -> &'static str {
        match self {
            Model::Strict => "strict",
            Model::Ext4Ordered => "ext4-ordered",
        }
    }

    /// Cuts `l`'s operations into micro-operations with this model's
    /// dependencies and barriers.
    pub fn plan(self, l: &Logical) -> Vec<Micro> {
        let mut p = Planner {
            model: self,
            micros: Vec::with_capacity(l.ops.len() * 2),
            journal: None,
            inodes: HashMap::new(),
            pending_inode: HashMap::new(),
            pending_dir: HashMap::new(),
            pending_journal: Vec::new(),
        };
        for (i, (event, op)) in l.ops.iter().enumerate() {
            p.add(i, *event, op);
        }
        close_over_deps(&mut p.micros);
        p.micros
    }
}

/// Which part of a logical operation a micro-operation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The whole operation.
    Whole,
    /// Payload bytes `start..start + len` of a write, landing at file offset
    /// `offset`: at most one block.
    Block { offset: u64, start: usize, len: usize },
    /// The size an extending write gave the file.
    Size(u64),
    /// ext4 `auto_da_alloc` at a close: the file's delayed blocks allocated
    /// in the running transaction. No visible effect of its own.
    Flush,
}

/// The smallest piece of a trace that reaches disk on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Micro {
    /// Index of its logical operation in [`Logical::ops`].
    pub op: usize,
    /// Index of the traced event it came from.
    pub event: usize,
    pub part: Part,
    /// Micro-operations (earlier ones) that must be on disk for this one to be.
    pub deps: Vec<u32>,
    /// Event index of the first barrier that forces this piece to disk.
    pub synced_at: Option<usize>,
}

/// Per inode, what the ext4 rules need to remember.
#[derive(Default)]
struct InodeTrack {
    /// Block, size and truncate pieces so far.
    data: Vec<u32>,
    /// A truncate to zero of a non-empty file awaits its close (ext4).
    da_alloc_close: bool,
}

struct Planner {
    model: Model,
    micros: Vec<Micro>,
    /// The last journal entry (ext4).
    journal: Option<u32>,
    inodes: HashMap<Ino, InodeTrack>,
    /// Pieces a barrier on the inode would sync: (piece, is-attribute).
    pending_inode: HashMap<Ino, Vec<(u32, bool)>>,
    /// Directory operations not yet synced, by directory (strict).
    pending_dir: HashMap<PathBuf, Vec<u32>>,
    /// Journal entries not yet committed (ext4).
    pending_journal: Vec<u32>,
}

impl Planner {
    fn push(&mut self, op: usize, event: usize, part: Part, deps: Vec<u32>) -> u32 {
        self.micros.push(Micro {
            op,
            event,
            part,
            deps,
            synced_at: None,
        });
        (self.micros.len() - 1) as u32
    }

    /// A journal entry (ext4): after the previous one, and with `extra`.
    fn journaled(&mut self, op: usize, event: usize, part: Part, mut extra: Vec<u32>) -> u32 {
        extra.extend(self.journal);
        let m = self.push(op, event, part, extra);
        self.journal = Some(m);
        self.pending_journal.push(m);
        m
    }

    fn track(&mut self, ino: Ino) -> &mut InodeTrack {
        self.inodes.entry(ino).or_default()
    }

    fn add(&mut self, i: usize, event: usize, op: &Op) {
        let ext4 = self.model == Model::Ext4Ordered;
        match op {
            Op::Write {
                ino,
                offset,
                len,
                size_before,
                ..
            } => {
                let (ino, end) = (*ino, offset + *len as u64);
                // Blocks at or past the first block the file did not have are
                // new allocations (ext4: reachable only after the journal so far).
                let first_new = size_before.div_ceil(BLOCK) * BLOCK;
                let mut at = *offset;
                while at < end {
                    let stop = ((at / BLOCK + 1) * BLOCK).min(end);
                    let deps = match self.journal {
                        Some(j) if ext4 && at >= first_new => vec![j],
                        _ => vec![],
                    };
                    let part = Part::Block {
                        offset: at,
                        start: (at - offset) as usize,
                        len: (stop - at) as usize,
                    };
                    let m = self.push(i, event, part, deps);
                    self.track(ino).data.push(m);
                    self.pending_inode.entry(ino).or_default().push((m, false));
                    at = stop;
                }
                if end > *size_before {
                    // ext4: committed at writeback with the (unwritten)
                    // allocation, after the journal so far; not with the data.
                    let deps = match self.journal {
                        Some(j) if ext4 => vec![j],
                        _ => vec![],
                    };
                    let m = self.push(i, event, Part::Size(end), deps);
                    self.track(ino).data.push(m);
                    self.pending_inode.entry(ino).or_default().push((m, false));
                }
            }
            Op::Truncate {
                ino,
                size,
                size_before,
                ..
            } => {
                let m = if ext4 {
                    self.journaled(i, event, Part::Whole, vec![])
                } else {
                    self.push(i, event, Part::Whole, vec![])
                };
                self.pending_inode.entry(*ino).or_default().push((m, false));
                let t = self.track(*ino);
                t.data.push(m);
                if *size == 0 && *size_before > 0 {
                    t.da_alloc_close = true;
                }
            }
            Op::Chmod { ino, .. } | Op::Chown { ino, .. } => {
                let m = if ext4 {
                    self.journaled(i, event, Part::Whole, vec![])
                } else {
                    self.push(i, event, Part::Whole, vec![])
                };
                self.pending_inode.entry(*ino).or_default().push((m, true));
            }
            Op::Rename { ino, replaced, .. } if ext4 => {
                // auto_da_alloc, replace-via-rename: the allocation and size
                // go first, the data need not (dioread_nolock).
                let extra = match replaced {
                    Some(_) => self.allocation(*ino),
                    None => vec![],
                };
                self.journaled(i, event, Part::Whole, extra);
            }
            op if op.is_namespace() => {
                if ext4 {
                    self.journaled(i, event, Part::Whole, vec![]);
                } else {
                    let m = self.push(i, event, Part::Whole, vec![]);
                    for entry in op.entries() {
                        let dir = entry.parent().unwrap_or(Path::new("/")).to_path_buf();
                        self.pending_dir.entry(dir).or_default().push(m);
                    }
                }
            }
            Op::Close { ino, .. } if ext4 => {
                // auto_da_alloc, replace-via-truncate: the first close after a
                // truncate to zero allocates the data written since.
                let t = self.track(*ino);
                if std::mem::take(&mut t.da_alloc_close) {
                    let allocation = self.allocation(*ino);
                    self.journaled(i, event, Part::Flush, allocation);
                }
            }
            Op::FsyncFile { ino, data_only, .. } => {
                let pending = self.pending_inode.remove(ino).unwrap_or_default();
                let (synced, kept): (Vec<_>, Vec<_>) =
                    pending.into_iter().partition(|&(_, attr)| !attr || !*data_only);
                if !kept.is_empty() {
                    self.pending_inode.insert(*ino, kept);
                }
                let synced: Vec<u32> = synced.into_iter().map(|(m, _)| m).collect();
                self.sync(&synced, event);
                if ext4 {
                    self.commit(event);
                }
            }
            Op::FsyncDir { path } => {
                if ext4 {
                    self.commit(event);
                } else {
                    let synced = self.pending_dir.remove(path).unwrap_or_default();
                    self.sync(&synced, event);
                }
            }
            _ => {}
        }
    }

    /// The pieces of `ino` that writeback's allocation commits (ext4): its
    /// sizes and truncates, not its blocks' data.
    fn allocation(&self, ino: Ino) -> Vec<u32> {
        self.inodes.get(&ino).map_or_else(Vec::new, |t| {
            t.data
                .iter()
                .copied()
                .filter(|&m| !matches!(self.micros[m as usize].part, Part::Block { .. }))
                .collect()
        })
    }

    /// A journal commit at `event` (ext4): every entry so far is durable.
    fn commit(&mut self, event: usize) {
        let synced = std::mem::take(&mut self.pending_journal);
        self.sync(&synced, event);
    }

    fn sync(&mut self, pieces: &[u32], event: usize) {
        for &m in pieces {
            let s = &mut self.micros[m as usize].synced_at;
            *s = Some(s.map_or(event, |e| e.min(event)));
        }
    }
}

/// Makes the synced sets closed under `deps`: a piece forced to disk by a
/// barrier forces what it depends on by the same barrier.
fn close_over_deps(micros: &mut [Micro]) {
    for m in (0..micros.len()).rev() {
        let Some(at) = micros[m].synced_at else { continue };
        for d in micros[m].deps.clone() {
            let s = &mut micros[d as usize].synced_at;
            *s = Some(s.map_or(at, |e| e.min(at)));
        }
    }
}
