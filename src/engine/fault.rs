//! Real faults injected mid-run, no mocks: the target's directory made
//! read-only, or its filesystem filled up.
//!
//! - `read-only-dir`: the directory gets mode 0555 (as root, whom modes do
//!   not stop, the immutable attribute via `chattr +i`). Creating a temp file
//!   or renaming fails (EACCES / EPERM); rewriting the existing file in place
//!   still works.
//! - `full-disk`: a filler file in the case directory takes every free block,
//!   and keeps taking any block that is freed (as the process that filled the
//!   disk would). Refused unless the filesystem is small (a size-limited
//!   tmpfs from `harness/fs.sh up tmpfs-small`), so torn never fills a real disk.
//!
//! Every fault is undone when its guard is dropped.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Largest filesystem torn agrees to fill.
pub const MAX_FULL_DISK_BYTES: u64 = 256 << 20;

pub use crate::case::Fault;

impl Fault {
    pub fn name(self) -> &'static str {
        match self {
            Fault::ReadOnlyDir => "read-only-dir",
            Fault::FullDisk => "full-disk",
        }
    }

    /// Checks, before the run, that the fault can be injected safely here.
    pub fn check(self, dir: &Path) -> Result<(), String> {
        match self {
            Fault::ReadOnlyDir => Ok(()),
            Fault::FullDisk => {
                let st =
                    nix::sys::statvfs::statvfs(dir).map_err(|e| format!("statvfs {}: {e}", dir.display()))?;
                let size = st.blocks() as u64 * st.fragment_size() as u64;
                if size > MAX_FULL_DISK_BYTES {
                    return Err(format!(
                        "fault full-disk fills the filesystem of the scratch dir, which is {} MiB here; torn only \
                         fills filesystems up to {} MiB. As root: harness/fs.sh up tmpfs-small, then pass --dir \
                         <its directory>/torn",
                        size >> 20,
                        MAX_FULL_DISK_BYTES >> 20
                    ));
                }
                Ok(())
            }
        }
    }
}

/// An injected fault; undone on drop.
pub struct Injected {
    undo: Box<dyn FnMut() + Send>,
}

impl Drop for Injected {
    fn drop(&mut self) {
        (self.undo)();
    }
}

fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// Makes `dir` read-only for the writer. The change is journaled first
/// ([`crate::guard::journal`]), so it is undone even if torn is killed.
pub fn read_only(dir: &Path) -> io::Result<Injected> {
    use crate::guard::journal::{self, Entry};
    let dir = dir.to_path_buf();
    if is_root() {
        let ticket = journal::record(Entry::Immutable { path: dir.clone() })?;
        if let Err(e) = journal::set_immutable(&dir, true) {
            journal::release(ticket);
            return Err(io::Error::other(format!(
                "{e} (root ignores directory modes, so torn uses the immutable attribute; \
                 this filesystem may not support it)"
            )));
        }
        return Ok(Injected {
            undo: Box::new(move || {
                let _ = journal::undo(ticket);
            }),
        });
    }
    let mode = fs::metadata(&dir)?.permissions().mode() & 0o7777;
    let ticket = journal::record(Entry::Mode {
        path: dir.clone(),
        mode,
    })?;
    if let Err(e) = fs::set_permissions(&dir, fs::Permissions::from_mode(0o555)) {
        journal::release(ticket);
        return Err(e);
    }
    Ok(Injected {
        undo: Box::new(move || {
            let _ = journal::undo(ticket);
        }),
    })
}

/// Fills the filesystem holding `filler`'s directory, and keeps it full
/// until the guard is dropped (then removes the filler).
pub fn fill(filler: &Path) -> io::Result<Injected> {
    let path: PathBuf = filler.to_path_buf();
    let mut f = File::create(&path)?;
    let block = vec![0u8; 4096];
    // Take everything there is.
    loop {
        match f.write(&block) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(nix::libc::ENOSPC) => break,
            Err(e) => return Err(e),
        }
    }
    // Then keep taking whatever is freed, as the process that filled the
    // disk would. Small writes catch single freed blocks.
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let hog_stop = stop.clone();
    let hog = std::thread::spawn(move || {
        let small = [0u8; 512];
        while !hog_stop.load(Ordering::Relaxed) {
            if f.write(&small).is_err() {
                std::thread::sleep(Duration::from_micros(20));
            }
        }
    });
    let mut hog = Some(hog);
    Ok(Injected {
        undo: Box::new(move || {
            stop.store(true, Ordering::Relaxed);
            if let Some(h) = hog.take() {
                let _ = h.join();
            }
            let _ = fs::remove_file(&path);
        }),
    })
}

/// Injects `fault` for a target in `target_dir`, with scratch space in `case_dir`.
pub fn inject(fault: Fault, target_dir: &Path, case_dir: &Path) -> io::Result<Injected> {
    match fault {
        Fault::ReadOnlyDir => read_only(target_dir),
        Fault::FullDisk => fill(&case_dir.join("filler")),
    }
}
