//! A crash state in memory: the directory tree a set of persisted
//! micro-operations leaves behind, and a hash of it for deduplication.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::model::{Micro, Part};
use super::ops::{Ino, Kind, Logical, Op, rename_entry};

/// One inode's on-disk state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub mode: u32,
    /// The blocks written (may extend past `size`, or stop short of it:
    /// the rest then reads as zeros). Shared until written, so copying a
    /// state costs a reference count per inode, not its bytes.
    pub data: Arc<Vec<u8>>,
    pub size: u64,
}

/// Directory entries and inodes after a crash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub names: BTreeMap<PathBuf, Ino>,
    pub nodes: Vec<Node>,
}

impl Image {
    /// The state before the trace.
    pub fn initial(l: &Logical) -> Self {
        Self {
            names: l.names.clone(),
            nodes: l
                .inodes
                .iter()
                .map(|i| Node {
                    mode: i.mode,
                    data: Arc::new(i.data.clone()),
                    size: i.data.len() as u64,
                })
                .collect(),
        }
    }

    /// This state with the pieces `micros[i]` for which `chosen[i]` applied on top.
    pub fn with(&self, l: &Logical, micros: &[Micro], chosen: &[bool]) -> Self {
        let mut img = self.clone();
        for (m, _) in micros.iter().zip(chosen).filter(|(_, c)| **c) {
            img.apply(l, m);
        }
        img
    }

    /// Applies one persisted piece.
    pub fn apply(&mut self, l: &Logical, m: &Micro) {
        let (_, op) = &l.ops[m.op];
        match (op, m.part) {
            (Op::Write { ino, data, .. }, Part::Block { offset, start, len }) => {
                let bytes = Arc::make_mut(&mut self.nodes[*ino].data);
                let (at, end) = (offset as usize, offset as usize + len);
                if bytes.len() < end {
                    bytes.resize(end, 0);
                }
                bytes[at..end].copy_from_slice(&data[start..start + len]);
            }
            (Op::Write { ino, .. }, Part::Size(size)) => self.nodes[*ino].size = size,
            (Op::Truncate { ino, size, .. }, _) => {
                let node = &mut self.nodes[*ino];
                node.size = *size;
                if node.data.len() > *size as usize {
                    Arc::make_mut(&mut node.data).truncate(*size as usize);
                }
            }
            (Op::Create { path, ino } | Op::Mkdir { path, ino } | Op::Symlink { path, ino }, _) => {
                self.names.insert(path.clone(), *ino);
            }
            (
                Op::Rename {
                    from,
                    to,
                    ino,
                    exchange,
                    ..
                },
                _,
            ) => rename_entry(&mut self.names, from, to, *ino, *exchange),
            (Op::Link { to, ino, .. }, _) => {
                self.names.insert(to.clone(), *ino);
            }
            (Op::Unlink { path, ino } | Op::Rmdir { path, ino }, _) if self.names.get(path) == Some(ino) => {
                self.names.remove(path);
            }
            (Op::Chmod { ino, mode, .. }, _) => self.nodes[*ino].mode = *mode,
            _ => {}
        }
    }

    /// What reading inode `ino` returns: its blocks up to its size, zeros
    /// where no block reached disk.
    pub fn contents(&self, ino: Ino) -> Cow<'_, [u8]> {
        let node = &self.nodes[ino];
        let size = node.size as usize;
        if node.data.len() >= size {
            Cow::Borrowed(&node.data[..size])
        } else {
            let mut v = node.data.to_vec();
            v.resize(size, 0);
            Cow::Owned(v)
        }
    }

    /// Entries below `root`, with paths relative to it, parents first.
    pub fn below<'a>(&'a self, root: &'a Path) -> impl Iterator<Item = (&'a Path, Ino)> + 'a {
        self.names
            .iter()
            .filter_map(move |(p, &ino)| match p.strip_prefix(root) {
                Ok(rel) if !rel.as_os_str().is_empty() => Some((rel, ino)),
                _ => None,
            })
    }

    /// A hash of what a program would see below the target's directory:
    /// names, kinds, modes and contents (not inode numbers).
    pub fn hash(&self, l: &Logical) -> u64 {
        let mut h = DefaultHasher::new();
        for (rel, ino) in self.below(&l.root) {
            rel.hash(&mut h);
            l.inodes[ino].kind.hash(&mut h);
            self.nodes[ino].mode.hash(&mut h);
            if l.inodes[ino].kind == Kind::File {
                self.contents(ino).hash(&mut h);
            }
        }
        h.finish()
    }
}
