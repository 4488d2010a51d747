//! The board: everything readers share with the run, in one block of memory
//! that is either on the heap (reader threads) or in a file mapped by every
//! reader process (`--reader-procs`: real clients are separate processes, and
//! POSIX locks are per process).

use std::fs::File;
use std::io;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64};

use crossbeam_utils::CachePadded;

use super::shared::{Live, Shared};

/// Most readers one case can have.
pub use crate::limits::MAX_READERS;

/// The shared block. All-zero bytes are a valid board (every field is atomic).
#[repr(C)]
pub struct Board {
    pub shared: Shared,
    /// Reader processes that have mapped the board and are waiting to start.
    pub ready: AtomicU64,
    /// Set once to release the reader processes.
    pub go: AtomicBool,
    pub live: [CachePadded<Live>; MAX_READERS],
}

/// Owns a board's memory.
pub enum BoardMem {
    Heap(Box<Board>),
    Mapped { map: memmap2::MmapMut, path: PathBuf },
}

impl BoardMem {
    /// A zeroed board on the heap.
    pub fn heap() -> Self {
        // SAFETY: every field of Board is an atomic integer or bool (or an
        // array of them), for which all-zero bytes are a valid value.
        BoardMem::Heap(unsafe { Box::<Board>::new_zeroed().assume_init() })
    }

    /// A zeroed board in a new file at `path`, mapped shared.
    pub fn create(path: &Path) -> io::Result<Self> {
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)?;
        file.set_len(std::mem::size_of::<Board>() as u64)?;
        Self::map(file, path)
    }

    /// Maps an existing board file (in a reader process).
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = File::options().read(true).write(true).open(path)?;
        if file.metadata()?.len() != std::mem::size_of::<Board>() as u64 {
            return Err(io::Error::other(format!(
                "{} is not a board of this torn build",
                path.display()
            )));
        }
        Self::map(file, path)
    }

    fn map(file: File, path: &Path) -> io::Result<Self> {
        // SAFETY: the file is torn's own, in its scratch directory, sized to
        // one Board; it is only ever accessed through atomics, by this run's
        // processes, so concurrent modification is well-defined.
        let map = unsafe { memmap2::MmapMut::map_mut(&file)? };
        Ok(BoardMem::Mapped {
            map,
            path: path.to_path_buf(),
        })
    }

    /// The file backing a mapped board.
    pub fn path(&self) -> Option<&Path> {
        match self {
            BoardMem::Heap(_) => None,
            BoardMem::Mapped { path, .. } => Some(path),
        }
    }
}

impl Deref for BoardMem {
    type Target = Board;

    fn deref(&self) -> &Board {
        match self {
            BoardMem::Heap(b) => b,
            // SAFETY: the mapping is page-aligned (more than Board's 128-byte
            // alignment), exactly size_of::<Board>() long, zero-initialised by
            // set_len, and lives as long as `self`.
            BoardMem::Mapped { map, .. } => unsafe { &*(map.as_ptr() as *const Board) },
        }
    }
}

/// The tracer reports write windows onto the board's shared counters.
impl crate::trace::window::WindowSink for BoardMem {
    fn window_open(&self) {
        self.shared.window_open();
    }
    fn window_close(&self) {
        self.shared.window_close();
    }
}
